//! Label and field selectors of LIST requests.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    /// `k=v`, `k==v`, `k in (a,b)`.
    In(String, Vec<String>),
    /// `k!=v`, `k notin (a,b)`: also true when the label is absent.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    Absent(String),
}

/// A parsed `labelSelector` and `fieldSelector`; an object matches when it
/// meets every requirement of both.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    labels: Vec<Label>,
    /// (dotted field path, value, equal?)
    fields: Vec<(String, String, bool)>,
}

impl Selector {
    /// Reads the selectors; an error says what could not be read.
    pub(crate) fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, String> {
        let labels = split_terms(labels.unwrap_or_default())
            .into_iter()
            .map(|t| parse_label(&t))
            .collect::<Result<_, _>>()?;
        let fields = split_terms(fields.unwrap_or_default())
            .into_iter()
            .map(|t| {
                let (path, value, equal) = if let Some((p, v)) = t.split_once("!=") {
                    (p, v, false)
                } else if let Some((p, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                    (p, v, true)
                } else {
                    return Err(format!("invalid field selector term {t:?}"));
                };
                Ok((path.trim().to_owned(), value.trim().to_owned(), equal))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { labels, fields })
    }

    /// Whether `obj` meets the selector.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let labels_match = self.labels.iter().all(|req| match req {
            Label::In(k, vs) => label(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Label::NotIn(k, vs) => label(k).is_none_or(|v| vs.iter().all(|x| x != v)),
            Label::Exists(k) => label(k).is_some(),
            Label::Absent(k) => label(k).is_none(),
        });
        labels_match
            && self.fields.iter().all(|(path, want, equal)| {
                let found = path.split('.').try_fold(obj, |v, seg| v.get(seg));
                let found = match found {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (found == *want) == *equal
            })
    }
}

/// Terms separated by commas outside parentheses (`a in (x,y),b`).
fn split_terms(s: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    terms.push(current);
    terms
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_label(term: &str) -> Result<Label, String> {
    let set = |key: &str, values: &str| -> Result<(String, Vec<String>), String> {
        let inner = values
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(|| format!("invalid label selector term {term:?}: expected (values)"))?;
        let values = inner.split(',').map(|v| v.trim().to_owned()).collect();
        Ok((key.trim().to_owned(), values))
    };
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Label::Absent(key.trim().to_owned()));
    }
    if let Some((key, values)) = term.split_once(" notin ") {
        let (k, vs) = set(key, values)?;
        return Ok(Label::NotIn(k, vs));
    }
    if let Some((key, values)) = term.split_once(" in ") {
        let (k, vs) = set(key, values)?;
        return Ok(Label::In(k, vs));
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Label::NotIn(k.trim().to_owned(), vec![v.trim().to_owned()]));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Label::In(k.trim().to_owned(), vec![v.trim().to_owned()]));
    }
    if term.contains(['<', '>', ' ', '(']) {
        return Err(format!("unsupported label selector term {term:?}"));
    }
    Ok(Label::Exists(term.to_owned()))
}

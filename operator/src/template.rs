//! `{{variable}}` templates in task arguments, configuration, dataset URIs and
//! partition paths: checking them against the variables a field allows, and
//! rendering them. Whitespace inside the braces is allowed (`{{ batch.id }}`).
//!
//! Pure.

use std::collections::BTreeMap;

/// A problem with a template, with the text a person needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a closing `}}`.
    #[error("{field}: \"{{{{\" at byte {at} is never closed with \"}}}}\"")]
    Unclosed {
        /// Where the template is.
        field: String,
        /// Byte offset of the opening braces.
        at: usize,
    },
    /// A variable the field does not offer.
    #[error("{field}: unknown template variable {{{{{name}}}}}; known: {known}")]
    Unknown {
        /// Where the template is.
        field: String,
        /// The variable's name.
        name: String,
        /// The variables that field offers, comma separated.
        known: String,
    },
}

/// One piece of a parsed template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, usize> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(offset + open)?;
        out.push(Piece::Var(after[..close].trim()));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks that `text` only uses variables from `known`. `field` names the
/// place in the spec for the error message (e.g. `spec.task.container.args[1]`).
pub fn check(field: &str, text: &str, known: &[&str]) -> Result<(), TemplateError> {
    let parsed = pieces(text).map_err(|at| TemplateError::Unclosed {
        field: field.to_owned(),
        at,
    })?;
    for piece in parsed {
        if let Piece::Var(name) = piece
            && !known.contains(&name)
        {
            return Err(TemplateError::Unknown {
                field: field.to_owned(),
                name: name.to_owned(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// The values of the dataset variables (`DATASET_TEMPLATE_VARIABLES`) for
/// batch `batch_id` of job `job` over `window` (empty when not known): what
/// a ValidationSuite's dataset URI and an EtlJob's outputs render with.
pub fn dataset_values(
    batch_id: &str,
    window: (Option<jiff::Timestamp>, Option<jiff::Timestamp>),
    job: &str,
) -> BTreeMap<&'static str, String> {
    let at = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    BTreeMap::from([
        ("batch.id", batch_id.to_owned()),
        ("window.start", at(window.0)),
        ("window.end", at(window.1)),
        ("job.name", job.to_owned()),
    ])
}

/// Renders `text`, replacing every variable with its value. Call [`check`] first:
/// a variable missing from `values` is an error here too.
pub fn render(field: &str, text: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let parsed = pieces(text).map_err(|at| TemplateError::Unclosed {
        field: field.to_owned(),
        at,
    })?;
    let mut out = String::with_capacity(text.len());
    for piece in parsed {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match values.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(TemplateError::Unknown {
                        field: field.to_owned(),
                        name: name.to_owned(),
                        known: values.keys().copied().collect::<Vec<_>>().join(", "),
                    });
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["batch.id", "job.name"];

    #[test]
    fn check_table() {
        let cases = [
            ("plain text", Ok(())),
            ("--batch={{batch.id}}", Ok(())),
            ("{{ batch.id }}/{{job.name}}", Ok(())),
            (
                "{{batch.Id}}",
                Err("unknown template variable {{batch.Id}}; known: batch.id, job.name"),
            ),
            ("a {{batch.id", Err("\"{{\" at byte 2 is never closed")),
            ("{{}}", Err("unknown template variable {{}}")),
            ("}} alone is text", Ok(())),
        ];
        for (text, want) in cases {
            let got = check("f", text, KNOWN).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn render_replaces_every_variable() {
        let values = BTreeMap::from([
            ("batch.id", "2026-11-25T13".to_owned()),
            ("job.name", "orders".to_owned()),
        ]);
        let got = render("f", "s3://lake/{{job.name}}/batch={{ batch.id }}/", &values).expect("renders");
        assert_eq!(got, "s3://lake/orders/batch=2026-11-25T13/");
        assert!(render("f", "{{window.start}}", &values).is_err());
    }
}

//! Specs mutated at random, guided by the CRD's own OpenAPI schema (the
//! schema the API server validates against, read back from it): the spec
//! fuzz test (e2e/tests/spec_fuzz.rs) starts from a valid sample and applies
//! a few [`Mutation`]s, each one aimed at a field the schema describes — a
//! field removed, replaced by a value generated from its schema, given the
//! wrong type, pushed past its bounds, an optional field added, or a field
//! the schema does not know. Seeded by [`Draws`], so a failure replays.

use ade_moto::faults::Draws;
use serde_json::{Map, Value, json};

/// One step from a value to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// What was done to a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mutation {
    /// A field removed.
    Remove,
    /// A field replaced by a value generated from its schema.
    Regenerate,
    /// A field given a value of another type.
    WrongType,
    /// A number or list past its bounds, a string empty, huge or odd.
    Edge,
    /// A string replaced by one that means something elsewhere: a
    /// schedule, a duration, a time zone, a template, a URI (the checks
    /// only the operator can make).
    Retext,
    /// An optional field that was absent, generated from its schema.
    AddOptional,
    /// A field the schema does not know.
    Unknown,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: &[Self] = &[
        Self::Remove,
        Self::Regenerate,
        Self::WrongType,
        Self::Edge,
        Self::Retext,
        Self::AddOptional,
        Self::Unknown,
    ];
}

/// Strings a generated or edge value is drawn from: templates, durations,
/// schedules, URIs, quantities, and things that are none of them.
const STRINGS: &[&str] = &[
    "",
    "a",
    "1h",
    "0s",
    "-5m",
    "90d",
    "* * * * *",
    "61 25 * * *",
    "@hourly",
    "s3://bucket/key/",
    "s3://",
    "{{batch.id}}",
    "{{nope}}",
    "500m",
    "1Gi",
    "Europe/Berlin",
    "Mars/Olympus",
    "2026-11-03T00:00:00Z",
    "not a date",
    "ünïcødé ✓",
    "x\ny",
];

/// A spec mutated `count` times: the result and what was done where. Each
/// mutation is drawn first, then a field it applies to.
pub fn mutate(spec: &Value, schema: &Value, count: usize, d: &mut Draws) -> (Value, Vec<(Mutation, String)>) {
    let mut spec = spec.clone();
    let mut done = Vec::new();
    for _ in 0..count {
        let mutation = *pick(d, Mutation::ALL).unwrap_or(&Mutation::Regenerate);
        let mut places = Vec::new();
        walk(&spec, schema, &mut Vec::new(), &mut places);
        let fits: Vec<(Vec<Seg>, &Value)> = places
            .into_iter()
            .filter(|(path, value, _)| match mutation {
                Mutation::Retext => value.is_string(),
                Mutation::Edge => value.is_number() || value.is_string() || value.is_array(),
                Mutation::AddOptional | Mutation::Unknown => value.is_object(),
                Mutation::Remove | Mutation::Regenerate | Mutation::WrongType => !path.is_empty(),
            })
            .map(|(path, _, sub)| (path, sub))
            .collect();
        let Some((path, sub)) = pick(d, &fits).cloned() else {
            continue;
        };
        if apply(&mut spec, &path, sub, mutation, d) {
            done.push((mutation, dotted(&path)));
        }
    }
    (spec, done)
}

/// Every present value, where it is, and its schema.
fn walk<'v, 's>(
    value: &'v Value,
    schema: &'s Value,
    path: &mut Vec<Seg>,
    out: &mut Vec<(Vec<Seg>, &'v Value, &'s Value)>,
) {
    out.push((path.clone(), value, schema));
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                let sub = &schema["properties"][k];
                let sub = if sub.is_null() {
                    &schema["additionalProperties"]
                } else {
                    sub
                };
                if sub.is_object() {
                    path.push(Seg::Key(k.clone()));
                    walk(v, sub, path, out);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(v, &schema["items"], path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn apply(spec: &mut Value, path: &[Seg], schema: &Value, mutation: Mutation, d: &mut Draws) -> bool {
    let Some(target) = at_mut(spec, path) else { return false };
    match mutation {
        Mutation::Remove => match path.split_last() {
            Some((Seg::Key(k), parent)) => at_mut(spec, parent)
                .and_then(Value::as_object_mut)
                .is_some_and(|o| o.remove(k).is_some()),
            Some((Seg::Index(i), parent)) => at_mut(spec, parent)
                .and_then(Value::as_array_mut)
                .is_some_and(|a| a.len() > *i && !a.remove(*i).is_null()),
            None => false,
        },
        Mutation::Regenerate => {
            *target = generate(schema, d, 0);
            true
        }
        Mutation::WrongType => {
            *target = match target {
                Value::String(_) => json!(42),
                Value::Number(_) | Value::Bool(_) => json!("forty-two"),
                Value::Array(_) => json!({"a": 1}),
                Value::Object(_) => json!(["x"]),
                Value::Null => json!(true),
            };
            true
        }
        Mutation::Edge => {
            *target = edge(target, schema, d);
            true
        }
        Mutation::Retext => {
            *target = json!(*pick(d, STRINGS).unwrap_or(&""));
            true
        }
        Mutation::AddOptional => {
            let Some(members) = target.as_object_mut() else {
                return false;
            };
            let absent: Vec<(&String, &Value)> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !members.contains_key(*k))
                .collect();
            let Some((k, sub)) = pick(d, &absent).cloned() else {
                return false;
            };
            members.insert(k.clone(), generate(sub, d, 0));
            true
        }
        Mutation::Unknown => target
            .as_object_mut()
            .is_some_and(|o| o.insert("zzUnknownField".into(), json!("x")).is_none()),
    }
}

/// A value at the edge of what `schema` allows (or just past it).
fn edge(current: &Value, schema: &Value, d: &mut Draws) -> Value {
    match current {
        Value::Number(_) => {
            let min = schema["minimum"].as_f64();
            let max = schema["maximum"].as_f64();
            let choices = [
                min.map(|m| m - 1.0),
                max.map(|m| m + 1.0),
                min,
                max,
                Some(-1.0),
                Some(0.0),
                Some(1e12),
            ];
            let n = pick(d, &choices).copied().flatten().unwrap_or(-1.0);
            if schema["type"] == "integer" {
                json!(n as i64)
            } else {
                json!(n)
            }
        }
        Value::String(_) => {
            let long = "x".repeat(usize::try_from(d.between(64, 2048)).unwrap_or(300));
            let choices = [json!(""), json!(long), json!(*pick(d, STRINGS).unwrap_or(&""))];
            pick(d, &choices).cloned().unwrap_or(Value::Null)
        }
        Value::Array(items) => {
            let mut items = items.clone();
            if d.unit() < 0.5 {
                items.clear();
            } else if let Some(first) = items.first().cloned() {
                items.extend(std::iter::repeat_n(
                    first,
                    usize::try_from(d.between(1, 40)).unwrap_or(1),
                ));
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// A value `schema` describes, with optional members at random.
pub fn generate(schema: &Value, d: &mut Draws, depth: u32) -> Value {
    if schema["x-kubernetes-int-or-string"] == true {
        return if d.unit() < 0.5 {
            json!(d.between(0, 10))
        } else {
            json!("50%")
        };
    }
    if let Some(values) = schema["enum"].as_array() {
        return pick(d, values).cloned().unwrap_or(Value::Null);
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (k, sub) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&k.as_str()) || (depth < 3 && d.unit() < 0.4) {
                    out.insert(k.clone(), generate(sub, d, depth + 1));
                }
            }
            if schema["additionalProperties"].is_object() && depth < 3 {
                for i in 0..d.between(0, 3) {
                    out.insert(format!("k{i}"), generate(&schema["additionalProperties"], d, depth + 1));
                }
            }
            Value::Object(out)
        }
        Some("array") => {
            let min = schema["minItems"].as_u64().unwrap_or(0);
            let max = schema["maxItems"].as_u64().unwrap_or(3).min(3);
            let n = if depth < 3 {
                d.between(min, max.max(min) + 1)
            } else {
                min
            };
            Value::Array((0..n).map(|_| generate(&schema["items"], d, depth + 1)).collect())
        }
        Some("integer") => {
            let lo = schema["minimum"].as_i64().unwrap_or(0);
            let hi = schema["maximum"].as_i64().unwrap_or(lo + 10);
            json!(lo + i64::try_from(d.between(0, u64::try_from(hi - lo).unwrap_or(10) + 1)).unwrap_or(0))
        }
        Some("number") => json!(d.unit() * schema["maximum"].as_f64().unwrap_or(10.0)),
        Some("boolean") => json!(d.unit() < 0.5),
        Some("string") if schema["format"] == "date-time" => {
            json!(format!(
                "2026-11-{:02}T{:02}:00:00Z",
                d.between(1, 29),
                d.between(0, 24)
            ))
        }
        Some("string") => json!(*pick(d, STRINGS).unwrap_or(&"a")),
        _ => json!({}),
    }
}

fn pick<'a, T>(d: &mut Draws, from: &'a [T]) -> Option<&'a T> {
    if from.is_empty() {
        return None;
    }
    from.get(usize::try_from(d.between(0, from.len() as u64)).unwrap_or(0))
}

fn at_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// `spec.a.b[2].c`.
fn dotted(path: &[Seg]) -> String {
    path.iter().fold("spec".to_owned(), |mut s, seg| {
        match seg {
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
        s
    })
}

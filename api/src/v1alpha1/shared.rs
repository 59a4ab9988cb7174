//! Types shared by several kinds: durations, references, money, conditions and
//! the template variables that task arguments may use.

#[cfg(feature = "kube")]
use std::borrow::Cow;
use std::{fmt, str::FromStr};

#[cfg(feature = "kube")]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition of `type_` in `conditions`.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The pattern every duration string matches: Go duration syntax without
/// signs or fractions, so that CEL's `duration()` can compare them too.
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";

/// A span of time written like `90s`, `15m`, `2h` or `1h30m` (units `ms`, `s`, `m`, `h`).
///
/// Kept as the string the user wrote so that server-side apply round-trips it
/// unchanged; [`Duration::to_std`] parses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration(pub String);

impl Duration {
    /// The duration as a [`std::time::Duration`].
    pub fn to_std(&self) -> Result<std::time::Duration, DurationError> {
        self.0.parse::<ParsedDuration>().map(|d| d.0)
    }

    /// A duration from a literal, for defaults.
    pub fn from_static(s: &'static str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "kube")]
impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": 32,
        })
    }
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: write it like 90s, 15m, 2h or 1h30m (units ms, s, m, h)")]
pub struct DurationError {
    input: String,
}

struct ParsedDuration(std::time::Duration);

impl FromStr for ParsedDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DurationError { input: s.to_owned() };
        if s.is_empty() {
            return Err(err());
        }
        let mut total = std::time::Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let value: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let (unit, len) = if rest.starts_with("ms") {
                (std::time::Duration::from_millis(1), 2)
            } else if rest.starts_with('s') {
                (std::time::Duration::from_secs(1), 1)
            } else if rest.starts_with('m') {
                (std::time::Duration::from_secs(60), 1)
            } else if rest.starts_with('h') {
                (std::time::Duration::from_secs(3600), 1)
            } else {
                return Err(err());
            };
            rest = &rest[len..];
            let part = unit.checked_mul(u32::try_from(value).map_err(|_| err())?);
            total = part.and_then(|p| total.checked_add(p)).ok_or_else(err)?;
        }
        Ok(Self(total))
    }
}

/// A reference to another ADE object in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub struct LocalObjectReference {
    /// Name of the object, in the same namespace as the referring object.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub name: String,
}

/// A reference to one key of a Secret in the same namespace. Secrets are never inlined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
pub struct SecretKeyRef {
    /// Name of the Secret, in the same namespace.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub name: String,
    /// Key inside the Secret's data.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 253)))]
    pub key: String,
}

/// The pattern of an amount of US dollars, written as a decimal string such as `"25"` or `"0.84"`.
pub const USD_PATTERN: &str = r"^[0-9]+(\.[0-9]+)?$";

/// An amount of US dollars as a decimal string (`"3.42"`): strings, because
/// floating-point money does not round-trip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usd(pub String);

impl Usd {
    /// The amount as a number of dollars; `None` when the string is not a
    /// number (the schema's pattern keeps that from the API server's objects).
    pub fn dollars(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

#[cfg(feature = "kube")]
impl JsonSchema for Usd {
    fn schema_name() -> Cow<'static, str> {
        "Usd".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": USD_PATTERN,
            "maxLength": 32,
        })
    }
}

/// Template variables that task arguments, configuration and environment values may use,
/// written `{{batch.id}}`. Anything else between `{{ }}` is reported by the operator
/// as an `InvalidTemplate` condition.
pub const TASK_TEMPLATE_VARIABLES: &[&str] = &["batch.id", "window.start", "window.end", "run.attempt", "job.name"];

/// Template variables a StreamConsumer's `partitionBy` may use.
pub const PARTITION_TEMPLATE_VARIABLES: &[&str] = &["date", "hour", "minute", "shard"];

/// Template variables a ValidationSuite's dataset URI may use.
pub const DATASET_TEMPLATE_VARIABLES: &[&str] = &["batch.id", "window.start", "window.end", "job.name"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        let cases = [
            ("90s", Some(90_000u64)),
            ("15m", Some(900_000)),
            ("2h", Some(7_200_000)),
            ("1h30m", Some(5_400_000)),
            ("250ms", Some(250)),
            ("1m30s500ms", Some(90_500)),
            ("", None),
            ("10", None),
            ("h", None),
            ("1d", None),
            ("-5s", None),
            ("1.5h", None),
        ];
        for (input, want) in cases {
            let got = Duration(input.into()).to_std().ok().map(|d| d.as_millis());
            assert_eq!(got, want.map(u128::from), "{input}");
        }
    }

    #[cfg(feature = "kube")]
    #[test]
    fn duration_schema_pattern_matches_the_parser_on_examples() {
        // The schema is what the API server enforces; the parser must accept all it accepts.
        let schema =
            serde_json::to_value(Duration::json_schema(&mut SchemaGenerator::default())).expect("schema serialises");
        assert_eq!(schema["pattern"], DURATION_PATTERN);
    }
}

//! Transforms applied to every record before anything is written: parse the
//! payload as a JSON object, then apply each obfuscation rule in order
//! (drop, HMAC-SHA256 hex, format-preserving token). A record that is not a
//! JSON object, or whose field cannot be obfuscated, becomes a
//! [`DeadLetter`] that carries a digest of the payload, never the payload.

pub mod keys;
pub mod token;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{ObfuscateRule, ObfuscationMethod};

type HmacSha256 = Hmac<Sha256>;

/// A rule that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The key file could not be read.
    #[error("cannot read the key of field {field} from {path}: {source} (is the Secret mounted?)")]
    Key {
        /// The field.
        field: String,
        /// The key file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key object in S3 could not be read.
    #[error("cannot read the key of field {field} from {uri}: {message} (may the consumer's role s3:GetObject it?)")]
    KeyUri {
        /// The field.
        field: String,
        /// The key's URI.
        uri: String,
        /// Why.
        message: String,
    },
    /// The key is empty or missing.
    #[error("the key of field {field} is empty")]
    EmptyKey {
        /// The field.
        field: String,
    },
}

#[derive(Clone)]
enum Action {
    Drop,
    Hmac(HmacSha256),
    Token(HmacSha256),
}

#[derive(Clone)]
struct Rule {
    field: String,
    path: Vec<String>,
    action: Action,
}

/// The compiled obfuscation rules.
#[derive(Clone)]
pub struct Obfuscator {
    rules: Vec<Rule>,
    /// Keys dead-letter digests when any keyed rule exists.
    digest_key: Option<HmacSha256>,
}

impl std::fmt::Debug for Obfuscator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&str> = self.rules.iter().map(|r| r.field.as_str()).collect();
        f.debug_struct("Obfuscator").field("fields", &fields).finish()
    }
}

/// Why a record was not written as data. The text never contains record content.
pub type Failure = String;

impl Rule {
    /// Applies the rule to field `leaf` of `parent` (absent or null: nothing to do).
    fn apply_at(&self, parent: &mut Map<String, Value>, leaf: &str) -> Result<(), Failure> {
        match &self.action {
            Action::Drop => {
                parent.remove(leaf);
            }
            Action::Hmac(mac) => {
                if let Some(v) = parent.get_mut(leaf)
                    && !v.is_null()
                {
                    let mut m = mac.clone();
                    match &*v {
                        Value::String(s) => m.update(s.as_bytes()),
                        other => m.update(other.to_string().as_bytes()),
                    }
                    *v = Value::String(hex::encode(m.finalize().into_bytes()));
                }
            }
            Action::Token(mac) => {
                if let Some(v) = parent.get_mut(leaf) {
                    let text = match v {
                        Value::Null => return Ok(()),
                        Value::String(s) => std::mem::take(s),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(format!(
                                "field {} is a JSON {}; the token method needs a string, number or boolean",
                                self.field,
                                kind(v)
                            ));
                        }
                    };
                    *v = Value::String(token::tokenize(mac, &text));
                }
            }
        }
        Ok(())
    }
}

/// A key's bytes without one trailing line end (`\n` or `\r\n`), as an
/// editor or `echo` leaves it in a file or object.
fn without_line_end(raw: &[u8]) -> &[u8] {
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
    trimmed.strip_suffix(b"\r").unwrap_or(trimmed)
}

impl Obfuscator {
    /// Compiles `rules`, reading each key file once. A trailing newline in a
    /// key file is not part of the key.
    pub fn load(rules: &[ObfuscateRule]) -> Result<Self, TransformError> {
        Self::load_with(rules, &std::collections::BTreeMap::new())
    }

    /// Compiles `rules`, fetching the keys kept in S3 first ([`keys::fetch`]).
    pub async fn load_fetching(rules: &[ObfuscateRule], region: &str) -> Result<Self, TransformError> {
        let fetched = keys::fetch(rules, region).await?;
        Self::load_with(rules, &fetched)
    }

    /// Compiles `rules` with the S3 keys `fetched` (URI → bytes, [`keys::fetch_with`]).
    pub fn load_with(
        rules: &[ObfuscateRule],
        fetched: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, TransformError> {
        let mut keyed = Vec::new();
        for rule in rules {
            let key = match (&rule.key_file, rule.method) {
                (_, ObfuscationMethod::Drop) => None,
                (None, _) if rule.key_uri.is_some() => rule.key_uri.as_ref().and_then(|u| fetched.get(u)).cloned(),
                (Some(path), _) => {
                    let raw = std::fs::read(path).map_err(|source| TransformError::Key {
                        field: rule.field.clone(),
                        path: path.display().to_string(),
                        source,
                    })?;
                    Some(without_line_end(&raw).to_vec())
                }
                (None, _) => None,
            };
            keyed.push((rule.field.clone(), rule.method, key));
        }
        Self::from_keys(&keyed)
    }

    /// Compiles rules given as (field, method, key bytes).
    pub fn from_keys(rules: &[(String, ObfuscationMethod, Option<Vec<u8>>)]) -> Result<Self, TransformError> {
        let mut compiled = Vec::new();
        let mut digest_key = None;
        for (field, method, key) in rules {
            let mac = || -> Result<HmacSha256, TransformError> {
                match key {
                    Some(k) if !k.is_empty() => {
                        HmacSha256::new_from_slice(k).map_err(|_| TransformError::EmptyKey { field: field.clone() })
                    }
                    _ => Err(TransformError::EmptyKey { field: field.clone() }),
                }
            };
            let action = match method {
                ObfuscationMethod::Drop => Action::Drop,
                ObfuscationMethod::HmacSha256 => Action::Hmac(mac()?),
                ObfuscationMethod::Token => Action::Token(mac()?),
            };
            if digest_key.is_none()
                && let Action::Hmac(m) | Action::Token(m) = &action
            {
                digest_key = Some(m.clone());
            }
            compiled.push(Rule {
                field: field.clone(),
                path: field.split('.').map(str::to_owned).collect(),
                action,
            });
        }
        Ok(Self {
            rules: compiled,
            digest_key,
        })
    }

    /// Parses `payload` as a JSON object and obfuscates it.
    pub fn process(&self, payload: &[u8]) -> Result<Map<String, Value>, Failure> {
        let mut object = match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(format!("not a JSON object (a JSON {})", kind(&other))),
            Err(e) => {
                return Err(format!(
                    "not JSON ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ));
            }
        };
        self.apply(&mut object)?;
        Ok(object)
    }

    /// Applies every rule to `object`. A rule applies to the top-level
    /// field named exactly like it (dots included) and, when dotted, also to
    /// the nested field its path leads to: a record carrying both must not
    /// keep either in clear. A path that runs into a value that is neither
    /// an object nor null (`user` a string or an array for `user.email`)
    /// fails the record: the value the rule is meant for may be in there.
    pub fn apply(&self, object: &mut Map<String, Value>) -> Result<(), Failure> {
        for rule in &self.rules {
            if object.contains_key(&rule.field) {
                rule.apply_at(object, &rule.field)?;
            }
            if let [_, .., leaf] = rule.path.as_slice()
                && let Some(parent) = parent_of(object, rule)?
            {
                rule.apply_at(parent, leaf)?;
            }
        }
        Ok(())
    }

    /// Digest of a payload for a dead letter: HMAC-SHA256 under the first
    /// rule's key when a keyed rule exists (`true`), else plain SHA-256.
    pub fn digest(&self, payload: &[u8]) -> (String, bool) {
        match &self.digest_key {
            Some(mac) => {
                let mut m = mac.clone();
                m.update(b"ade-dead-letter\0");
                m.update(payload);
                (hex::encode(m.finalize().into_bytes()), true)
            }
            None => (hex::encode(Sha256::digest(payload)), false),
        }
    }
}

/// The object holding the leaf of a dotted rule's path; `None` when a step
/// is absent or null.
fn parent_of<'a>(
    object: &'a mut Map<String, Value>,
    rule: &Rule,
) -> Result<Option<&'a mut Map<String, Value>>, Failure> {
    let Some((_, inner)) = rule.path.split_last() else {
        return Ok(None);
    };
    let mut current = object;
    for (depth, step) in inner.iter().enumerate() {
        match current.get_mut(step) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(next)) => current = next,
            Some(other) => {
                return Err(format!(
                    "field {} is a JSON {}; rule {} needs an object there",
                    inner[..=depth].join("."),
                    kind(other),
                    rule.field
                ));
            }
        }
    }
    Ok(Some(current))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obfuscator() -> Obfuscator {
        Obfuscator::from_keys(&[
            ("email".into(), ObfuscationMethod::HmacSha256, Some(b"k1".to_vec())),
            ("ssn".into(), ObfuscationMethod::Drop, None),
            ("phone".into(), ObfuscationMethod::Token, Some(b"k2".to_vec())),
            ("user.name".into(), ObfuscationMethod::HmacSha256, Some(b"k1".to_vec())),
        ])
        .expect("rules")
    }

    #[test]
    fn obfuscates_every_field() {
        let o = obfuscator();
        let out = o
            .process(br#"{"id":1,"email":"jane@example.com","ssn":"123-45-6789","phone":"+1 415-555-0100","user":{"name":"Jane"}}"#)
            .expect("object");
        let text = serde_json::to_string(&out).expect("json");
        for clear in ["jane@example.com", "123-45-6789", "415-555-0100", "Jane"] {
            assert!(!text.contains(clear), "{clear} in {text}");
        }
        assert_eq!(out["id"], 1);
        assert!(!out.contains_key("ssn"));
        let email = out["email"].as_str().expect("string");
        assert_eq!(email.len(), 64);
        assert!(email.chars().all(|c| c.is_ascii_hexdigit()));
        let phone = out["phone"].as_str().expect("string");
        assert_eq!(phone.len(), "+1 415-555-0100".len());
        assert_eq!(&phone[..1], "+");
        assert_eq!(out["user"]["name"].as_str().map(str::len), Some(64));
        // Deterministic: the same input gives the same output.
        let again = o.process(br#"{"email":"jane@example.com"}"#).expect("object");
        assert_eq!(again["email"], out["email"]);
    }

    #[test]
    fn missing_and_null_fields_are_left_alone() {
        let out = obfuscator().process(br#"{"email":null,"other":"x"}"#).expect("object");
        assert_eq!(out["email"], Value::Null);
        assert_eq!(out["other"], "x");
    }

    #[test]
    fn failures_name_no_content() {
        let o = obfuscator();
        let cases: [(&[u8], &str); 4] = [
            (b"jane@example.com", "not JSON"),
            (br#""jane@example.com""#, "a JSON string"),
            (b"[1,2]", "a JSON array"),
            (br#"{"phone":{"n":"555-0100"}}"#, "field phone is a JSON object"),
        ];
        for (payload, want) in cases {
            let err = o.process(payload).expect_err("dead letter");
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("jane") && !err.contains("555"), "{err}");
        }
    }

    #[test]
    fn dotted_rules_leave_nothing_in_clear() {
        let o = obfuscator();
        // A top-level dotted key does not shield the nested field, nor the reverse.
        let out = o
            .process(br#"{"user.name":"Jane","user":{"name":"Joan","id":7}}"#)
            .expect("object");
        let text = serde_json::to_string(&out).expect("json");
        assert!(!text.contains("Jane") && !text.contains("Joan"), "{text}");
        assert_eq!(out["user"]["id"], 7);
        // A step that is not an object may hold the value: dead letter, naming no content.
        let wrong: [(&[u8], &str); 3] = [
            (
                br#"{"user":"Jane"}"#,
                "field user is a JSON string; rule user.name needs an object there",
            ),
            (br#"{"user":[{"name":"Jane"}]}"#, "field user is a JSON array"),
            (br#"{"user":3}"#, "field user is a JSON number"),
        ];
        for (payload, want) in wrong {
            let err = o.process(payload).expect_err("dead letter");
            assert!(err.contains(want) && !err.contains("Jane"), "{err}");
        }
        // Absent or null steps are left alone, like absent or null fields.
        let fine: [&[u8]; 3] = [br#"{"user":null}"#, br#"{"other":1}"#, br#"{"user":{}}"#];
        for payload in fine {
            assert!(o.process(payload).is_ok());
        }
    }

    #[test]
    fn digest_is_keyed_when_a_key_exists() {
        let keyed = obfuscator().digest(b"payload");
        assert!(keyed.1);
        let plain = Obfuscator::from_keys(&[("ssn".into(), ObfuscationMethod::Drop, None)])
            .expect("rules")
            .digest(b"payload");
        assert!(!plain.1);
        assert_ne!(keyed.0, plain.0);
        assert!(Obfuscator::from_keys(&[("e".into(), ObfuscationMethod::Token, Some(vec![]))]).is_err());
    }
}

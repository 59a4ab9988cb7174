//! A node's user data read the way `nodeadm` (Amazon Linux 2023's node
//! bootstrap) reads it: base64, a MIME multipart document whose parts of
//! type `application/node.eks.aws` hold `NodeConfig` YAML documents (or a
//! bare `NodeConfig`), and the kubelet flags there that register the Node:
//! `--node-labels` and `--register-with-taints`.

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::Value;

/// The MIME type of a part `nodeadm` reads as a `NodeConfig`.
const NODE_CONFIG_TYPE: &str = "application/node.eks.aws";

/// A taint of `--register-with-taints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Its key.
    pub key: String,
    /// Its value (may be empty).
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// What a node's user data registers it with, as `nodeadm` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// `spec.cluster.name` of the `NodeConfig`.
    pub cluster: String,
    /// `--node-labels`.
    pub labels: BTreeMap<String, String>,
    /// `--register-with-taints`.
    pub taints: Vec<Taint>,
}

/// What `user_data` (base64) registers a node with: the `NodeConfig`
/// documents of its MIME parts of type `application/node.eks.aws` (or of the
/// whole text when it is not MIME multipart), their kubelet flags in order.
pub fn registration_of(user_data: &str) -> Result<Registration, String> {
    let bytes = STANDARD
        .decode(user_data.trim())
        .map_err(|e| format!("the user data is not base64: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("the user data is not UTF-8: {e}"))?
        .replace("\r\n", "\n");
    let mut found = false;
    let mut out = Registration::default();
    for doc in node_config_documents(&text) {
        let config: Value = serde_saphyr::from_str(&doc).map_err(|e| format!("a NodeConfig is not YAML: {e}"))?;
        if config["kind"] != "NodeConfig" {
            continue;
        }
        found = true;
        if let Some(name) = config["spec"]["cluster"]["name"].as_str() {
            name.clone_into(&mut out.cluster);
        }
        let flags = config["spec"]["kubelet"]["flags"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for flag in flags.iter().filter_map(Value::as_str) {
            if let Some(labels) = flag.strip_prefix("--node-labels=") {
                for pair in labels.split(',').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    out.labels.insert(key.to_owned(), value.to_owned());
                }
            } else if let Some(taints) = flag.strip_prefix("--register-with-taints=") {
                for item in taints.split(',').filter(|t| !t.is_empty()) {
                    out.taints.push(taint(item)?);
                }
            }
        }
    }
    if found {
        Ok(out)
    } else {
        Err(format!("no NodeConfig in the user data:\n{text}"))
    }
}

/// `key=value:Effect` or `key:Effect`.
fn taint(item: &str) -> Result<Taint, String> {
    let (pair, effect) = item
        .rsplit_once(':')
        .ok_or_else(|| format!("taint {item:?} has no effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(format!("taint {item:?}: unknown effect {effect:?}"));
    }
    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
    Ok(Taint {
        key: key.to_owned(),
        value: value.to_owned(),
        effect: effect.to_owned(),
    })
}

/// The value of header `name` in `head` (one header a line).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The YAML documents `nodeadm` reads from `text`: those of its MIME parts of
/// type `application/node.eks.aws`, or all of it when it is not multipart.
fn node_config_documents(text: &str) -> Vec<String> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let boundary = header(head, "content-type")
        .filter(|v| v.to_ascii_lowercase().starts_with("multipart/"))
        .and_then(|v| {
            v.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix("boundary=")
                    .map(|b| b.trim_matches('"').to_owned())
            })
        });
    let Some(boundary) = boundary else {
        return documents(text);
    };
    let (open, close) = (format!("--{boundary}"), format!("--{boundary}--"));
    let mut parts: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.lines() {
        if line.trim_end() == close {
            break;
        }
        if line.trim_end() == open {
            parts.extend(current.replace(Vec::new()));
            continue;
        }
        if let Some(part) = current.as_mut() {
            part.push(line);
        }
    }
    parts.extend(current);
    let mut docs = Vec::new();
    for part in parts {
        let blank = part.iter().position(|l| l.trim().is_empty()).unwrap_or(part.len());
        let kind = header(&part[..blank].join("\n"), "content-type")
            .unwrap_or_default()
            .to_owned();
        let kind = kind.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if kind == NODE_CONFIG_TYPE {
            docs.extend(documents(&part[blank..].join("\n")));
        }
    }
    docs
}

/// The non-empty documents of a YAML stream.
fn documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|d| !d.trim().is_empty());
    docs
}

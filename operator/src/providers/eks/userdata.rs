//! The user data of an eks pool's nodes: a MIME multipart document with one
//! Amazon Linux 2023 `nodeadm` `NodeConfig` that joins the instance to the
//! EKS cluster with the pool's labels and its `NoSchedule` taint, base64
//! encoded as EC2 takes it, and a content hash that versions the pool's
//! launch template (a new version only when the hash changes).
//!
//! Labels and taints are checked here the way the kubelet checks its
//! `--node-labels` and `--register-with-taints`: a kubelet given one it
//! rejects does not start, and its node never joins.
//!
//! Scalars are written as double-quoted YAML strings (JSON escapes), so no
//! value can change the document's structure; the output is byte-for-byte
//! stable, and so is its hash.
//!
//! Pure.

use std::{collections::BTreeMap, net::IpAddr};

use crate::names;

/// Label of every node of a pool, and the key of its taint: the pool's uid
/// (a pool re-created under the same name does not take the old one's nodes).
pub const LABEL_POOL_UID: &str = "ade.dev/pool-uid";
/// Label: the pool's name, as a label value.
pub const LABEL_POOL: &str = "ade.dev/pool";
/// Label: the pool's namespace.
pub const LABEL_POOL_NAMESPACE: &str = "ade.dev/pool-namespace";
/// The MIME type of a part `nodeadm` reads as a `NodeConfig`.
pub const NODE_CONFIG_TYPE: &str = "application/node.eks.aws";
/// The MIME boundary: no line of a `NodeConfig` starts with `--//`.
const BOUNDARY: &str = "//";

/// Labels in the `kubernetes.io` and `k8s.io` namespaces a kubelet may set
/// on its own Node (NodeRestriction); with any other there it refuses to start.
const KUBELET_LABELS: [&str; 11] = [
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch",
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
];
/// Label namespaces (and their subdomains) a kubelet may use freely.
const KUBELET_NAMESPACES: [&str; 2] = ["kubelet.kubernetes.io", "node.kubernetes.io"];

/// The cluster nodes join: from `eks:DescribeCluster`, or the pool's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCluster {
    /// EKS cluster name.
    pub name: String,
    /// The API server's URL, `https://…`.
    pub api_server_endpoint: String,
    /// The cluster's certificate authority: base64 of its PEM, as `DescribeCluster` gives it.
    pub certificate_authority: String,
    /// The service CIDR, e.g. `10.100.0.0/16` (`kubernetesNetworkConfig.serviceIpv4Cidr`).
    pub service_cidr: String,
}

/// What a taint keeps away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaintEffect {
    /// Pods without a toleration are not scheduled there.
    NoSchedule,
    /// The scheduler avoids the node for Pods without a toleration.
    PreferNoSchedule,
    /// Pods without a toleration are not scheduled there and are evicted.
    NoExecute,
}

impl TaintEffect {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

/// A taint a node registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Key: a label key.
    pub key: String,
    /// Value: a label value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// What a node registers with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints, in this order.
    pub taints: Vec<Taint>,
}

impl Registration {
    /// A node of pool `namespace/name` (uid `uid`): the pool's own `labels`
    /// and its identity labels (which win), and [`pool_taint`].
    pub fn for_pool(namespace: &str, name: &str, uid: &str, labels: &BTreeMap<String, String>) -> Self {
        let mut all = labels.clone();
        all.insert(LABEL_POOL_UID.to_owned(), uid.to_owned());
        all.insert(LABEL_POOL.to_owned(), names::label_value(name));
        all.insert(LABEL_POOL_NAMESPACE.to_owned(), namespace.to_owned());
        Self {
            labels: all,
            taints: vec![pool_taint(uid)],
        }
    }
}

/// The taint of a pool's nodes: only Pods that tolerate it (the pool's runs) land there.
pub fn pool_taint(uid: &str) -> Taint {
    Taint {
        key: LABEL_POOL_UID.to_owned(),
        value: uid.to_owned(),
        effect: TaintEffect::NoSchedule,
    }
}

/// Why no user data can be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    /// A label the kubelet would reject.
    #[error("node label {key:?}: {why}")]
    InvalidLabel {
        /// The label's key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// A label in the `kubernetes.io` or `k8s.io` namespace a kubelet may not set.
    #[error(
        "node label {key:?}: a kubelet may set labels in the kubernetes.io and k8s.io namespaces only under \
         node.kubernetes.io/ and kubelet.kubernetes.io/ (and a few well-known ones); with this one it would not start"
    )]
    RestrictedLabel {
        /// The label's key.
        key: String,
    },
    /// A taint the kubelet would reject.
    #[error("node taint {key:?}: {why}")]
    InvalidTaint {
        /// The taint's key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// A field of the cluster to join is unusable.
    #[error("cluster {field}: {why}")]
    InvalidCluster {
        /// The `NodeConfig` field, e.g. `apiServerEndpoint`.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// The user data of a launch template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    /// The MIME multipart document.
    pub mime: String,
    /// `mime` in base64: the launch template's `UserData`.
    pub base64: String,
    /// 16 hex digits of a stable hash of `mime`.
    pub hash: String,
}

/// The user data that joins a node to `cluster` registered as `node`.
pub fn render(cluster: &JoinCluster, node: &Registration) -> Result<UserData, UserDataError> {
    let config = node_config(cluster, node)?;
    let mime = format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\n\n\
         --{BOUNDARY}\nContent-Type: {NODE_CONFIG_TYPE}\n\n{config}--{BOUNDARY}--\n"
    );
    Ok(UserData {
        base64: base64(mime.as_bytes()),
        hash: names::hash(&mime),
        mime,
    })
}

/// The `NodeConfig` document (YAML) that joins a node to `cluster` registered as `node`.
pub fn node_config(cluster: &JoinCluster, node: &Registration) -> Result<String, UserDataError> {
    check_cluster(cluster)?;
    let flags = kubelet_flags(node)?;
    let mut out = format!(
        "---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: {}\n    \
         apiServerEndpoint: {}\n    certificateAuthority: {}\n    cidr: {}\n",
        quoted(&cluster.name),
        quoted(&cluster.api_server_endpoint),
        quoted(&cluster.certificate_authority),
        quoted(&cluster.service_cidr),
    );
    if !flags.is_empty() {
        out.push_str("  kubelet:\n    flags:\n");
        for flag in &flags {
            out.push_str(&format!("      - {}\n", quoted(flag)));
        }
    }
    Ok(out)
}

/// The kubelet flags that register `node`: `--node-labels=k=v,…` (sorted by
/// key) and `--register-with-taints=k=v:Effect,…`, each only when not empty.
pub fn kubelet_flags(node: &Registration) -> Result<Vec<String>, UserDataError> {
    let mut flags = Vec::new();
    for (key, value) in &node.labels {
        let invalid = |why: String| UserDataError::InvalidLabel { key: key.clone(), why };
        check_key(key).map_err(invalid)?;
        check_value(value).map_err(invalid)?;
        if restricted(key) {
            return Err(UserDataError::RestrictedLabel { key: key.clone() });
        }
    }
    if !node.labels.is_empty() {
        let labels: Vec<String> = node.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        flags.push(format!("--node-labels={}", labels.join(",")));
    }
    let mut taints = Vec::new();
    for t in &node.taints {
        let invalid = |why: String| UserDataError::InvalidTaint {
            key: t.key.clone(),
            why,
        };
        check_key(&t.key).map_err(invalid)?;
        check_value(&t.value).map_err(invalid)?;
        taints.push(match t.value.as_str() {
            "" => format!("{}:{}", t.key, t.effect.as_str()),
            value => format!("{}={value}:{}", t.key, t.effect.as_str()),
        });
    }
    if !taints.is_empty() {
        flags.push(format!("--register-with-taints={}", taints.join(",")));
    }
    Ok(flags)
}

/// 16 hex digits of a stable hash of `parts` (joined by NUL): the version key
/// of a launch template, over its user data's hash and its other fields.
pub fn content_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    names::hash(&parts.into_iter().collect::<Vec<_>>().join("\0"))
}

/// `bytes` in base64 (RFC 4648, with padding), as EC2 takes user data.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4_usize {
            if i <= chunk.len() {
                let sextet = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[sextet as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `s` as a double-quoted YAML scalar (JSON's escapes are YAML's).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `key` is in the `kubernetes.io` or `k8s.io` namespace and not one
/// a kubelet may set.
fn restricted(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return false;
    };
    let within = |domain: &str| prefix == domain || prefix.ends_with(&format!(".{domain}"));
    (within("kubernetes.io") || within("k8s.io"))
        && !KUBELET_LABELS.contains(&key)
        && !KUBELET_NAMESPACES.iter().any(|d| within(d))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain of at most 253 characters.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.len() > 253 || !is_dns_subdomain(prefix))
    {
        return Err(format!(
            "the prefix {prefix:?} is not a DNS subdomain (lower-case letters, digits, '-' and '.')"
        ));
    }
    if name.is_empty() {
        return Err("the name after the prefix is empty".to_owned());
    }
    check_value(name).map_err(|why| format!("the name {name:?}: {why}"))
}

/// A label value (or the name part of a key): at most 63 letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit; may be empty.
fn check_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!("{} characters, at most 63 allowed", value.len()));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "{value:?} has characters other than letters, digits, '-', '_' and '.'"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !edge_ok(value.chars().next()) || !edge_ok(value.chars().last()) {
        return Err(format!("{value:?} must start and end with a letter or digit"));
    }
    Ok(())
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The fields of the cluster to join, as nodeadm needs them.
fn check_cluster(cluster: &JoinCluster) -> Result<(), UserDataError> {
    let invalid = |field: &'static str, why: &str| {
        Err(UserDataError::InvalidCluster {
            field,
            why: why.to_owned(),
        })
    };
    let name = &cluster.name;
    let name_ok = name.len() <= 100
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !name_ok {
        return invalid(
            "name",
            "an EKS cluster name: 1 to 100 letters, digits, '-' and '_', starting with a letter or digit",
        );
    }
    let endpoint = &cluster.api_server_endpoint;
    let host = endpoint.strip_prefix("https://").unwrap_or_default();
    if host.is_empty()
        || endpoint
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        return invalid("apiServerEndpoint", "an https:// URL");
    }
    let ca = &cluster.certificate_authority;
    if ca.is_empty()
        || !ca
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    {
        return invalid("certificateAuthority", "the cluster's certificate authority in base64");
    }
    let cidr_ok = cluster.service_cidr.split_once('/').is_some_and(|(ip, bits)| {
        let most = match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => 32,
            Ok(IpAddr::V6(_)) => 128,
            Err(_) => return false,
        };
        bits.parse::<u8>().is_ok_and(|b| b <= most)
    });
    if !cidr_ok {
        return invalid("cidr", "the service CIDR, e.g. 10.100.0.0/16");
    }
    Ok(())
}

#[cfg(test)]
#[path = "userdata_tests.rs"]
mod tests;

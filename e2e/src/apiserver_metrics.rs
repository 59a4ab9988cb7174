//! The kube-apiserver's own request counters (`apiserver_request_total` on
//! `/metrics`), to measure how much API traffic the operator makes.

use std::collections::BTreeMap;

use crate::kubectl_ok;

/// LIST requests served so far for each resource of `group`, summed over
/// versions, scopes and response codes.
pub fn list_requests(group: &str) -> BTreeMap<String, u64> {
    let text = kubectl_ok(&["get", "--raw", "/metrics"]);
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |name: &str| {
            let key = format!("{name}=\"");
            let start = labels.find(&key)? + key.len();
            let len = labels[start..].find('"')?;
            Some(&labels[start..start + len])
        };
        if label("verb") != Some("LIST") || label("group") != Some(group) {
            continue;
        }
        let (Some(resource), Ok(n)) = (label("resource"), value.parse::<f64>()) else {
            continue;
        };
        // Counters are integers, printed as floats.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as u64;
        *out.entry(resource.to_owned()).or_default() += n;
    }
    out
}

/// `after - before`, per resource.
pub fn difference(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(before.get(k).copied().unwrap_or(0))))
        .collect()
}

//! Which runs a suite has checked: an annotation on each EtlRun,
//! `validated.ade.dev/<suite>: <suite uid>`, written before the suite's
//! status records the result (a crash in between checks the run again, it
//! never skips it). A suite re-created under the same name has another uid
//! and checks again.

use std::collections::BTreeMap;

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{
    api::v1alpha1::{EtlRun, ValidationSuite},
    controllers::Context,
};

/// The annotation prefix.
const PREFIX: &str = "validated.ade.dev/";

/// The annotation key of `suite`: its name, or (past the 63 characters a key
/// name may have) its first 54 and a hash of the whole.
pub fn key(suite: &str) -> String {
    if suite.len() <= 63 {
        return format!("{PREFIX}{suite}");
    }
    // FNV-1a: stable across Rust versions.
    let hash = suite.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let head: String = suite.chars().take(54).collect();
    format!(
        "{PREFIX}{}-{:08x}",
        head.trim_end_matches(['-', '.']),
        hash & 0xffff_ffff
    )
}

/// Whether `suite` has checked `run`.
pub fn by(run: &EtlRun, suite: &ValidationSuite) -> bool {
    let uid = suite.uid().unwrap_or_default();
    run.annotations().get(&key(&suite.name_any())) == Some(&uid)
}

/// Marks `run` as checked by `suite`; the run as the API server returned it.
pub async fn mark(ctx: &Context, run: &EtlRun, suite: &ValidationSuite) -> Result<EtlRun, kube::Error> {
    let annotations = BTreeMap::from([(key(&suite.name_any()), suite.uid().unwrap_or_default())]);
    let patch = json!({"metadata": {"annotations": annotations}});
    let api: Api<EtlRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let marked = api
        .patch(&run.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    ctx.caches.runs.wrote(marked.clone());
    Ok(marked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_annotation_names() {
        assert_eq!(key("orders-quality"), "validated.ade.dev/orders-quality");
        let long = "q".repeat(200);
        let k = key(&long);
        let name = k.strip_prefix(PREFIX).expect("prefix");
        assert!(name.len() <= 63, "{k}");
        assert_ne!(key(&format!("{long}x")), k, "distinct suites, distinct keys");
    }
}

//! Real objects for the Argo CD health and action tests
//! (`charts/ade-operator/argocd/`, run by `argocd-lua`): with
//! `ADE_CAPTURE_ARGOCD=1`, [`capture`] writes an object as the suite sees it
//! at an interesting moment (a failed run, a quarantined batch, an open
//! breaker, a degraded consumer) into its kind's `testdata/` folder. Without
//! it, nothing happens. `make argocd-testdata` runs the tests that capture.

use crate::{get_json, repo_root};

/// Writes `what` (`etlrun/NAME`) of `namespace`, without its server-side
/// bookkeeping (managed fields, uid, resource version), to
/// `charts/ade-operator/argocd/ade.dev/<Kind>/testdata/<file>.yaml` when
/// `ADE_CAPTURE_ARGOCD` is set.
pub fn capture(namespace: &str, what: &str, file: &str) {
    if std::env::var_os("ADE_CAPTURE_ARGOCD").is_none() {
        return;
    }
    let Some(mut obj) = get_json(namespace, &[what]) else {
        panic!("capturing {what} for the Argo CD tests: cannot read it");
    };
    let kind_dir = obj["kind"].as_str().unwrap_or("Unknown").to_owned();
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in ["managedFields", "uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    let dir = repo_root()
        .join("charts/ade-operator/argocd/ade.dev")
        .join(&kind_dir)
        .join("testdata");
    std::fs::create_dir_all(&dir).expect("testdata folder");
    let yaml = serde_saphyr::to_string(&obj).expect("YAML");
    let header = format!("# captured by the end-to-end suite (e2e/src/argocd.rs): {what}\n");
    std::fs::write(dir.join(format!("{file}.yaml")), header + &yaml).expect("write testdata");
    eprintln!("captured {what} as {kind_dir}/testdata/{file}.yaml");
}

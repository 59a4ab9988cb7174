//! Harness of the end-to-end suite: the real `kubectl` and `helm` against the
//! local control plane started by `e2e/cluster up`, the chart installed by
//! Helm, and the operator binary run as a local process authenticated as the
//! chart's own ServiceAccount (a TokenRequest token), so the chart's RBAC is
//! what the operator gets.
//!
//! Environment: `KUBECONFIG` (default `e2e/.state/kubeconfig`), `kubectl` and
//! `helm` on `PATH` (`eval "$(e2e/cluster env)"`), and `ADE_OPERATOR_BIN`
//! (default `$CARGO_TARGET_DIR/debug/ade-operator`).
//!
//! Tests using it must run one at a time (`--test-threads=1`): they share the
//! operator's leader Lease.

pub mod apiserver_metrics;
pub mod argocd;
pub mod bench;
pub mod chaos;
pub mod ec2;
pub mod eks_nodes;
pub mod emr_steps;
pub mod executor;
pub mod moto;
pub mod nodeadm;
pub mod operator;
pub mod pods;
pub mod process;
pub mod prometheus;
pub mod spec_fuzz;

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub use executor::Executor;
pub use moto::{Glue, Moto, S3};
pub use operator::{Operator, lease_holder, service_account_kubeconfig};
pub use process::{CommandOutput, helm, kubectl, kubectl_ok, kubectl_with_env, kubectl_with_stdin};

/// Namespace the chart is installed in.
pub const SYSTEM_NAMESPACE: &str = "ade-system";
/// Helm release name; the chart's full name, ServiceAccount and Lease name are this too.
pub const RELEASE: &str = "ade-operator";

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// A binary built from this workspace: the path in `variable` (hack/e2e.sh
/// exports it), else `name` in the debug build of `CARGO_TARGET_DIR` (or `target/`).
pub fn workspace_binary(variable: &str, name: &str) -> PathBuf {
    std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        target.join("debug").join(name)
    })
}

/// Installs the chart once per test process (every test of a file may call it).
pub fn install_chart_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(install_chart);
}

/// `kubectl apply` of `yaml` in `namespace`, which must succeed.
pub fn apply(namespace: &str, yaml: &str) {
    let out = kubectl_with_stdin(&["apply", "-n", namespace, "-f", "-"], yaml);
    assert!(out.success, "kubectl apply failed:\n{}\n{yaml}", out.stderr);
}

/// Writes to `path` a kubeconfig that authenticates as ServiceAccount
/// `account` of `namespace`, with a two-hour token from the TokenRequest API.
pub fn token_kubeconfig(account: &str, namespace: &str, path: &std::path::Path) {
    let token = kubectl_ok(&["create", "token", account, "-n", namespace, "--duration=2h"]);
    let admin: serde_json::Value =
        serde_json::from_str(&kubectl_ok(&["config", "view", "--raw", "--minify", "-o", "json"]))
            .expect("kubectl config view prints JSON");
    let cluster = &admin["clusters"][0]["cluster"];
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"],
        }}],
        "users": [{"name": account, "user": {"token": token.trim()}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": account}}],
        "current-context": "e2e",
    });
    std::fs::write(path, config.to_string()).expect("writing a ServiceAccount kubeconfig");
}

/// The admin kubeconfig of the local control plane.
pub fn kubeconfig() -> PathBuf {
    std::env::var_os("KUBECONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("e2e/.state/kubeconfig"))
}

/// Installs (or upgrades) the chart with the real `helm`, as a user would.
/// The chart's Deployment is scaled to one replica that kwok only pretends to
/// run; the operator under test is the local process of [`Operator`].
pub fn install_chart() {
    let chart = repo_root().join("charts/ade-operator");
    let out = helm(&[
        "upgrade",
        "--install",
        RELEASE,
        chart.to_str().unwrap_or("charts/ade-operator"),
        "--namespace",
        SYSTEM_NAMESPACE,
        "--create-namespace",
        "--set",
        "replicas=1",
    ]);
    assert!(out.success, "helm upgrade --install failed:\n{}", out.stderr);
    let crds: Vec<String> = [
        "clusterpools",
        "etljobs",
        "etlruns",
        "streamconsumers",
        "validationsuites",
    ]
    .iter()
    .map(|plural| format!("crd/{plural}.ade.dev"))
    .collect();
    let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
    args.extend(crds.iter().map(String::as_str));
    kubectl_ok(&args);
}

/// A namespace of one test, deleted when dropped.
#[derive(Debug)]
pub struct Namespace {
    /// Its name.
    pub name: String,
}

impl Namespace {
    /// Creates `e2e-<prefix>-<unique>`.
    pub fn create(prefix: &str) -> Self {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() % 1_000_000)
            .unwrap_or_default();
        let name = format!("e2e-{prefix}-{unique}");
        kubectl_ok(&["create", "namespace", &name]);
        Self { name }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// Polls `check` every 250 ms until it returns `Some`, or panics after `timeout`
/// naming what it waited for.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `kubectl get <what> -o json` in `namespace`, parsed; `None` when it fails.
pub fn get_json(namespace: &str, what: &[&str]) -> Option<serde_json::Value> {
    let mut args = vec!["get", "-n", namespace, "-o", "json"];
    args.extend_from_slice(what);
    let out = kubectl(&args);
    if !out.success {
        return None;
    }
    serde_json::from_str(&out.stdout).ok()
}

/// The condition of `type_` in an object's status.
pub fn condition<'a>(obj: &'a serde_json::Value, type_: &str) -> Option<&'a serde_json::Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// The objects of `kind` in `ns` (empty when the API server cannot be read).
pub fn objects(ns: &str, kind: &[&str]) -> Vec<serde_json::Value> {
    get_json(ns, kind)
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

/// The messages of the Events of `reason` in `ns`, oldest first (empty when
/// there are none or the API server cannot be read).
pub fn event_messages(ns: &str, reason: &str) -> Vec<String> {
    let items = objects(ns, &["events", "--field-selector", &format!("reason={reason}")]);
    items
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

/// A label of an object.
pub fn label<'a>(obj: &'a serde_json::Value, key: &str) -> &'a str {
    obj["metadata"]["labels"][key].as_str().unwrap_or_default()
}

/// An object's name.
pub fn name(obj: &serde_json::Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// An unsigned setting from the environment, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// GET `path` from `127.0.0.1:port` (HTTP/1.0: one response, no chunks):
/// status code and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

//! A container runtime for the fake nodes, for the workloads whose real
//! behaviour a test is about: kwok plays the kubelet (scheduling, Pod phases,
//! container statuses) but runs nothing, so this runs the Pod's container as
//! a host process — the very command, arguments and environment the operator
//! put in the Pod spec, with the image's binary mapped to the one built from
//! this workspace — and hands kwok the exit code and termination message
//! (annotations `e2e.ade.dev/exit-code` and `e2e.ade.dev/termination-message`;
//! the `pod-exit` stage in e2e/kwok/pod-stages.yaml finishes the Pod with
//! them). Pods that kwok should leave to this runtime carry the label
//! `app.kubernetes.io/component` with a value listed in that stage
//! (`validation`). Each Pod runs on a thread of its own, so Pods run side
//! by side as on a node.
//!
//! Mapping: the container's `terminationMessagePath` becomes a temporary file
//! (arguments naming it are rewritten), and host AWS credentials for the
//! emulator are added to the environment, as a node's instance role or IRSA
//! would provide them. A container that mounts volumes other than emptyDirs
//! is refused (the projected ServiceAccount token excepted): the runtime cannot
//! provide them.

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use serde_json::Value;

use crate::kubectl;

/// `ade-validate` built from this workspace (hack/e2e.sh builds it and
/// exports `ADE_VALIDATE_BIN`).
pub fn validate_bin() -> PathBuf {
    crate::workspace_binary("ADE_VALIDATE_BIN", "ade-validate")
}

/// Annotation with the exit code of the container run on the host.
pub const EXIT_CODE: &str = "e2e.ade.dev/exit-code";
/// Annotation with its termination message.
pub const TERMINATION_MESSAGE: &str = "e2e.ade.dev/termination-message";
/// The kubelet keeps at most this many bytes of a termination message.
const MAX_MESSAGE: usize = 4096;

/// Runs the Pods labelled `app.kubernetes.io/component=<component>` in a
/// namespace until dropped.
#[derive(Debug)]
pub struct Executor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Executor {
    /// Starts executing the `component` Pods of `namespace`, mapping an
    /// executable name (e.g. `ade-validate`) to a host binary; `env` is added
    /// to every process (e.g. emulator credentials).
    pub fn start(
        namespace: &str,
        component: &str,
        binaries: BTreeMap<String, PathBuf>,
        env: Vec<(String, String)>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (namespace, component) = (namespace.to_owned(), component.to_owned());
        let thread = std::thread::spawn(move || {
            let (binaries, env) = (Arc::new(binaries), Arc::new(env));
            let mut started = HashSet::new();
            // Each Pod runs on a thread of its own, as a kubelet runs Pods side by side.
            let mut pods: Vec<JoinHandle<()>> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                for pod in pending(&namespace, &component) {
                    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                    if started.insert(name.clone()) {
                        let (namespace, binaries, env) = (namespace.clone(), binaries.clone(), env.clone());
                        pods.push(std::thread::spawn(move || {
                            let (code, message) = run(&pod, &binaries, &env);
                            report(&namespace, &name, code, &message);
                        }));
                    }
                }
                let (done, running): (Vec<_>, Vec<_>) = pods.into_iter().partition(|p| p.is_finished());
                pods = running;
                join(done);
                std::thread::sleep(Duration::from_millis(300));
            }
            join(pods);
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Whether its thread still runs Pods (it stops when a Pod's thread panics,
    /// e.g. when the Pod's end cannot be reported).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the e2e executor's thread panicked (see its message above)");
        }
    }
}

/// Waits for finished Pod threads; a panic in one stops the executor too.
fn join(pods: Vec<JoinHandle<()>>) {
    for pod in pods {
        if pod.join().is_err() {
            panic!("e2e executor: a Pod's thread panicked (see its message above)");
        }
    }
}

/// Running Pods of `component` that have no exit code yet.
fn pending(namespace: &str, component: &str) -> Vec<Value> {
    let out = kubectl(&[
        "get",
        "pods",
        "-n",
        namespace,
        "-l",
        &format!("app.kubernetes.io/component={component}"),
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["annotations"][EXIT_CODE].is_null())
        .cloned()
        .collect()
}

/// Runs the Pod's first container on the host: exit code and termination message.
fn run(pod: &Value, binaries: &BTreeMap<String, PathBuf>, extra_env: &[(String, String)]) -> (i32, String) {
    let container = &pod["spec"]["containers"][0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut argv = strings(&container["command"]);
    argv.extend(strings(&container["args"]));
    let volumes: BTreeMap<&str, &Value> = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["name"].as_str()?, v)))
        .collect();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let name = mount["name"].as_str().unwrap_or_default();
        // emptyDirs are scratch space; the projected ServiceAccount token the
        // API server adds is not needed by host processes (they get credentials
        // from the environment).
        if volumes
            .get(name)
            .is_none_or(|v| v["emptyDir"].is_null() && v["projected"].is_null())
        {
            return (
                128,
                format!("e2e executor: volume {name} is not an emptyDir, which this runtime cannot provide"),
            );
        }
    }
    let Some(program) = argv
        .first()
        .and_then(|p| binaries.get(p.rsplit('/').next().unwrap_or(p)))
    else {
        return (127, format!("e2e executor: no host binary for {:?}", argv.first()));
    };
    let message_path = container["terminationMessagePath"]
        .as_str()
        .unwrap_or("/dev/termination-log");
    let message_file = std::env::temp_dir().join(format!(
        "ade-e2e-termination-{}-{}",
        pod["metadata"]["uid"].as_str().unwrap_or("pod"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&message_file);
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| {
            if a == message_path {
                message_file.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut command = Command::new(program);
    command
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for e in container["env"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
            command.env(k, v);
        }
    }
    for (k, v) in extra_env {
        // The Pod's own settings win (e.g. the operator's endpoint override).
        if container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| e["name"] != k.as_str())
        {
            command.env(k, v);
        }
    }
    let output = match command.output() {
        Ok(o) => o,
        Err(e) => return (127, format!("e2e executor: cannot run {}: {e}", program.display())),
    };
    let code = output.status.code().unwrap_or(137);
    let mut message = std::fs::read_to_string(&message_file).unwrap_or_default();
    let _ = std::fs::remove_file(&message_file);
    if message.trim().is_empty() && code != 0 && container["terminationMessagePolicy"] == "FallbackToLogsOnError" {
        // The kubelet's fallback: the tail of the log.
        let log = String::from_utf8_lossy(&output.stderr);
        message = log[log.len().saturating_sub(2048)..].to_owned();
    }
    message.truncate(MAX_MESSAGE);
    (code, message)
}

/// Hands the outcome to kwok through the Pod's annotations, retrying while
/// the API server cannot be reached (a test may restart it), as a kubelet
/// keeps reporting a container's end.
fn report(namespace: &str, pod: &str, code: i32, message: &str) {
    let patch =
        serde_json::json!({"metadata": {"annotations": {EXIT_CODE: code.to_string(), TERMINATION_MESSAGE: message}}});
    let patch = patch.to_string();
    let args = ["patch", "pod", pod, "-n", namespace, "--type=merge", "-p", &patch];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let out = kubectl(&args);
        if out.success || out.stderr.contains("NotFound") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "e2e executor: cannot report the end of pod {pod}: {}",
            out.stderr
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

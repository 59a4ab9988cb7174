//! Long-running Pods (a Deployment's) as host processes, for the workloads
//! whose real behaviour a test is about (`ade-stream`): kwok plays the kubelet
//! for status, this runs the container's command — the image's binary mapped
//! to the one built from this workspace — for as long as the Pod exists.
//!
//! Per Pod, as a kubelet would:
//! - the environment: `env[].value`, `env[].valueFrom.fieldRef` (name,
//!   namespace, uid, service account, labels and annotations), `HOSTNAME`;
//! - Secret volumes written under a directory of the Pod's own, and every
//!   mount path in the arguments and environment rewritten to it;
//! - a kubeconfig with a token of the Pod's ServiceAccount (TokenRequest, not
//!   bound to the Pod: kwok deletes the Pod object before the process has
//!   finished its hand-off), so the process gets exactly the Pod's RBAC;
//! - for each named container port in `ports`, a free host port in the given
//!   variable (several Pods share the host);
//! - a Pod that is deleted (or gone from the list) gets SIGTERM, then SIGKILL
//!   after its grace period; a process that exits while its Pod lives is
//!   started again (restartPolicy Always) after a short backoff;
//! - [`Pods::kill`] sends SIGKILL (a crash), [`Pods::stop`] SIGTERM.
//!
//! Output goes to `<dir>/log`; [`Pods::log`] reads it.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::Child,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::Value;

use crate::{kubectl, operator::free_port, process::host_command, token_kubeconfig};

/// `ade-stream` built from this workspace (hack/e2e.sh builds it and exports
/// `ADE_STREAM_BIN`).
pub fn stream_bin() -> PathBuf {
    crate::workspace_binary("ADE_STREAM_BIN", "ade-stream")
}

/// One Pod's process.
#[derive(Debug)]
struct Running {
    name: String,
    dir: PathBuf,
    child: Child,
    /// When SIGTERM was sent, and the grace period.
    terminating: Option<(Instant, Duration)>,
    gone: bool,
    restarts: u32,
    /// Host ports, by container port name.
    ports: BTreeMap<String, u16>,
}

type Table = Arc<Mutex<HashMap<String, Running>>>;
/// Exit codes by Pod name, in order (`None`: ended by a signal).
type Exits = Arc<Mutex<BTreeMap<String, Vec<Option<i32>>>>>;

/// Runs the Pods a label selector picks in a namespace until dropped.
#[derive(Debug)]
pub struct Pods {
    table: Table,
    exits: Exits,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What [`Pods::start`] needs.
#[derive(Clone, Debug, Default)]
pub struct PodsConfig {
    pub namespace: String,
    /// A label selector, e.g. `app.kubernetes.io/name=ade-stream`.
    pub selector: String,
    /// Executable name (the basename of `command[0]`) to host binary.
    pub binaries: BTreeMap<String, PathBuf>,
    /// Added to every process unless the Pod sets the variable itself.
    pub env: Vec<(String, String)>,
    /// Container port name to the variable that gets `127.0.0.1:<free port>`.
    pub ports: Vec<(String, String)>,
    /// A file that always holds the pids of the processes running now, one
    /// a line: a script that starts this in a process of its own can stop
    /// them by pid should that process die first.
    pub pids_file: Option<PathBuf>,
}

impl PodsConfig {
    /// The Pods `selector` picks in `namespace` (a StreamConsumer's), run as
    /// this workspace's `ade-stream` with `env` besides theirs and a free
    /// metrics port each.
    pub fn ade_stream(namespace: &str, selector: &str, env: Vec<(String, String)>) -> Self {
        Self {
            namespace: namespace.to_owned(),
            selector: selector.to_owned(),
            binaries: BTreeMap::from([("ade-stream".into(), stream_bin())]),
            env,
            ports: vec![("metrics".into(), "ADE_STREAM_METRICS_ADDR".into())],
            pids_file: None,
        }
    }
}

impl Pods {
    pub fn start(config: PodsConfig) -> Self {
        let table: Table = Arc::default();
        let exits: Exits = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared, ended) = (stop.clone(), table.clone(), exits.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                tick(&config, &shared, &ended);
                std::thread::sleep(Duration::from_millis(300));
            }
            shutdown(&shared);
        });
        Self {
            table,
            exits,
            stop,
            thread: Some(thread),
        }
    }

    /// Names of the Pods whose process runs now.
    pub fn running(&self) -> Vec<String> {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut names: Vec<String> = table.values().filter(|r| !r.gone).map(|r| r.name.clone()).collect();
        names.sort();
        names
    }

    /// SIGKILL to the Pod's process: a crash (it is started again).
    pub fn kill(&self, pod: &str) -> bool {
        self.signal(pod, "KILL")
    }

    /// SIGTERM to the Pod's process.
    pub fn stop(&self, pod: &str) -> bool {
        self.signal(pod, "TERM")
    }

    fn signal(&self, pod: &str, signal: &str) -> bool {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table
            .values()
            .find(|r| r.name == pod)
            .is_some_and(|r| send(r.child.id(), signal))
    }

    /// The exit codes of the Pod's ended processes, in order (`None`: ended
    /// by a signal, SIGKILL say).
    pub fn exits(&self, pod: &str) -> Vec<Option<i32>> {
        let exits = self.exits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        exits.get(pod).cloned().unwrap_or_default()
    }

    /// How often the Pod's process was started again.
    pub fn restarts(&self, pod: &str) -> u32 {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.values().find(|r| r.name == pod).map_or(0, |r| r.restarts)
    }

    /// The host port of the Pod's named container port.
    pub fn port(&self, pod: &str, name: &str) -> Option<u16> {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.values().find(|r| r.name == pod)?.ports.get(name).copied()
    }

    /// Everything the Pod's process wrote so far.
    pub fn log(&self, pod: &str) -> String {
        let table = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table
            .values()
            .find(|r| r.name == pod)
            .and_then(|r| std::fs::read_to_string(r.dir.join("log")).ok())
            .unwrap_or_default()
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `signal` to the process group `pid` leads (the Pod's processes).
fn send(pid: u32, signal: &str) -> bool {
    crate::process::send_signal(pid, signal, true)
}

/// One round: start new Pods, restart exited ones, stop deleted ones.
fn tick(config: &PodsConfig, table: &Table, exits: &Exits) {
    let listed = list(&config.namespace, &config.selector);
    let mut table = table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let live: HashMap<&str, &Value> = listed
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| Some((p["metadata"]["uid"].as_str()?, p)))
        .collect();
    for (uid, running) in table.iter_mut() {
        if !live.contains_key(uid.as_str()) && running.terminating.is_none() {
            let grace = listed
                .iter()
                .find(|p| p["metadata"]["uid"] == uid.as_str())
                .and_then(|p| p["spec"]["terminationGracePeriodSeconds"].as_u64())
                .unwrap_or(30);
            send(running.child.id(), "TERM");
            running.terminating = Some((Instant::now(), Duration::from_secs(grace)));
        }
        if let Some((since, grace)) = running.terminating
            && since.elapsed() > grace
        {
            send(running.child.id(), "KILL");
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            running.gone = true;
            let mut exits = exits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            exits.entry(running.name.clone()).or_default().push(status.code());
        }
    }
    // Restart the exited processes of live Pods; forget the ended ones of deleted Pods.
    let mut restart = Vec::new();
    table.retain(|uid, r| {
        if !r.gone {
            return true;
        }
        if r.terminating.is_some() {
            return false;
        }
        restart.push((uid.clone(), r.restarts + 1));
        false
    });
    for (uid, pod) in live {
        if table.contains_key(uid) || pod["status"]["phase"] != "Running" {
            continue;
        }
        let restarts = restart.iter().find(|r| r.0 == uid).map_or(0, |r| r.1);
        match launch(config, pod) {
            Ok(mut running) => {
                running.restarts = restarts;
                table.insert(uid.to_owned(), running);
            }
            Err(message) => eprintln!("e2e pods: cannot start {}: {message}", pod["metadata"]["name"]),
        }
    }
    if let Some(file) = &config.pids_file {
        let pids: String = table.values().map(|r| format!("{}\n", r.child.id())).collect();
        if let Err(e) = std::fs::write(file, pids) {
            eprintln!("e2e pods: cannot write {}: {e}", file.display());
        }
    }
}

/// SIGTERM to every process, SIGKILL to those still there after 20 s.
fn shutdown(table: &Table) {
    let mut table = table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for r in table.values() {
        send(r.child.id(), "TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for r in table.values_mut() {
        while matches!(r.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(r.child.try_wait(), Ok(None)) {
            send(r.child.id(), "KILL");
            let _ = r.child.wait();
        }
    }
    table.clear();
}

fn list(namespace: &str, selector: &str) -> Vec<Value> {
    let out = kubectl(&["get", "pods", "-n", namespace, "-l", selector, "-o", "json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The value a `fieldRef` names.
fn field(pod: &Value, path: &str) -> Option<String> {
    let meta = &pod["metadata"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    match path {
        "metadata.name" => text(&meta["name"]),
        "metadata.namespace" => text(&meta["namespace"]),
        "metadata.uid" => text(&meta["uid"]),
        "spec.serviceAccountName" => text(&pod["spec"]["serviceAccountName"]),
        "spec.nodeName" => text(&pod["spec"]["nodeName"]),
        "status.podIP" => text(&pod["status"]["podIP"]),
        _ => {
            let (map, key) = path.split_once("['")?;
            let key = key.strip_suffix("']")?;
            match map {
                "metadata.labels" => text(&meta["labels"][key]),
                "metadata.annotations" => text(&meta["annotations"][key]),
                _ => None,
            }
        }
    }
}

/// Writes the Pod's Secret volumes under `dir`; the mount paths, longest first.
fn volumes(pod: &Value, container: &Value, dir: &Path) -> Result<Vec<String>, String> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let by_name: BTreeMap<&str, &Value> = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["name"].as_str()?, v)))
        .collect();
    let mut paths = Vec::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let (Some(name), Some(at)) = (mount["name"].as_str(), mount["mountPath"].as_str()) else {
            continue;
        };
        let volume = by_name.get(name).ok_or_else(|| format!("no volume {name}"))?;
        let target = dir.join(at.trim_start_matches('/'));
        if let Some(secret) = volume["secret"]["secretName"].as_str() {
            let out = kubectl(&["get", "secret", secret, "-n", namespace, "-o", "json"]);
            let object: Value =
                serde_json::from_str(&out.stdout).map_err(|_| format!("secret {secret}: {}", out.stderr))?;
            std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
            let items: Vec<(String, String)> = match volume["secret"]["items"].as_array() {
                Some(items) => items
                    .iter()
                    .filter_map(|i| Some((i["key"].as_str()?.to_owned(), i["path"].as_str()?.to_owned())))
                    .collect(),
                None => object["data"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| (k.clone(), k.clone()))
                    .collect(),
            };
            for (key, path) in items {
                let encoded = object["data"][&key].as_str().unwrap_or_default();
                let bytes = STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("secret {secret} key {key}: {e}"))?;
                let file = target.join(&path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
            }
        } else if volume["emptyDir"].is_object() {
            std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
        } else if volume["projected"].is_null() {
            return Err(format!("volume {name} is neither a Secret nor an emptyDir"));
        }
        paths.push(at.to_owned());
    }
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    Ok(paths)
}

/// Starts the Pod's first container.
fn launch(config: &PodsConfig, pod: &Value) -> Result<Running, String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("pod");
    let container = &pod["spec"]["containers"][0];
    let dir = std::env::temp_dir().join(format!("ade-e2e-pod-{uid}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mounts = volumes(pod, container, &dir)?;
    let map = |text: &str| {
        mounts.iter().fold(text.to_owned(), |t, m| {
            t.replace(m.as_str(), &dir.join(m.trim_start_matches('/')).display().to_string())
        })
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(&map))
            .collect()
    };
    let mut argv = strings(&container["command"]);
    argv.extend(strings(&container["args"]));
    let program = argv
        .first()
        .and_then(|p| config.binaries.get(p.rsplit('/').next().unwrap_or(p)))
        .ok_or_else(|| format!("no host binary for {:?}", argv.first()))?;
    let mut command = host_command(program, &dir.join("log")).map_err(|e| e.to_string())?;
    command.args(&argv[1..]).env("HOSTNAME", &name);
    let mut own = Vec::new();
    for e in container["env"].as_array().into_iter().flatten() {
        let Some(key) = e["name"].as_str() else { continue };
        let value = match (e["value"].as_str(), e["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
            (Some(v), _) => map(v),
            (None, Some(path)) => field(pod, path).ok_or_else(|| format!("env {key}: fieldRef {path}"))?,
            (None, None) if e["valueFrom"].is_null() => String::new(),
            _ => return Err(format!("env {key}: only values and fieldRefs are supported")),
        };
        command.env(key, value);
        own.push(key.to_owned());
    }
    for (k, v) in &config.env {
        if !own.contains(k) {
            command.env(k, v);
        }
    }
    let mut ports = BTreeMap::new();
    for (port, variable) in &config.ports {
        let declared = container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == port.as_str());
        if declared {
            let free = free_port();
            command.env(variable, format!("127.0.0.1:{free}"));
            ports.insert(port.clone(), free);
        }
    }
    if pod["spec"]["automountServiceAccountToken"] != false {
        let account = pod["spec"]["serviceAccountName"].as_str().unwrap_or("default");
        let path = dir.join("kubeconfig");
        token_kubeconfig(account, namespace, &path);
        command.env("KUBECONFIG", &path);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    Ok(Running {
        name,
        dir,
        child,
        terminating: None,
        gone: false,
        restarts: 0,
        ports,
    })
}

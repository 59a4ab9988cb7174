//! EMR steps whose command is ours, run as host processes: moto keeps EMR's
//! bookkeeping but never runs a step, so for a test about what a step does
//! (a StreamConsumer on runtime emr runs `ade-stream` as one) this plays the
//! cluster's nodes:
//!
//! - a `command-runner.jar` step `env K=V… /usr/local/bin/ade-stream` whose
//!   program is in `binaries` is started when it is RUNNING (a PENDING one is
//!   first moved to RUNNING through moto's control endpoint, as EMR does when
//!   a slot is free), with the `K=V` pairs over `env` (what the instance
//!   profile and the node give: credentials, a free metrics port);
//! - its exit moves the step to COMPLETED (0) or FAILED;
//! - a cancelled step's process gets SIGTERM; a process whose cluster ended
//!   gets SIGKILL (the nodes are gone);
//! - [`EmrSteps::kill`] sends SIGKILL (a crash on the node).
//!
//! It polls moto with boto3 once a second.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use serde_json::Value;

use crate::{
    moto::Moto,
    process::{host_command, send_signal},
};

/// One step's process.
#[derive(Debug)]
struct Running {
    cluster: String,
    child: Child,
    signalled: bool,
}

#[derive(Debug, Default)]
struct Table {
    running: BTreeMap<String, Running>,
    /// Exit codes by step id (`None`: ended by a signal).
    exits: BTreeMap<String, Option<i32>>,
    logs: BTreeMap<String, PathBuf>,
}

/// What [`EmrSteps::start`] needs.
#[derive(Debug, Clone)]
pub struct EmrStepsConfig {
    /// The program path in the step (e.g. `/usr/local/bin/ade-stream`) to host binary.
    pub binaries: BTreeMap<String, PathBuf>,
    /// Environment of every process, under the step's own `K=V` pairs.
    pub env: Vec<(String, String)>,
}

/// Runs the steps of every cluster of a moto until dropped.
#[derive(Debug)]
pub struct EmrSteps {
    table: Arc<Mutex<Table>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the poll needs of moto (a [`Moto`] stays with the test).
#[derive(Debug, Clone)]
struct Emulator {
    python: PathBuf,
    env: Vec<(String, String)>,
    port: u16,
}

impl EmrSteps {
    pub fn start(moto: &Moto, config: EmrStepsConfig) -> Self {
        let emulator = Emulator {
            python: moto.python(),
            env: moto.env(),
            port: moto.port(),
        };
        let table: Arc<Mutex<Table>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), table.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                tick(&emulator, &config, &shared);
                std::thread::sleep(Duration::from_secs(1));
            }
            let mut table = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for r in table.running.values_mut() {
                send_signal(r.child.id(), "TERM", true);
            }
            for r in table.running.values_mut() {
                for _ in 0..200 {
                    if matches!(r.child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                send_signal(r.child.id(), "KILL", true);
                let _ = r.child.wait();
            }
        });
        Self {
            table,
            stop,
            thread: Some(thread),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// (cluster, step) of every process running now.
    pub fn running(&self) -> Vec<(String, String)> {
        self.table()
            .running
            .iter()
            .map(|(step, r)| (r.cluster.clone(), step.clone()))
            .collect()
    }

    /// How the step's process ended, once it did (`Some(None)`: by a signal).
    pub fn exit(&self, step: &str) -> Option<Option<i32>> {
        self.table().exits.get(step).copied()
    }

    /// SIGKILL to the step's process: a crash on the node.
    pub fn kill(&self, step: &str) -> bool {
        self.table()
            .running
            .get(step)
            .is_some_and(|r| send_signal(r.child.id(), "KILL", true))
    }

    /// What the step's process wrote.
    pub fn log(&self, step: &str) -> String {
        self.table()
            .logs
            .get(step)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for EmrSteps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every cluster with its state and steps: `[{cluster, state, steps: [{id, state, args}]}]`;
/// `None` when moto could not be asked (the round is skipped, nothing is signalled).
fn clusters(emulator: &Emulator) -> Option<Vec<Value>> {
    let script = "import boto3, json\n\
        emr = boto3.client('emr')\n\
        out = []\n\
        for c in emr.list_clusters()['Clusters']:\n\
        \x20   steps = emr.list_steps(ClusterId=c['Id'])['Steps']\n\
        \x20   out.append({'cluster': c['Id'], 'state': c['Status']['State'], 'steps': [\n\
        \x20       {'id': s['Id'], 'state': s['Status']['State'], 'args': s['Config'].get('Args', [])} for s in steps]})\n\
        print(json.dumps(out))\n";
    let out = Command::new(&emulator.python)
        .args(["-c", script])
        .envs(emulator.env.iter().map(|(k, v)| (k, v)))
        .output();
    match out {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout).ok(),
        _ => None,
    }
}

/// POSTs `body` to moto's control endpoint `path`.
fn control(port: u16, path: &str, body: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(request.as_bytes());
    let _ = stream.read_to_end(&mut Vec::new());
}

fn set_step_state(emulator: &Emulator, cluster: &str, step: &str, state: &str) {
    let body = serde_json::json!({"clusterId": cluster, "stepId": step, "state": state}).to_string();
    control(emulator.port, "/ade-control/emr/step-state", &body);
}

/// An `env K=V… program args…` step: the host program, the pairs, the arguments.
type StepCommand = (PathBuf, Vec<(String, String)>, Vec<String>);

/// The command of an `env K=V… program args…` step whose program is in `binaries`.
fn command(args: &[String], binaries: &BTreeMap<String, PathBuf>) -> Option<StepCommand> {
    let (first, rest) = args.split_first()?;
    (first == "env").then_some(())?;
    let split = rest.iter().position(|a| !a.contains('='))?;
    let pairs = rest[..split]
        .iter()
        .filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let program = binaries.get(&rest[split])?.clone();
    Some((program, pairs, rest[split + 1..].to_vec()))
}

fn tick(emulator: &Emulator, config: &EmrStepsConfig, table: &Mutex<Table>) {
    let Some(clusters) = clusters(emulator) else { return };
    let mut table = table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let step_state = |id: &str| -> Option<(String, String)> {
        clusters.iter().find_map(|c| {
            let s = c["steps"].as_array()?.iter().find(|s| s["id"] == id)?;
            Some((
                c["state"].as_str().unwrap_or_default().to_owned(),
                s["state"].as_str().unwrap_or_default().to_owned(),
            ))
        })
    };
    // Processes: signal those whose step or cluster ended, report those that exited.
    let mut ended = Vec::new();
    for (step, r) in &mut table.running {
        // A step moto does not list (yet) is left alone.
        let Some((cluster_state, state)) = step_state(step) else {
            continue;
        };
        if cluster_state.starts_with("TERMINAT") {
            send_signal(r.child.id(), "KILL", true);
        } else if state != "RUNNING" && !r.signalled {
            send_signal(r.child.id(), "TERM", true);
            r.signalled = true;
        }
        if let Ok(Some(status)) = r.child.try_wait() {
            if state == "RUNNING" && !cluster_state.starts_with("TERMINAT") {
                let outcome = if status.success() { "COMPLETED" } else { "FAILED" };
                set_step_state(emulator, &r.cluster, step, outcome);
            }
            ended.push((step.clone(), status.code()));
        }
    }
    for (step, code) in ended {
        table.running.remove(&step);
        table.exits.insert(step, code);
    }
    // Steps to run: ours, on a live cluster, not run before.
    for c in &clusters {
        let cluster = c["cluster"].as_str().unwrap_or_default();
        if c["state"].as_str().unwrap_or_default().starts_with("TERMINAT") {
            continue;
        }
        for s in c["steps"].as_array().into_iter().flatten() {
            let id = s["id"].as_str().unwrap_or_default().to_owned();
            let args: Vec<String> = s["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let Some((program, pairs, rest)) = command(&args, &config.binaries) else {
                continue;
            };
            if table.running.contains_key(&id) || table.exits.contains_key(&id) {
                continue;
            }
            match s["state"].as_str() {
                Some("PENDING") => set_step_state(emulator, cluster, &id, "RUNNING"),
                Some("RUNNING") => {}
                _ => continue,
            }
            let log = std::env::temp_dir().join(format!("ade-e2e-step-{id}.log"));
            let Ok(mut command) = host_command(&program, &log) else {
                continue;
            };
            command
                .args(&rest)
                .envs(config.env.iter().map(|(k, v)| (k, v)))
                .envs(pairs);
            match command.spawn() {
                Ok(child) => {
                    table.logs.insert(id.clone(), log);
                    table.running.insert(
                        id,
                        Running {
                            cluster: cluster.to_owned(),
                            child,
                            signalled: false,
                        },
                    );
                }
                Err(e) => eprintln!("e2e emr steps: cannot run {}: {e}", program.display()),
            }
        }
    }
}

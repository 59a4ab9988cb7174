//! The kubelets of an eks pool's nodes, played against moto: moto keeps the
//! EC2 bookkeeping of the instances the operator launches (instant
//! `CreateFleet`) but boots nothing, so for a test of the eks provider this
//! joins them to the local control plane as `nodeadm` and the kubelet would:
//!
//! - a `running` instance tagged `ade.dev/managed-by` (of one pool, when
//!   given) has its user data read ([`crate::ec2`]: `DescribeInstanceAttribute
//!   userData`, else the launch template version its instant fleet launched
//!   it from) and decoded ([`crate::nodeadm`]);
//! - it registers as a Node named after its private DNS name (EC2's
//!   `ip-….ec2.internal`), with the labels of `--node-labels`, the taints of
//!   `--register-with-taints`, `spec.providerID` `aws:///<zone>/<id>` and the
//!   capacity of its instance type; the annotation `kwok.x-k8s.io/node: fake`
//!   has kwok (e2e/cluster) make it Ready, renew its Lease and run the Pods
//!   bound to it (e2e/kwok);
//! - the Node of an instance that is `shutting-down` or `terminated` (or no
//!   longer listed) is deleted, as the cloud node lifecycle controller does;
//! - [`EksNodes::hold`] and [`EksNodes::pause`] keep instances from joining
//!   (a node that never registers);
//! - [`EksNodes::events`] says which Node joined and left, and when.
//!
//! It polls moto with boto3 a second after each round (a round is a Python
//! process of about a second); the Nodes it registered and that are still
//! there are deleted when it is dropped.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::{
    ec2::{Ec2, Instance},
    kubectl, kubectl_with_stdin,
    moto::Moto,
    nodeadm::{Registration, registration_of},
};

/// Label of every Node this harness registers.
pub const LABEL_PLAYED: &str = "e2e.ade.dev/eks-node";

/// An instance registered as a Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The instance, as listed when it joined.
    pub instance: Instance,
    /// The Node's name.
    pub node: String,
    /// What its user data said.
    pub registration: Registration,
    /// When the Node was created.
    pub at: Timestamp,
}

/// What happened to a Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created for a running instance.
    Registered,
    /// Deleted because its instance went away; whether it was cordoned then.
    Deleted {
        /// `spec.unschedulable` just before the deletion.
        cordoned: bool,
    },
}

/// A Node registered or deleted by [`EksNodes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    /// When.
    pub at: Timestamp,
    /// What.
    pub change: Change,
    /// The instance.
    pub instance: String,
    /// The Node.
    pub node: String,
}

#[derive(Debug, Default)]
struct Table {
    /// Every instance registered, by id (its Node may be gone).
    joined: BTreeMap<String, Joined>,
    /// Instances whose Node was deleted: never registered again.
    gone: BTreeSet<String>,
    held: BTreeSet<String>,
    paused: bool,
    /// Running instances kept from joining by a hold or the pause.
    waiting: BTreeSet<String>,
    /// Instances whose user data could not be read, and why.
    failures: BTreeMap<String, String>,
    events: Vec<NodeEvent>,
}

/// Registers the instances of a moto as Nodes until dropped.
#[derive(Debug)]
pub struct EksNodes {
    table: Arc<Mutex<Table>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EksNodes {
    /// Plays the kubelets of the instances of `moto` tagged
    /// `ade.dev/managed-by`, of pool `pool_uid` only when given.
    pub fn start(moto: &Moto, pool_uid: Option<&str>) -> Self {
        Self::start_on(Ec2::of(moto), pool_uid)
    }

    /// [`start`](Self::start) against the moto `ec2` reaches.
    pub fn start_on(ec2: Ec2, pool_uid: Option<&str>) -> Self {
        let pool_uid = pool_uid.map(str::to_owned);
        let table: Arc<Mutex<Table>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), table.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                tick(&ec2, pool_uid.as_deref(), &shared);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Self {
            table,
            stop,
            thread: Some(thread),
        }
    }

    /// Never registers `instance` (until [`release`](Self::release)): it
    /// never joins, as with a wrong instance profile. Racy for an instance
    /// seen already; [`pause`](Self::pause) before it is launched instead.
    pub fn hold(&self, instance: &str) {
        lock(&self.table).held.insert(instance.to_owned());
    }

    /// Lets `instance` register again.
    pub fn release(&self, instance: &str) {
        let mut table = lock(&self.table);
        table.held.remove(instance);
        table.waiting.remove(instance);
    }

    /// Registers no new instance until [`resume`](Self::resume).
    pub fn pause(&self) {
        lock(&self.table).paused = true;
    }

    /// Registers new instances again (the held ones excepted).
    pub fn resume(&self) {
        let mut table = lock(&self.table);
        table.paused = false;
        let held = table.held.clone();
        table.waiting.retain(|id| held.contains(id));
    }

    /// Running instances kept from joining by a hold or the pause.
    pub fn waiting(&self) -> Vec<String> {
        lock(&self.table).waiting.iter().cloned().collect()
    }

    /// Every instance registered so far (its Node may be gone since).
    pub fn joined(&self) -> Vec<Joined> {
        lock(&self.table).joined.values().cloned().collect()
    }

    /// The instances whose Node is there now.
    pub fn live(&self) -> Vec<Joined> {
        let table = lock(&self.table);
        let gone = &table.gone;
        table
            .joined
            .values()
            .filter(|j| !gone.contains(&j.instance.id))
            .cloned()
            .collect()
    }

    /// The Node `instance` registered as, if it did.
    pub fn node_of(&self, instance: &str) -> Option<String> {
        lock(&self.table).joined.get(instance).map(|j| j.node.clone())
    }

    /// Registrations and deletions, oldest first.
    pub fn events(&self) -> Vec<NodeEvent> {
        lock(&self.table).events.clone()
    }

    /// Instances whose user data could not be read as a `NodeConfig`, and why.
    pub fn failures(&self) -> BTreeMap<String, String> {
        lock(&self.table).failures.clone()
    }
}

impl Drop for EksNodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let nodes: Vec<String> = self.live().into_iter().map(|j| j.node).collect();
        if !nodes.is_empty() {
            let mut args = vec!["delete", "node", "--ignore-not-found", "--wait=false"];
            args.extend(nodes.iter().map(String::as_str));
            let _ = kubectl(&args);
        }
    }
}

fn tick(ec2: &Ec2, pool_uid: Option<&str>, table: &Mutex<Table>) {
    // Instances whose user data is not needed this round.
    let skip: BTreeSet<String> = {
        let t = lock(table);
        let mut skip: BTreeSet<String> = t
            .joined
            .keys()
            .chain(t.failures.keys())
            .chain(&t.held)
            .cloned()
            .collect();
        if t.paused {
            skip.extend(t.waiting.iter().cloned());
        }
        skip
    };
    let Some(instances) = ec2.list(pool_uid, Some(&skip)) else {
        return;
    };
    let leaving: Vec<(String, String)> = {
        let t = lock(table);
        t.joined
            .iter()
            .filter(|(id, _)| !t.gone.contains(*id))
            .filter(|(id, _)| !instances.iter().any(|i| &i.id == *id && i.is_live()))
            .map(|(id, j)| (id.clone(), j.node.clone()))
            .collect()
    };
    for (instance, node) in leaving {
        match unregister(&node) {
            Ok(cordoned) => {
                let mut t = lock(table);
                t.gone.insert(instance.clone());
                t.events.push(NodeEvent {
                    at: Timestamp::now(),
                    change: Change::Deleted { cordoned },
                    instance,
                    node,
                });
            }
            Err(e) => eprintln!("e2e eks nodes: deleting Node {node}: {e}"),
        }
    }
    for instance in instances.iter().filter(|i| i.state == "running") {
        {
            let mut t = lock(table);
            if t.joined.contains_key(&instance.id) || t.failures.contains_key(&instance.id) {
                continue;
            }
            if t.paused || t.held.contains(&instance.id) {
                t.waiting.insert(instance.id.clone());
                continue;
            }
            t.waiting.remove(&instance.id);
        }
        if skip.contains(&instance.id) {
            // Released since the listing: its user data comes next round.
            continue;
        }
        let read = instance
            .user_data
            .as_deref()
            .ok_or_else(|| "moto has no user data for it (instance attribute or launch template)".to_owned())
            .and_then(registration_of);
        let registration = match read {
            Ok(r) => r,
            Err(why) => {
                eprintln!("e2e eks nodes: instance {} does not join: {why}", instance.id);
                lock(table).failures.insert(instance.id.clone(), why);
                continue;
            }
        };
        let node = instance.node_name();
        match register(instance, &node, &registration) {
            Ok(()) => {
                let at = Timestamp::now();
                let mut t = lock(table);
                t.events.push(NodeEvent {
                    at,
                    change: Change::Registered,
                    instance: instance.id.clone(),
                    node: node.clone(),
                });
                let joined = Joined {
                    instance: instance.clone(),
                    node,
                    registration,
                    at,
                };
                t.joined.insert(instance.id.clone(), joined);
            }
            // The API server may be restarting: the next round tries again.
            Err(e) => eprintln!("e2e eks nodes: registering {} as Node {node}: {e}", instance.id),
        }
    }
}

/// (capacity CPU, capacity memory, allocatable CPU, allocatable memory, Pods)
/// of a node of `instance_type`, as on EKS: allocatable leaves kube-reserved
/// (CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25%
/// of the rest; memory: 255Mi + 11Mi per Pod) and the 100Mi eviction threshold.
fn sizes(instance_type: &str) -> Option<[&'static str; 5]> {
    Some(match instance_type {
        "m5.large" => ["2", "8Gi", "1930m", "7518Mi", "29"],
        "m5.xlarge" => ["4", "16Gi", "3920m", "15391Mi", "58"],
        "m5.2xlarge" => ["8", "32Gi", "7910m", "31775Mi", "58"],
        _ => return None,
    })
}

/// The Node a kubelet registers for `instance` as `node`, in the shape of
/// e2e/cluster's fake Nodes (kwok manages it and makes it Ready).
fn node_object(instance: &Instance, node: &str, registration: &Registration) -> Value {
    let region = instance.zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let mut labels: BTreeMap<String, String> = [
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/os", "linux"),
        ("node.kubernetes.io/instance-type", instance.instance_type.as_str()),
        ("topology.kubernetes.io/region", region),
        ("topology.kubernetes.io/zone", instance.zone.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    labels.extend(registration.labels.clone());
    labels.insert("kubernetes.io/hostname".to_owned(), node.to_owned());
    labels.insert(LABEL_PLAYED.to_owned(), "true".to_owned());
    let taints: Vec<Value> = registration
        .taints
        .iter()
        .map(|t| match t.value.as_str() {
            "" => json!({"key": t.key, "effect": t.effect}),
            value => json!({"key": t.key, "value": value, "effect": t.effect}),
        })
        .collect();
    let mut addresses = vec![
        json!({"type": "InternalDNS", "address": node}),
        json!({"type": "Hostname", "address": node}),
    ];
    if !instance.private_ip.is_empty() {
        addresses.insert(0, json!({"type": "InternalIP", "address": instance.private_ip}));
    }
    let mut status = json!({"addresses": addresses});
    match sizes(&instance.instance_type) {
        Some([cpu, memory, allocatable_cpu, allocatable_memory, pods]) => {
            status["capacity"] = json!({"cpu": cpu, "memory": memory, "pods": pods});
            status["allocatable"] = json!({"cpu": allocatable_cpu, "memory": allocatable_memory, "pods": pods});
        }
        None => eprintln!(
            "e2e eks nodes: no size known for {}: Node {node} gets kwok's (32 CPU, 256Gi)",
            instance.instance_type
        ),
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"providerID": instance.provider_id(), "taints": taints},
        "status": status,
    })
}

/// Creates Node `node` for `instance`. A Node of that name left by another
/// instance (moto gives the same addresses to every test's subnet) is replaced.
fn register(instance: &Instance, node: &str, registration: &Registration) -> Result<(), String> {
    let object = node_object(instance, node, registration).to_string();
    for _ in 0..2 {
        let out = kubectl_with_stdin(&["create", "-f", "-"], &object);
        if out.success {
            return Ok(());
        }
        if !out.stderr.contains("AlreadyExists") {
            return Err(out.stderr);
        }
        let existing = kubectl(&["get", "node", node, "-o", "jsonpath={.spec.providerID}"]);
        if existing.success && existing.stdout.trim() == instance.provider_id() {
            return Ok(());
        }
        let _ = kubectl(&[
            "delete",
            "node",
            node,
            "--ignore-not-found",
            "--wait=true",
            "--timeout=30s",
        ]);
    }
    Err(format!(
        "Node {node} exists for another instance and could not be replaced"
    ))
}

/// Deletes Node `node`: whether it was cordoned (`spec.unschedulable`) then.
fn unregister(node: &str) -> Result<bool, String> {
    let cordoned = kubectl(&["get", "node", node, "-o", "jsonpath={.spec.unschedulable}"])
        .stdout
        .trim()
        == "true";
    let out = kubectl(&["delete", "node", node, "--ignore-not-found", "--wait=false"]);
    if out.success { Ok(cordoned) } else { Err(out.stderr) }
}

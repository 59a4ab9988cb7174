//! The e2e executors as a process, for the demo (hack/demo.sh): runs Pods of
//! one namespace as host processes until killed (kwok runs no containers).
//!
//! Usage: `ade-e2e-executor NAMESPACE COMPONENT|SELECTOR NAME=PATH...`:
//! - a component (`validation`) runs Job Pods to completion
//!   (`ade_e2e::executor`), e.g.
//!   `ade-e2e-executor demo-quality validation ade-validate=target/debug/ade-validate`;
//! - a label selector (it has a `=`) runs long-lived Deployment Pods
//!   (`ade_e2e::pods`), each with a free metrics port, e.g.
//!   `ade-e2e-executor demo-stream ade.dev/stream-consumer=app-events ade-stream=target/debug/ade-stream`;
//!   with `ADE_E2E_PIDS_FILE` set, that file holds the pids of the processes
//!   running now (the demo stops them by pid should this process die first).
//!
//! - `ade-e2e-executor eks-nodes POOL_UID` plays the kubelets of an eks
//!   pool's nodes (`ade_e2e::eks_nodes`) against the moto `AWS_ENDPOINT_URL`
//!   names, with boto3 from `ADE_E2E_PYTHON` (moto's virtualenv).
//!
//! The `AWS_*` and `ADE_STREAM_*` variables of its environment are added to
//! every process (as a node's role would provide credentials);
//! `KUBECONFIG` names the cluster.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use ade_e2e::{
    Executor,
    ec2::Ec2,
    eks_nodes::EksNodes,
    pods::{Pods, PodsConfig},
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(namespace), Some(what)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: ade-e2e-executor NAMESPACE COMPONENT|SELECTOR NAME=PATH... | ade-e2e-executor eks-nodes POOL_UID"
        );
        std::process::exit(2);
    };
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("ADE_STREAM_"))
        .collect();
    if namespace == "eks-nodes" {
        let Some(python) = std::env::var_os("ADE_E2E_PYTHON") else {
            eprintln!("ade-e2e-executor eks-nodes: set ADE_E2E_PYTHON to moto's virtualenv python");
            std::process::exit(2);
        };
        let _kubelets = EksNodes::start_on(Ec2::new(PathBuf::from(python), env), Some(what));
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let mut binaries = BTreeMap::new();
    for mapping in &args[2..] {
        let Some((name, path)) = mapping.split_once('=') else {
            eprintln!("ade-e2e-executor: {mapping:?} is not NAME=PATH");
            std::process::exit(2);
        };
        binaries.insert(name.to_owned(), PathBuf::from(path));
    }
    if what.contains('=') {
        let _pods = Pods::start(PodsConfig {
            binaries,
            pids_file: std::env::var_os("ADE_E2E_PIDS_FILE").map(PathBuf::from),
            ..PodsConfig::ade_stream(namespace, what, env)
        });
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let executor = Executor::start(namespace, what, binaries, env);
    while executor.is_running() {
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!("ade-e2e-executor: stopped (see the message above)");
    std::process::exit(1);
}

//! The e2e executor as a process, for the demo (hack/demo.sh): runs the
//! Pods of one component in one namespace as host processes until killed
//! (see `ade_e2e::executor`; kwok runs no containers).
//!
//! Usage: `ade-e2e-executor NAMESPACE COMPONENT NAME=PATH...`, e.g.
//! `ade-e2e-executor demo-quality validation ade-validate=target/debug/ade-validate`.
//! The `AWS_*` variables of its environment are added to every process (as a
//! node's role would provide credentials); `KUBECONFIG` names the cluster.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use ade_e2e::Executor;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(namespace), Some(component)) = (args.first(), args.get(1)) else {
        eprintln!("usage: ade-e2e-executor NAMESPACE COMPONENT NAME=PATH...");
        std::process::exit(2);
    };
    let mut binaries = BTreeMap::new();
    for mapping in &args[2..] {
        let Some((name, path)) = mapping.split_once('=') else {
            eprintln!("ade-e2e-executor: {mapping:?} is not NAME=PATH");
            std::process::exit(2);
        };
        binaries.insert(name.to_owned(), PathBuf::from(path));
    }
    let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect();
    let executor = Executor::start(namespace, component, binaries, env);
    while executor.is_running() {
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!("ade-e2e-executor: stopped (see the message above)");
    std::process::exit(1);
}

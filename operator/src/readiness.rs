//! Readiness: the operator is ready only while every ADE CRD is installed and
//! established, so a Deployment rolled out before its CRDs does not report
//! ready while its watches fail.

use std::{sync::Mutex, time::Duration};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::{api, metrics::Metrics};

/// What `/readyz` reports.
#[derive(Debug)]
pub struct Readiness {
    problem: Mutex<Option<String>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            problem: Mutex::new(Some("CRDs not checked yet".to_owned())),
        }
    }
}

impl Readiness {
    /// Why the operator is not ready, or `None` when it is.
    pub fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn set(&self, problem: Option<String>) {
        match self.problem.lock() {
            Ok(mut p) => *p = problem,
            Err(e) => *e.into_inner() = problem,
        }
    }
}

/// The names of every CRD the operator needs.
pub fn required_crds() -> Vec<String> {
    api::crds().into_iter().filter_map(|crd| crd.metadata.name).collect()
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

/// Checks the CRDs every `interval` until `shutdown`.
pub async fn watch_crds(
    client: Client,
    readiness: std::sync::Arc<Readiness>,
    metrics: std::sync::Arc<Metrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let names = required_crds();
    loop {
        let mut missing = Vec::new();
        let mut error = None;
        for name in &names {
            match api.get_opt(name).await {
                Ok(Some(crd)) if established(&crd) => {}
                Ok(_) => missing.push(name.as_str()),
                Err(e) => error = Some(format!("cannot read CRD {name}: {e}")),
            }
        }
        let problem = match (error, missing.is_empty()) {
            (Some(e), _) => Some(e),
            (None, false) => Some(format!(
                "CRDs not installed or not established: {}; install them with `kubectl apply -f crds/` or the Helm chart",
                missing.join(", ")
            )),
            (None, true) => None,
        };
        if let Some(p) = &problem {
            tracing::warn!(problem = %p, "not ready");
        }
        metrics.crds_installed.set(if problem.is_none() { 1.0 } else { 0.0 });
        readiness.set(problem);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

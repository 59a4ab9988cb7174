//! `Ready` and `Degraded` of a consumer on runtime `kubernetes`, from its
//! Deployment and the worker leases of its replicas.
//!
//! - `Ready=True` (`Consuming`): the Deployment has all desired replicas
//!   available and at least one live replica works (no error on its lease).
//! - `Degraded=True` with the reason the replicas report (`StreamNotFound`,
//!   `CredentialsRefused`, `SinkUnwritable`, `InvalidConfig`) and what to do
//!   about it, or `ReplicaFailure` when the Deployment cannot create pods.
//!
//! Pure.

use k8s_openapi::api::apps::v1::Deployment;

use super::leases::Worker;
use crate::controllers::conditions::{Desired, Status};

/// What the conditions say things about.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// The consumer.
    pub consumer: &'a str,
    /// Its children's name (Deployment, ServiceAccount).
    pub children: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// Stream region.
    pub region: &'a str,
    /// Sink URI.
    pub sink: &'a str,
    /// Replicas asked for.
    pub desired: i32,
}

/// The reasons `ade-stream` reports, as condition reasons.
fn known_reason(reason: &str) -> &'static str {
    match reason {
        "StreamNotFound" => "StreamNotFound",
        "CredentialsRefused" => "CredentialsRefused",
        "SinkUnwritable" => "SinkUnwritable",
        "InvalidConfig" => "InvalidConfig",
        _ => "ConsumerError",
    }
}

/// What a person does about `reason`.
fn hint(reason: &str, f: &Facts<'_>) -> String {
    match reason {
        "StreamNotFound" => format!(
            "Kinesis stream {} was not found in {}: create it, or correct spec.source.kinesis.streamName and region",
            f.stream, f.region
        ),
        "CredentialsRefused" => format!(
            "AWS refused the credentials of the consumer's pods: give ServiceAccount {}/{} a role that may read stream {} and write to {} (for IRSA, annotate it with eks.amazonaws.com/role-arn)",
            f.namespace, f.children, f.stream, f.sink
        ),
        "SinkUnwritable" => format!(
            "records cannot be written to {}: check that the bucket exists and that the pods' role may put objects there",
            f.sink
        ),
        "InvalidConfig" => "ade-stream rejected the configuration the operator gave it: run an ade-stream image of the operator's version (spec.image, or the operator's --stream-image)".to_owned(),
        other => format!("a replica reports {other}"),
    }
}

/// The replicas of `deployment` available now, if it has caught up with its spec.
fn available(deployment: &Deployment) -> i32 {
    let status = deployment.status.clone().unwrap_or_default();
    let current = status.observed_generation >= deployment.metadata.generation;
    if current {
        status
            .available_replicas
            .unwrap_or(0)
            .min(status.updated_replicas.unwrap_or(0))
    } else {
        0
    }
}

fn replica_failure(deployment: &Deployment) -> Option<String> {
    let status = deployment.status.as_ref()?;
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        .map(|c| {
            c.message
                .clone()
                .unwrap_or_else(|| "the Deployment cannot create pods".into())
        })
}

/// `Degraded=True` with the reason most live replicas report, if any reports one.
pub fn reported_error(f: &Facts<'_>, workers: &[Worker]) -> Option<Desired> {
    let failing: Vec<&Worker> = workers.iter().filter(|w| w.error.is_some()).collect();
    failing.first()?;
    // The reason most replicas report; ties go to the first pod by name.
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for w in &failing {
        let r = w.error.as_ref().map(|e| e.0.as_str()).unwrap_or_default();
        match reasons.iter_mut().find(|(x, _)| *x == r) {
            Some(entry) => entry.1 += 1,
            None => reasons.push((r, 1)),
        }
    }
    let (reason, count) = reasons
        .iter()
        .fold(reasons[0], |best, &c| if c.1 > best.1 { c } else { best });
    let example = failing
        .iter()
        .find(|w| w.error.as_ref().is_some_and(|e| e.0 == reason))
        .and_then(|w| w.error.as_ref().map(|e| format!("{}: {}", w.pod, e.1)))
        .unwrap_or_default();
    Some(Desired::new(
        "Degraded",
        Status::True,
        known_reason(reason),
        format!(
            "{} ({count} of {} live replicas report {reason}; {example})",
            hint(reason, f),
            workers.len()
        ),
    ))
}

/// `Ready` and `Degraded`.
pub fn conditions(f: &Facts<'_>, deployment: Option<&Deployment>, workers: &[Worker]) -> (Desired, Desired) {
    let failing: Vec<&Worker> = workers.iter().filter(|w| w.error.is_some()).collect();
    let degraded = match reported_error(f, workers) {
        Some(degraded) => degraded,
        None => match deployment.and_then(replica_failure) {
            Some(message) => Desired::new(
                "Degraded",
                Status::True,
                "ReplicaFailure",
                format!("Deployment {} cannot create pods: {message}", f.children),
            ),
            None => Desired::new("Degraded", Status::False, "Healthy", "no replica reports an error"),
        },
    };

    let selector = format!("-n {} -l ade.dev/stream-consumer={}", f.namespace, f.consumer);
    let working = workers.len() - failing.len();
    let ready = match deployment {
        None => Desired::new(
            "Ready",
            Status::False,
            "Creating",
            format!("creating Deployment {}", f.children),
        ),
        Some(d) if available(d) < f.desired => Desired::new(
            "Ready",
            Status::False,
            "ReplicasUnavailable",
            format!(
                "{} of {} ade-stream replicas are available (Deployment {}); a pod that stays unavailable is explained by kubectl describe pods {selector}",
                available(d),
                f.desired,
                f.children
            ),
        ),
        Some(_) if workers.is_empty() => Desired::new(
            "Ready",
            Status::False,
            "NoLiveWorkers",
            format!(
                "the pods run, but no ade-stream replica has renewed its worker lease in the last 30s: see kubectl logs {selector}"
            ),
        ),
        Some(_) if working == 0 => Desired::new(
            "Ready",
            Status::False,
            degraded.reason,
            "no replica can consume: see the Degraded condition",
        ),
        Some(_) => Desired::new(
            "Ready",
            Status::True,
            "Consuming",
            format!("{working} of {} replicas consuming", f.desired),
        ),
    };
    (ready, degraded)
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;

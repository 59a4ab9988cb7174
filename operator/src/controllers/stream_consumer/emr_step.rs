//! A consumer on runtime `emr` is one long-running EMR step on a cluster of
//! its pool, running `ade-stream` with the same configuration document as a
//! pod and the DynamoDB lease store. This module decides, from the steps
//! found on the pool's clusters, what the reconcile does next, and builds
//! the step:
//!
//! - **Attempts.** Every step is an attempt, numbered in the status before it
//!   is added; its name carries (namespace, consumer, attempt, uid), so a
//!   reconcile that crashed between adding and recording adopts it by name.
//! - **Restarts.** A step that ended (failed, interrupted, cancelled by
//!   someone else, or even completed: a consumer never finishes) or whose
//!   cluster is gone makes the next attempt, after a backoff of 10 s doubling
//!   up to 5 minutes.
//! - **Spec changes.** A step built from an older generation is cancelled,
//!   and the next attempt is added once it has let go of its slot (no
//!   failure, no backoff). During a restart's backoff the next attempt simply
//!   uses the new spec.
//! - **Strays.** Any other active step of the consumer (an older attempt) is
//!   cancelled.
//!
//! Pure.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::{
    api::v1alpha1::{EmrStepStatus, StreamConsumer, StreamRuntime, Time},
    providers::service::{FoundStep, STREAM_BINARY},
};

/// `state` while no cluster of the pool has room for the step.
pub const WAITING: &str = "WaitingForCluster";
/// `state` after a failure, until `nextRestartAt`.
pub const RESTART_PENDING: &str = "RestartPending";

/// The prefix of every step name of a consumer: `ade-stream:<ns>/<name>#`.
pub fn name_prefix(namespace: &str, consumer: &str) -> String {
    format!("ade-stream:{namespace}/{consumer}#")
}

/// The name of attempt `attempt`: `ade-stream:<ns>/<name>#<attempt> <uid>`
/// (EMR allows 256 characters; namespace and name fit in 253 + 63).
pub fn step_name(namespace: &str, consumer: &str, attempt: i32, uid: &str) -> String {
    let tail = format!("{attempt} {uid}");
    let head: String = name_prefix(namespace, consumer)
        .chars()
        .take(256usize.saturating_sub(tail.len()))
        .collect();
    format!("{head}{tail}")
}

/// The attempt a step name carries, if it is one of this consumer's (uid included).
pub fn attempt_of(name: &str, namespace: &str, consumer: &str, uid: &str) -> Option<i32> {
    let prefix = name_prefix(namespace, consumer);
    let rest = name.strip_prefix(prefix.as_str())?;
    let (attempt, step_uid) = rest.split_once(' ')?;
    (step_uid == uid).then_some(())?;
    attempt.parse().ok()
}

/// The `command-runner.jar` arguments: `env` sets the configuration
/// document, the worker identity and the AWS settings, then runs the
/// binary the pool's bootstrap action installed. Nothing secret is in them
/// (runtime emr allows only `drop`, which needs no key).
pub fn step_args(document: &str, worker: &str, region: &str, endpoint: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "env".to_owned(),
        format!("{}={document}", ade_api::stream::ENV),
        format!("{}={worker}", ade_api::stream::WORKER_ID_ENV),
        format!("AWS_REGION={region}"),
    ];
    if let Some(url) = endpoint {
        args.push(format!("AWS_ENDPOINT_URL={url}"));
        if url.starts_with("http://") {
            args.push("AWS_ALLOW_HTTP=true".to_owned());
        }
    }
    args.push(STREAM_BINARY.to_owned());
    args
}

/// One step of this consumer found on a cluster of its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The attempt its name carries.
    pub attempt: i32,
    /// The step and its cluster.
    pub step: FoundStep,
}

/// What the reconcile does.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The status to record (before any step is added).
    pub status: EmrStepStatus,
    /// Steps to cancel: (cluster, step).
    pub cancel: Vec<(String, String)>,
    /// Add the step of `status.attempt` (none exists).
    pub add: bool,
    /// Look again after this long.
    pub requeue: Duration,
}

/// Backoff before restart number `restarts` (1-based): 10 s doubling, at most 5 minutes.
pub fn backoff(restarts: i32) -> Duration {
    let exponent = u32::try_from(restarts.saturating_sub(1)).unwrap_or(0).min(5);
    Duration::from_secs(10 * 2u64.pow(exponent)).min(Duration::from_secs(300))
}

/// Decides from the recorded `status`, the consumer's `generation`, its
/// `pool` and its steps on the pool's clusters.
pub fn decide(
    status: Option<&EmrStepStatus>,
    generation: Option<i64>,
    pool: &str,
    found: &[Found],
    now: Timestamp,
) -> Decision {
    let mut next = status.cloned().unwrap_or_else(|| EmrStepStatus {
        attempt: 1,
        state: WAITING.to_owned(),
        ..EmrStepStatus::default()
    });
    next.attempt = next.attempt.max(1);
    let mut cancel: Vec<(String, String)> = found
        .iter()
        .filter(|f| f.attempt != next.attempt && f.step.cluster_live && f.step.phase.is_active())
        .map(|f| (f.step.cluster_id.clone(), f.step.step_id.clone()))
        .collect();
    let mine = found.iter().find(|f| f.attempt == next.attempt);
    match mine {
        Some(f) if f.step.cluster_live && f.step.phase.is_active() => {
            if next.generation.is_some() && next.generation != generation {
                // The spec changed: this step is cancelled, and the next
                // attempt is added once it has let go of its slot.
                cancel.push((f.step.cluster_id.clone(), f.step.step_id.clone()));
                next.attempt += 1;
                next.cluster_id = None;
                next.step_id = None;
                next.state = WAITING.to_owned();
                return Decision {
                    status: next,
                    cancel,
                    add: false,
                    requeue: Duration::from_secs(5),
                };
            }
            next.cluster_id = Some(f.step.cluster_id.clone());
            next.step_id = Some(f.step.step_id.clone());
            next.state = f.step.phase.as_str().to_owned();
            next.next_restart_at = None;
            Decision {
                status: next,
                cancel,
                add: false,
                requeue: Duration::from_secs(15),
            }
        }
        Some(f) => {
            // It ended, or its cluster did: the next attempt, after a backoff.
            next.last_failure = Some(if f.step.cluster_live {
                format!(
                    "step {} on cluster {} ended {}{}",
                    f.step.step_id,
                    f.step.cluster_id,
                    f.step.phase.as_str(),
                    f.step.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                )
            } else {
                format!(
                    "cluster {} of step {} ended{}",
                    f.step.cluster_id,
                    f.step.step_id,
                    f.step
                        .cluster_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
            });
            next.restarts += 1;
            next.attempt += 1;
            next.cluster_id = None;
            next.step_id = None;
            next.state = RESTART_PENDING.to_owned();
            let wait = backoff(next.restarts);
            let at = now
                .checked_add(SignedDuration::try_from(wait).unwrap_or(SignedDuration::ZERO))
                .unwrap_or(now);
            next.next_restart_at = Some(Time(at));
            Decision {
                status: next,
                cancel,
                add: false,
                requeue: wait,
            }
        }
        None => {
            let not_before = next.next_restart_at.as_ref().map(|t| t.0);
            if let Some(at) = not_before.filter(|at| *at > now) {
                let wait = at.duration_since(now).unsigned_abs();
                return Decision {
                    status: next,
                    cancel,
                    add: false,
                    requeue: wait.max(Duration::from_secs(1)),
                };
            }
            if next.state == RESTART_PENDING {
                next.state = WAITING.to_owned();
            }
            // The step about to be added is built from this spec, in this pool.
            next.generation = generation;
            next.pool = Some(pool.to_owned());
            Decision {
                status: next,
                cancel,
                add: true,
                requeue: Duration::from_secs(5),
            }
        }
    }
}

/// The demand of pool `namespace/pool` from its consumers on runtime emr:
/// the step name of each accepted one that wants a slot (no step running or
/// pending, or a restart due), so the pool keeps or starts a cluster for it
/// whatever its `minClusters`.
pub fn pool_demand<'a>(
    namespace: &str,
    pool: &str,
    consumers: impl IntoIterator<Item = &'a StreamConsumer>,
) -> Vec<String> {
    let mut out: Vec<(Option<Timestamp>, String)> = consumers
        .into_iter()
        .filter(|c| {
            c.spec.runtime == StreamRuntime::Emr
                && c.metadata.deletion_timestamp.is_none()
                && c.namespace().as_deref() == Some(namespace)
                && c.spec.pool_ref.as_ref().is_some_and(|r| r.name == pool)
                // A spec the operator refused asks for nothing.
                && c.status.as_ref().is_some_and(|s| {
                    s.conditions.iter().any(|c| c.type_ == "Accepted" && c.status == "True")
                })
        })
        .filter_map(|c| {
            let status = c.status.as_ref().and_then(|s| s.emr.as_ref());
            let state = status.map_or(WAITING, |s| s.state.as_str());
            matches!(state, WAITING | RESTART_PENDING).then(|| {
                let attempt = status.map_or(1, |s| s.attempt.max(1));
                (
                    c.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    step_name(namespace, &c.name_any(), attempt, &c.uid().unwrap_or_default()),
                )
            })
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
#[path = "emr_step_tests.rs"]
mod tests;

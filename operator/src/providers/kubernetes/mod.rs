//! The `kubernetes` provider: an attempt is a `batch/v1` Job named after
//! (run, attempt), owned by its EtlRun. Creating a Job that exists adopts it
//! when the run owns it, so the same attempt never gets a second Job.
//!
//! A Job carries no `ttlSecondsAfterFinished` until the run's status holds
//! the attempt's outcome ([`ComputeProvider::release`] sets it then), so
//! Kubernetes never deletes a finished Job whose outcome the operator has not
//! read (e.g. while it was down). A Job recorded as created (the run's
//! `jobName`) that is gone all the same was deleted by someone else: the
//! attempt fails and says so, it is not started again unnoticed.

pub mod job;

use std::sync::Arc;

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use k8s_openapi::{
    api::{batch::v1::Job, core::v1::Pod},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, PostParams, PropagationPolicy},
    runtime::reflector::{ObjectRef, Store},
};

pub use self::job::JobSettings;
use super::{
    AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, FailureKind, Profile, ProviderError,
    SeenJob, kube_error,
};
use crate::names;

/// Who creates the attempts' Jobs, as the Jobs' managed fields name it.
const FIELD_MANAGER: &str = "ade-operator/kubernetes-provider";

/// Runs attempts as Jobs in the operator's own cluster.
#[derive(Clone)]
pub struct KubernetesProvider {
    client: Client,
    settings: JobSettings,
    /// The operator's Jobs as its watch last saw them, when it has one: an
    /// attempt is observed from there, and from the API server only when
    /// its Job is not (yet) in it.
    seen: Option<Store<SeenJob>>,
}

impl std::fmt::Debug for KubernetesProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesProvider")
            .field("settings", &self.settings)
            .finish()
    }
}

fn owned_by(job: &ObjectMeta, uid: &str) -> bool {
    job.owner_references
        .as_ref()
        .is_some_and(|refs| refs.iter().any(|r| r.uid == uid))
}

impl KubernetesProvider {
    /// A provider using `client`.
    pub fn new(client: Client, settings: JobSettings) -> Self {
        Self {
            client,
            settings,
            seen: None,
        }
    }

    /// This provider observing Jobs from `seen`, a watch of the Jobs it makes.
    #[must_use]
    pub fn observing(mut self, seen: Store<SeenJob>) -> Self {
        self.seen = Some(seen);
        self
    }

    /// The Job of attempt `name` of the run `uid`: from the watch when it
    /// holds that run's Job, else from the API server.
    async fn job_of(&self, namespace: &str, name: &str, uid: &str) -> Result<Option<Arc<SeenJob>>, ProviderError> {
        let cached = self
            .seen
            .as_ref()
            .and_then(|seen| seen.get(&ObjectRef::new(name).within(namespace)))
            .filter(|job| owned_by(&job.metadata, uid));
        if cached.is_some() {
            return Ok(cached);
        }
        let found = Api::<SeenJob>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(kube_error("reading the Job"))?;
        Ok(found.map(Arc::new))
    }

    fn jobs(&self, namespace: &str) -> Api<Job> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The Job settings.
    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    async fn start_job(&self, request: &AttemptRequest) -> Result<AttemptHandle, ProviderError> {
        let desired = job::build(request, &self.settings)?;
        self.create_or_adopt(&desired, &request.target).await
    }

    /// Creates `desired`, the Job of attempt `target`, or adopts the Job of
    /// that name when the run owns it: never a second Job for one attempt.
    pub async fn create_or_adopt(&self, desired: &Job, target: &AttemptRef) -> Result<AttemptHandle, ProviderError> {
        let name = names::job_name(&target.run, target.attempt);
        let api = self.jobs(&target.namespace);
        let created_by = PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        match api.create(&created_by, desired).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // It exists: adopt it if it is ours, never create a second one.
                let existing = api.get(&name).await.map_err(kube_error("reading the existing Job"))?;
                if !owned_by(&existing.metadata, &target.run_uid) {
                    return Err(ProviderError::NameTaken { kind: "Job", name });
                }
                tracing::info!(job = %name, "adopted the existing Job of this attempt");
            }
            Err(e) => return Err(kube_error("creating the Job")(e)),
        }
        Ok(AttemptHandle::Job { name })
    }

    /// The kubernetes provider's `observe` of the attempt's Job.
    pub async fn observe_job(&self, request: &AttemptRef) -> Result<AttemptState, ProviderError> {
        let name = names::job_name(&request.run, request.attempt);
        let Some(found) = self.job_of(&request.namespace, &name, &request.run_uid).await? else {
            return Ok(match request.handle {
                // Recorded as created, and no TTL before its outcome is in.
                AttemptHandle::Job { .. } => AttemptState::Failed {
                    kind: FailureKind::Failed,
                    message: format!(
                        "Job {name} was deleted before the operator recorded its outcome (by a person or \
                         another controller); the attempt's result is unknown"
                    ),
                    finished_at: None,
                },
                _ => AttemptState::Missing,
            });
        };
        if !owned_by(&found.metadata, &request.run_uid) {
            return Err(ProviderError::NameTaken { kind: "Job", name });
        }
        let status = found.status.clone().unwrap_or_default();
        let condition = |type_: &str| {
            status
                .conditions
                .as_ref()
                .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == "True"))
        };
        if condition("Complete").is_some() {
            return Ok(AttemptState::Succeeded {
                finished_at: status.completion_time.map(|t| t.0),
            });
        }
        // Since Kubernetes 1.31 a Job that met its success criteria says so
        // before its Pods are gone and `Complete` is added: it has succeeded
        // (nothing can undo it), and is not starting again with no Pod active.
        if let Some(met) = condition("SuccessCriteriaMet") {
            return Ok(AttemptState::Succeeded {
                finished_at: met.last_transition_time.as_ref().map(|t| t.0),
            });
        }
        if let Some(failed) = condition("Failed") {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), &request.namespace);
            let selector = format!("batch.kubernetes.io/job-name={name}");
            let pods = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(kube_error("listing the Job's Pods"))?;
            let (kind, message) = job::failure_of(&status, &pods.items);
            return Ok(AttemptState::Failed {
                kind,
                message,
                finished_at: failed.last_transition_time.as_ref().map(|t| t.0),
            });
        }
        if status.ready.unwrap_or(0) > 0
            || status.active.unwrap_or(0) > 0 && status.start_time.is_some()
            || job::pods_finished(&status)
        {
            // A Job whose Pod has finished is still running until the Job
            // controller adds its outcome: it is not starting again (which
            // would also cost the run two status writes, there and back).
            return Ok(AttemptState::Running {
                started_at: status.start_time.map(|t| t.0),
            });
        }
        Ok(AttemptState::Provisioning)
    }

    /// The kubernetes provider's `cancel` of the attempt's Job.
    pub async fn cancel_job(&self, request: &AttemptRef) -> Result<(), ProviderError> {
        let name = names::job_name(&request.run, request.attempt);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match self.jobs(&request.namespace).delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(kube_error("deleting the Job")(e)),
        }
    }

    /// The kubernetes provider's `release` of the attempt's Job.
    pub async fn release_job(&self, request: &AttemptRef) -> Result<(), ProviderError> {
        let name = names::job_name(&request.run, request.attempt);
        let ttl = self.settings.ttl_seconds_after_finished;
        crate::job_ttl::release(&self.client, &request.namespace, &name, ttl)
            .await
            .map_err(kube_error("setting the finished Job's TTL"))
    }
}

impl ComputeProvider for KubernetesProvider {
    fn profile(&self) -> Profile {
        Profile {
            name: "kubernetes",
            in_cluster: true,
            // Priced by the run's reserved Pod resources (crate::cost).
            prices_attempts: false,
            // A Job's activeDeadlineSeconds is the job's timeout.
            needs_deadline: false,
            // Jobs are owned by their run and garbage-collected with it.
            holds_external: false,
        }
    }

    fn intent(&self, _target: &AttemptRef) -> AttemptHandle {
        // The Job's name is recorded once it exists: a Job that is missing
        // then was deleted, one missing before was never created.
        AttemptHandle::Unplaced
    }

    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>> {
        self.start_job(request).boxed()
    }

    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>> {
        self.observe_job(attempt).boxed()
    }

    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.cancel_job(attempt).boxed()
    }

    fn release<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.release_job(attempt).boxed()
    }

    fn cost<'a>(
        &'a self,
        attempts: &'a [AttemptRef],
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>, ProviderError>> {
        // Priced by the controller from the Pod's reserved resources.
        futures::future::ready(Ok(vec![None; attempts.len()])).boxed()
    }
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod observe_tests;

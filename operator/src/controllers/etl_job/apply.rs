//! The EtlJob reconcile's writes: create runs (an existing run is left as it
//! is), cancel replaced runs, delete runs beyond the history limits, then the
//! status. Creating before writing `lastScheduleTime` means a crash in between
//! re-plans the same runs, which then already exist.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{Error, FIELD_MANAGER, plan::Plan};
use crate::{
    api::v1alpha1::{EtlJob, EtlRun},
    controllers::{Context, conditions, status},
    names,
};

/// Label on runs: their EtlJob.
pub const LABEL_JOB: &str = "ade.dev/job";
/// Label on runs: their job's ClusterPool.
pub const LABEL_POOL: &str = "ade.dev/pool";

/// Performs `plan` for `job`.
pub async fn apply(job: &EtlJob, ctx: &Context, plan: &Plan, now: Timestamp) -> Result<(), Error> {
    let ns = job.namespace().unwrap_or_default();
    let runs: Api<EtlRun> = Api::namespaced(ctx.client.clone(), &ns);
    for new in &plan.create {
        let run = EtlRun {
            metadata: ObjectMeta {
                name: Some(new.name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(BTreeMap::from([
                    (
                        ade_api::labels::MANAGED_BY.to_owned(),
                        ade_api::labels::OPERATOR.to_owned(),
                    ),
                    (LABEL_JOB.to_owned(), names::label_value(&job.name_any())),
                    (LABEL_POOL.to_owned(), names::label_value(&job.spec.pool_ref.name)),
                ])),
                owner_references: Some(vec![owner(job)]),
                ..ObjectMeta::default()
            },
            spec: new.spec(&job.name_any()),
            status: None,
        };
        let created_by = PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        match runs.create(&created_by, &run).await {
            Ok(created) => {
                tracing::info!(run = %new.name, batch = %new.batch.id, reason = ?new.reason, "created EtlRun");
                // The next reconcile counts it, whether the watch delivered it or not.
                ctx.caches.runs.wrote(created);
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(source) => {
                return Err(Error::CreateRun {
                    run: new.name.clone(),
                    source,
                });
            }
        }
        if let Some(due) = new.due {
            ctx.metrics
                .schedule_lag
                .observe(now.duration_since(due).as_secs_f64().max(0.0));
        }
    }
    for name in &plan.cancel {
        let patch = json!({ "spec": { "cancel": true } });
        runs.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::CancelRun {
                run: name.clone(),
                source,
            })?;
    }
    for name in &plan.delete {
        match runs.delete(name, &DeleteParams::background()).await {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(source) => {
                return Err(Error::DeleteRun {
                    run: name.clone(),
                    source,
                });
            }
        }
    }
    let existing = job.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut status = plan.status.clone();
    status.conditions = conditions::merge(existing, &plan.conditions, job.metadata.generation, now);
    if status::shows(job.status.as_ref(), &status, |s| &mut s.conditions) {
        return Ok(());
    }
    let written = status::apply(ctx, job, FIELD_MANAGER, &status)
        .await
        .map_err(|source| Error::ApplyStatus {
            job: job.name_any(),
            source,
        })?;
    // The next reconcile compares against this write, not an older status.
    ctx.caches.jobs.wrote(written);
    Ok(())
}

fn owner(job: &EtlJob) -> OwnerReference {
    OwnerReference {
        api_version: EtlJob::api_version(&()).into_owned(),
        kind: EtlJob::kind(&()).into_owned(),
        name: job.name_any(),
        uid: job.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

//! The reconcile of a consumer on runtime `emr`: one long-running EMR step on
//! a cluster of its pool (`spec.poolRef`, provider emr), as [`emr_step`]
//! decides. A finalizer cancels the step before the consumer goes. The
//! ClusterPool controller counts a consumer without a running step as demand
//! (a cluster is created for it whatever `minClusters` says) and never
//! retires the cluster its step runs on (an active step keeps it busy).
//! Shards, lag and worker errors come from the DynamoDB lease table, as for
//! pods with `checkpoint.store: dynamodb`.

use jiff::Timestamp;
use kube::{
    ResourceExt,
    runtime::{controller::Action, events::EventType},
};

use super::{
    Error, apply, config,
    emr_step::{self, Found},
    health, leases,
};
use crate::{
    api::v1alpha1::{ClusterPool, Provider, StreamConsumer, StreamConsumerStatus},
    controllers::{
        Context,
        conditions::{Desired, Status},
        finalizer,
    },
    providers::{
        ProviderError,
        service::{ServiceStep, ServiceSteps},
    },
};

/// Cancels the consumer's EMR step before the consumer is deleted.
pub const FINALIZER: &str = "ade.dev/emr-stream-step";

/// `Ready=False` and `Degraded=True` for `reason`.
fn refused((reason, message): (&'static str, String)) -> [Desired; 2] {
    [
        Desired::new("Ready", Status::False, reason, message.clone()),
        Desired::new("Degraded", Status::True, reason, message),
    ]
}

fn provider_failed(e: &ProviderError) -> [Desired; 2] {
    refused(("ProviderError", format!("an EMR call failed, retrying: {e}")))
}

/// The pool named by `spec.poolRef`, or the reason and message of why not.
fn pool_of(consumer: &StreamConsumer, ctx: &Context) -> Result<std::sync::Arc<ClusterPool>, (&'static str, String)> {
    let ns = consumer.namespace().unwrap_or_default();
    let name = consumer
        .spec
        .pool_ref
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    match ctx.caches.pools.get(&ns, &name) {
        None => Err((
            "PoolNotFound",
            format!("ClusterPool {ns}/{name} (spec.poolRef) does not exist: create it with provider emr"),
        )),
        Some(pool) if pool.spec.provider != Provider::Emr => Err((
            "PoolNotEmr",
            format!(
                "ClusterPool {ns}/{name} has provider {:?}: runtime emr needs an emr pool",
                pool.spec.provider
            ),
        )),
        Some(pool) => Ok(pool),
    }
}

/// The consumer's steps on `pool`'s clusters, with the attempt each name carries.
async fn found(
    consumer: &StreamConsumer,
    emr: &dyn ServiceSteps,
    pool: &ClusterPool,
) -> Result<Vec<Found>, ProviderError> {
    let (ns, name, uid) = identity(consumer);
    let steps = emr.find(pool, &emr_step::name_prefix(&ns, &name)).await?;
    Ok(steps
        .into_iter()
        .filter_map(|step| {
            Some(Found {
                attempt: emr_step::attempt_of(&step.name, &ns, &name, &uid)?,
                step,
            })
        })
        .collect())
}

fn identity(consumer: &StreamConsumer) -> (String, String, String) {
    (
        consumer.namespace().unwrap_or_default(),
        consumer.name_any(),
        consumer.uid().unwrap_or_default(),
    )
}

/// Cancels every active step of the consumer on `pool`.
async fn cancel_all(
    consumer: &StreamConsumer,
    emr: &dyn ServiceSteps,
    pool: &ClusterPool,
) -> Result<(), ProviderError> {
    for f in found(consumer, emr, pool).await? {
        let s = &f.step;
        if s.cluster_live && s.phase.is_active() {
            emr.cancel(pool, &s.cluster_id, &s.step_id).await?;
            tracing::info!(cluster = %s.cluster_id, step = %s.step_id, pool = %pool.name_any(), "cancelled the consumer's EMR step");
        }
    }
    Ok(())
}

/// The pool the consumer's current attempt runs in: the one recorded in
/// `status.emr`, else `spec.poolRef`'s.
fn recorded_pool(consumer: &StreamConsumer) -> Option<String> {
    consumer
        .status
        .as_ref()
        .and_then(|s| s.emr.as_ref()?.pool.clone())
        .or_else(|| consumer.spec.pool_ref.as_ref().map(|r| r.name.clone()))
}

/// A deleted consumer (or one that left runtime emr): cancels its active
/// steps, then lets the finalizer go. A pool that is gone or being deleted
/// takes its clusters (and so the steps) with it.
pub async fn release(consumer: &StreamConsumer, ctx: &Context) -> Result<Option<Action>, Error> {
    if !finalizer::has(consumer, FINALIZER) {
        return Ok(None);
    }
    let ns = consumer.namespace().unwrap_or_default();
    let pool = recorded_pool(consumer)
        .and_then(|name| ctx.caches.pools.get(&ns, &name))
        .filter(|p| p.metadata.deletion_timestamp.is_none() && p.spec.provider == Provider::Emr);
    if let Some(pool) = pool {
        let emr = ctx.providers.emr_steps();
        if let Err(error) = cancel_all(consumer, emr.as_ref(), &pool).await {
            tracing::warn!(%error, "cancelling the consumer's EMR step failed; retrying");
            ctx.publish_event(
                consumer,
                EventType::Warning,
                "CancelFailed",
                &format!(
                    "cannot cancel the consumer's EMR step on pool {} yet (the consumer stays until it is): {error}",
                    pool.name_any()
                ),
                "Delete",
            )
            .await;
            return Ok(Some(Action::requeue(std::time::Duration::from_secs(10))));
        }
    }
    finalizer::set(ctx, consumer, FINALIZER, false)
        .await
        .map_err(|source| Error::Apply {
            what: "the finalizer".into(),
            source,
        })?;
    Ok(Some(Action::await_change()))
}

/// Reconciles `consumer` on runtime `emr`.
pub async fn reconcile(consumer: &StreamConsumer, ctx: &Context) -> Result<Action, Error> {
    apply::remove_deployment(consumer, ctx).await?;
    let now = Timestamp::now();
    let previous = consumer.status.clone().unwrap_or_default();
    let body = StreamConsumerStatus {
        observed_generation: consumer.metadata.generation,
        emr: previous.emr.clone(),
        ..StreamConsumerStatus::default()
    };
    let pool = match pool_of(consumer, ctx) {
        Ok(pool) => pool,
        Err(why) => {
            apply::write_status(consumer, ctx, body, refused(why)).await?;
            return Ok(Action::requeue(apply::RESYNC));
        }
    };
    let emr = ctx.providers.emr_steps();
    let give_up = async |e: ProviderError, body: StreamConsumerStatus| -> Result<Action, Error> {
        apply::write_status(consumer, ctx, body, provider_failed(&e)).await?;
        Ok(Action::requeue(apply::RESYNC))
    };
    // A consumer moved to another pool stops its step in the old one first.
    let moved_from = previous
        .emr
        .as_ref()
        .and_then(|e| e.pool.clone())
        .filter(|p| *p != pool.name_any());
    if let Some(old) = moved_from.and_then(|name| ctx.caches.pools.get(&pool.namespace().unwrap_or_default(), &name))
        && let Err(e) = cancel_all(consumer, emr.as_ref(), &old).await
    {
        return give_up(e, body).await;
    }
    let steps = match found(consumer, emr.as_ref(), &pool).await {
        Ok(steps) => steps,
        Err(e) => return give_up(e, body).await,
    };
    // Set once EMR answers, before any step is added: a consumer whose pool
    // EMR never reached has no step and stays deletable.
    finalizer::set(ctx, consumer, FINALIZER, true)
        .await
        .map_err(|source| Error::Apply {
            what: "the finalizer".into(),
            source,
        })?;
    let decision = emr_step::decide(
        previous.emr.as_ref(),
        consumer.metadata.generation,
        &pool.name_any(),
        &steps,
        now,
    );
    let mut step_status = decision.status.clone();
    let mut failure = None;
    for (cluster, step) in &decision.cancel {
        if let Err(e) = emr.cancel(&pool, cluster, step).await {
            failure = Some(e);
        }
    }

    // Shards, lag and worker errors from the lease table (runtime emr always
    // has one: the API server refuses Kubernetes Leases for it).
    let region = &consumer.spec.source.kinesis.region;
    let (ns, name, uid) = identity(consumer);
    let (observed, table_error) = match apply::read_leases(consumer, ctx, &ns, &name).await {
        Ok(leases) => (leases::observe(&leases, now), None),
        Err(Error::LeaseTable(e)) => (leases::observe(&[], now), Some(e.to_string())),
        Err(other) => return Err(other),
    };
    let mut body = StreamConsumerStatus {
        emr: body.emr,
        ..observed.status(consumer.metadata.generation, 0)
    };

    if decision.add && failure.is_none() {
        // The attempt is on the API server before its step exists (written
        // once per attempt, so a consumer waiting for a slot is not woken by
        // its own status).
        let recorded = previous.emr.as_ref().map(|e| (e.attempt, e.generation, e.pool.clone()));
        if recorded != Some((step_status.attempt, step_status.generation, step_status.pool.clone())) {
            body.emr = Some(step_status.clone());
            apply::write_status(consumer, ctx, body.clone(), waiting(&step_status)).await?;
        }
        let document = config::build(consumer).map_err(|e| Error::Config(e.to_string()))?;
        let json = serde_json::to_string(&document).map_err(|e| Error::Config(e.to_string()))?;
        let worker = format!("{name}-emr-{}", step_status.attempt);
        let args = emr_step::step_args(&json, &worker, region, ctx.stream.aws_endpoint_url.as_deref());
        let spec = ServiceStep {
            name: emr_step::step_name(&ns, &name, step_status.attempt, &uid),
            args,
        };
        match emr.place(&pool, &spec).await {
            Ok(Some((cluster, step))) => {
                ctx.publish_event(
                    consumer,
                    EventType::Normal,
                    "StepAdded",
                    &format!(
                        "attempt {} runs as EMR step {step} on cluster {cluster} of pool {}",
                        step_status.attempt,
                        pool.name_any()
                    ),
                    "Start",
                )
                .await;
                step_status.cluster_id = Some(cluster);
                step_status.step_id = Some(step);
                step_status.state = "Pending".to_owned();
            }
            Ok(None) => step_status.state = emr_step::WAITING.to_owned(),
            Err(e) => failure = Some(e),
        }
    }
    if previous.emr.as_ref().map(|s| s.restarts) < Some(step_status.restarts)
        && let Some(why) = &step_status.last_failure
    {
        let message = format!(
            "{why}; attempt {} starts after {}",
            step_status.attempt,
            step_status
                .next_restart_at
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default()
        );
        ctx.publish_event(consumer, EventType::Warning, "StepEnded", &message, "Restart")
            .await;
    }
    body.replicas = i32::from(step_status.state == "Running");
    body.emr = Some(step_status.clone());
    let conditions = match (&failure, &table_error) {
        (Some(e), _) => provider_failed(e),
        (None, Some(e)) => refused((
            "LeaseTableUnreadable",
            format!("the lease table cannot be read, so shards and lag are unknown: {e}"),
        )),
        (None, None) => conditions(consumer, &step_status, &observed),
    };
    let degraded = conditions[1].clone();
    apply::write_status(consumer, ctx, body, conditions).await?;
    apply::publish_degradation(consumer, ctx, &degraded).await;
    Ok(Action::requeue(decision.requeue.min(apply::RESYNC)))
}

fn waiting(status: &crate::api::v1alpha1::EmrStepStatus) -> [Desired; 2] {
    [
        Desired::new(
            "Ready",
            Status::False,
            "StepStarting",
            format!("adding EMR step attempt {}", status.attempt),
        ),
        Desired::new("Degraded", Status::False, "Healthy", "no step failure"),
    ]
}

/// `Ready` and `Degraded` of a consumer on EMR.
fn conditions(
    consumer: &StreamConsumer,
    step: &crate::api::v1alpha1::EmrStepStatus,
    observed: &leases::Observed,
) -> [Desired; 2] {
    let ns = consumer.namespace().unwrap_or_default();
    let name = consumer.name_any();
    let pool = consumer
        .spec
        .pool_ref
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let facts = health::Facts {
        namespace: &ns,
        consumer: &name,
        children: &name,
        stream: &consumer.spec.source.kinesis.stream_name,
        region: &consumer.spec.source.kinesis.region,
        sink: &consumer.spec.sink.s3.uri,
        desired: 1,
    };
    let degraded = match (health::reported_error(&facts, &observed.workers), &step.last_failure) {
        (Some(reported), _) => reported,
        (None, Some(why)) if step.state == emr_step::RESTART_PENDING => Desired::new(
            "Degraded",
            Status::True,
            "StepFailed",
            format!(
                "{why}: restart {} is due at {}; the step's log is in the pool's logUri",
                step.restarts,
                step.next_restart_at
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default()
            ),
        ),
        _ => Desired::new("Degraded", Status::False, "Healthy", "no step failure, no worker error"),
    };
    let cluster = step.cluster_id.as_deref().unwrap_or("-");
    let stepid = step.step_id.as_deref().unwrap_or("-");
    let ready = match step.state.as_str() {
        "Running" if observed.workers.iter().any(|w| w.error.is_none()) => Desired::new(
            "Ready",
            Status::True,
            "Consuming",
            format!("EMR step {stepid} on cluster {cluster} is consuming"),
        ),
        "Running" => Desired::new(
            "Ready",
            Status::False,
            "NoLiveWorkers",
            format!(
                "EMR step {stepid} on cluster {cluster} runs, but ade-stream has not renewed its worker lease in the last 30s: see the step's stderr in the pool's logUri"
            ),
        ),
        emr_step::WAITING => Desired::new(
            "Ready",
            Status::False,
            "WaitingForCluster",
            format!("no cluster of ClusterPool {pool} has a free step slot yet; the pool starts one for this consumer"),
        ),
        emr_step::RESTART_PENDING => Desired::new("Ready", Status::False, "RestartPending", degraded.message.clone()),
        other => Desired::new(
            "Ready",
            Status::False,
            "StepPending",
            format!("EMR step {stepid} on cluster {cluster} is {other}"),
        ),
    };
    [ready, degraded]
}

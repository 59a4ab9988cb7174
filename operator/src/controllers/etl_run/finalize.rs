//! A deleted EtlRun (or one whose EtlJob was deleted) whose attempt holds
//! resources outside Kubernetes (an EMR step): the attempt is cancelled, and
//! an Event says so, before the run's finalizer is removed and the object goes.

use kube::{ResourceExt, runtime::controller::Action, runtime::events::EventType};

use super::{Error, attempt_ref, provider_of, set_finalizer};
use crate::{
    api::v1alpha1::EtlRun,
    controllers::{Context, finalizer},
    providers::{ATTEMPT_FINALIZER, AttemptHandle},
};

/// Cancels the active attempt of the deleted `run`, then lets the run go.
pub async fn finalize(run: &EtlRun, ctx: &Context) -> Result<Action, Error> {
    if !finalizer::has(run, ATTEMPT_FINALIZER) {
        return Ok(Action::await_change());
    }
    let status = run.status.clone().unwrap_or_default();
    if let Some(active) = status.attempts.iter().find(|a| a.outcome.is_none()) {
        let pool = status
            .pool
            .as_ref()
            .and_then(|name| ctx.caches.pools.get(&run.namespace().unwrap_or_default(), name))
            .map(|p| p.as_ref().clone());
        let provider = provider_of(ctx, pool.as_ref(), run);
        let handle = AttemptHandle::of(active);
        let target = attempt_ref(run, active.attempt, handle.clone(), pool);
        let what = match handle.describe() {
            Some(place) => format!("attempt {} ({place})", active.attempt),
            None => format!("attempt {} (not placed yet)", active.attempt),
        };
        match provider.cancel(&target).await {
            Ok(()) => {
                let note = format!("the run was deleted: cancelled {what}");
                ctx.publish_event(run, EventType::Normal, "Cancelled", &note, "Delete")
                    .await;
            }
            Err(source) if source.is_transient() => {
                return Err(Error::Provider {
                    step: "cancelling",
                    run: run.name_any(),
                    attempt: active.attempt,
                    source,
                });
            }
            Err(error) => {
                // Retrying cannot help (e.g. no region is configured): say so and let the run go.
                let note = format!("the run was deleted but {what} could not be cancelled and may still run: {error}");
                ctx.publish_event(run, EventType::Warning, "CancelFailed", &note, "Delete")
                    .await;
            }
        }
    }
    set_finalizer(run, ctx, false).await?;
    Ok(Action::await_change())
}

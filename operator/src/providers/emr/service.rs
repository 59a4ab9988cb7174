//! [`ServiceSteps`] for EMR: a long-running step (a StreamConsumer) found by
//! name on the pool's clusters, placed like a run's step, cancelled with
//! `CancelSteps`.

use futures::{FutureExt, future::BoxFuture};
use jiff::{SignedDuration, Timestamp};

use super::{
    EmrProvider,
    api::{StepInfo, StepSpec, StepState},
};
use crate::{
    api::v1alpha1::ClusterPool,
    providers::{
        ProviderError,
        service::{FoundStep, ServiceStep, ServiceSteps, StepPhase},
    },
};

/// How far back ended clusters are searched for a service's last step.
const ENDED_WITHIN: SignedDuration = SignedDuration::from_hours(1);

fn phase(state: StepState) -> StepPhase {
    match state {
        StepState::Pending => StepPhase::Pending,
        StepState::CancelPending => StepPhase::CancelPending,
        StepState::Running => StepPhase::Running,
        StepState::Completed => StepPhase::Completed,
        StepState::Cancelled => StepPhase::Cancelled,
        StepState::Failed => StepPhase::Failed,
        StepState::Interrupted => StepPhase::Interrupted,
    }
}

impl EmrProvider {
    async fn find_steps(&self, pool: &ClusterPool, prefix: &str) -> Result<Vec<FoundStep>, ProviderError> {
        let region = self.region_of(pool)?;
        let since = Timestamp::now().checked_sub(ENDED_WITHIN).ok();
        let clusters = self.pool_clusters(pool, since).await?;
        let mut steps = self.steps_of(&region, &clusters).await?;
        let mut out = Vec::new();
        for c in &clusters {
            let of_cluster: Vec<StepInfo> = steps.remove(&c.id).unwrap_or_default();
            for s in of_cluster.into_iter().filter(|s| s.name.starts_with(prefix)) {
                out.push(FoundStep {
                    cluster_id: c.id.clone(),
                    cluster_live: c.state.is_live(),
                    cluster_message: c.state_message.clone(),
                    step_id: s.id,
                    name: s.name,
                    phase: phase(s.state),
                    message: s.message,
                });
            }
        }
        Ok(out)
    }
}

impl ServiceSteps for EmrProvider {
    fn find<'a>(
        &'a self,
        pool: &'a ClusterPool,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<FoundStep>, ProviderError>> {
        self.find_steps(pool, prefix).boxed()
    }

    fn place<'a>(
        &'a self,
        pool: &'a ClusterPool,
        step: &'a ServiceStep,
    ) -> BoxFuture<'a, Result<Option<(String, String)>, ProviderError>> {
        async move {
            let spec = StepSpec {
                name: step.name.clone(),
                args: step.args.clone(),
            };
            Ok(self.place_step(pool, &spec).await?.map(|(c, s)| (c.id, s)))
        }
        .boxed()
    }

    fn cancel<'a>(
        &'a self,
        pool: &'a ClusterPool,
        cluster: &'a str,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move { self.cancel_if_active(&self.region_of(pool)?, cluster, step).await }.boxed()
    }
}

//! ClusterPool controller. In this release it reports `Accepted` and `Ready`:
//! a `kubernetes` pool is ready (runs need no capacity beyond the cluster);
//! the `emr` and `eks` providers arrive in later releases, and their pools say so.

use std::sync::Arc;

use kube::runtime::controller::Action;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, Error,
    conditions::{Desired, Status},
    runner,
    status::report_validation,
};
use crate::api::v1alpha1::{ClusterPool, ClusterPoolSpec, Provider};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "cluster-pool";
const FIELD_MANAGER: &str = "ade-operator/cluster-pool";

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    runner::run::<ClusterPool, _, _, _>(ctx, shutdown, CONTROLLER, reconcile).await;
}

#[instrument(skip_all, fields(namespace = pool.metadata.namespace, name = pool.metadata.name))]
async fn reconcile(pool: Arc<ClusterPool>, ctx: Arc<Context>) -> Result<Action, Error> {
    report_validation(&ctx, pool.as_ref(), FIELD_MANAGER, &[], ready(&pool.spec)).await
}

/// The `Ready` condition of a pool in this release.
///
/// Pure.
fn ready(spec: &ClusterPoolSpec) -> Desired {
    match spec.provider {
        Provider::Kubernetes => Desired::new(
            "Ready",
            Status::True,
            "Available",
            "runs execute as Kubernetes Jobs in this cluster",
        ),
        Provider::Emr | Provider::Eks => Desired::new(
            "Ready",
            Status::False,
            "ProviderNotAvailable",
            format!(
                "the {} provider is not available in this release of ade-operator; runs on this pool wait",
                serde_json::to_value(spec.provider)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_by_provider() {
        let k8s: ClusterPoolSpec = serde_saphyr::from_str("provider: kubernetes").expect("spec");
        assert_eq!(ready(&k8s).status, Status::True);
        let emr: ClusterPoolSpec = serde_saphyr::from_str(
            "provider: emr\nregion: us-east-1\nemr: {releaseLabel: emr-7.5.0, serviceRole: r, instanceProfile: p, primary: {instanceTypes: [m5.xlarge], onDemand: 1}, core: {instanceTypes: [r5.xlarge], spot: 2}}",
        )
        .expect("spec");
        let got = ready(&emr);
        assert_eq!((got.status, got.reason), (Status::False, "ProviderNotAvailable"));
        assert!(got.message.contains("the emr provider"), "{}", got.message);
    }
}

//! EtlRun controller. In this release it reports `Accepted` (the schema and
//! its CEL rules already guard the spec) and `Ready` Unknown; running batches
//! arrives in a later release.

use std::sync::Arc;

use kube::runtime::controller::Action;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, Error, runner,
    status::{self, report_validation},
};
use crate::api::v1alpha1::EtlRun;

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "etl-run";
const FIELD_MANAGER: &str = "ade-operator/etl-run";

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    runner::run::<EtlRun, _, _, _>(ctx, shutdown, CONTROLLER, reconcile).await;
}

#[instrument(skip_all, fields(namespace = run.metadata.namespace, name = run.metadata.name))]
async fn reconcile(run: Arc<EtlRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ready = status::not_implemented("EtlRun", "run batches");
    report_validation(&ctx, run.as_ref(), FIELD_MANAGER, &[], ready).await
}

//! EtlJob controller. In this release it validates the spec (cron syntax, time
//! zone, window and template variables, which the schema cannot check) and
//! reports `Accepted` and `Ready`; scheduling runs arrives in a later release.

mod validate;

use std::sync::Arc;

use kube::runtime::controller::Action;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, Error, runner,
    status::{self, report_validation},
};
use crate::api::v1alpha1::EtlJob;

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "etl-job";
const FIELD_MANAGER: &str = "ade-operator/etl-job";

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    runner::run::<EtlJob, _, _, _>(ctx, shutdown, CONTROLLER, reconcile).await;
}

#[instrument(skip_all, fields(namespace = job.metadata.namespace, name = job.metadata.name))]
async fn reconcile(job: Arc<EtlJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    let problems = validate::problems(&job.spec);
    let ready = if problems.is_empty() {
        status::not_implemented("EtlJob", "schedule runs")
    } else {
        status::invalid_spec()
    };
    report_validation(&ctx, job.as_ref(), FIELD_MANAGER, &problems, ready).await
}

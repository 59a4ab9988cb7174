//! ValidationSuite controller. In this release it validates what the schema
//! cannot (the schedule and the dataset URI's template variables) and reports
//! `Accepted` and `Ready` Unknown; running suites arrives in a later release.

use std::sync::Arc;

use kube::runtime::controller::Action;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, Error, runner,
    status::{self, Problem, report_validation},
};
use crate::{
    api::v1alpha1::{DATASET_TEMPLATE_VARIABLES, ValidationSuite, ValidationSuiteSpec},
    schedule, template,
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "validation-suite";
const FIELD_MANAGER: &str = "ade-operator/validation-suite";

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    runner::run::<ValidationSuite, _, _, _>(ctx, shutdown, CONTROLLER, reconcile).await;
}

#[instrument(skip_all, fields(namespace = suite.metadata.namespace, name = suite.metadata.name))]
async fn reconcile(suite: Arc<ValidationSuite>, ctx: Arc<Context>) -> Result<Action, Error> {
    let problems = problems(&suite.spec);
    let ready = if problems.is_empty() {
        status::not_implemented("ValidationSuite", "run suites")
    } else {
        status::invalid_spec()
    };
    report_validation(&ctx, suite.as_ref(), FIELD_MANAGER, &problems, ready).await
}

/// What the schema cannot check in a ValidationSuite.
///
/// Pure.
fn problems(spec: &ValidationSuiteSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(expr) = &spec.trigger.schedule
        && let Err(e) = expr.parse::<schedule::Cron>()
    {
        out.push(Problem::new("InvalidSchedule", format!("spec.trigger.schedule: {e}")));
    }
    if let Err(e) = template::check("spec.dataset.uri", &spec.dataset.uri, DATASET_TEMPLATE_VARIABLES) {
        out.push(Problem::new("InvalidTemplate", e.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(trigger: &str, uri: &str) -> ValidationSuiteSpec {
        serde_saphyr::from_str(&format!("dataset: {{uri: '{uri}'}}\ntrigger: {trigger}\n")).expect("spec")
    }

    #[test]
    fn schedule_and_templates() {
        assert_eq!(problems(&spec("{schedule: '0 6 * * *'}", "s3://b/{{batch.id}}/")), []);
        let got = problems(&spec("{schedule: 'daily'}", "s3://b/{{batch}}/"));
        assert_eq!(
            got.iter().map(|p| p.reason).collect::<Vec<_>>(),
            ["InvalidSchedule", "InvalidTemplate"]
        );
    }
}

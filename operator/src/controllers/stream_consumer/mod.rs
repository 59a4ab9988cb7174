//! StreamConsumer controller. In this release it validates what the schema
//! cannot (partition templates, obfuscation rules) and reports `Accepted` and
//! `Ready` Unknown; running consumers arrives in a later release.

use std::{collections::BTreeSet, sync::Arc};

use kube::runtime::controller::Action;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, Error,
    conditions::{Desired, Status},
    runner,
    status::{self, Problem, report_validation},
};
use crate::{
    api::v1alpha1::{PARTITION_TEMPLATE_VARIABLES, StreamConsumer, StreamConsumerSpec, StreamRuntime},
    template,
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "stream-consumer";
const FIELD_MANAGER: &str = "ade-operator/stream-consumer";

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    runner::run::<StreamConsumer, _, _, _>(ctx, shutdown, CONTROLLER, reconcile).await;
}

#[instrument(skip_all, fields(namespace = consumer.metadata.namespace, name = consumer.metadata.name))]
async fn reconcile(consumer: Arc<StreamConsumer>, ctx: Arc<Context>) -> Result<Action, Error> {
    let problems = problems(&consumer.spec);
    let ready = match (problems.is_empty(), consumer.spec.runtime) {
        (false, _) => status::invalid_spec(),
        (true, StreamRuntime::Emr) => Desired::new(
            "Ready",
            Status::False,
            "RuntimeNotAvailable",
            "runtime emr is not available in this release of ade-operator; use runtime kubernetes",
        ),
        (true, StreamRuntime::Kubernetes) => status::not_implemented("StreamConsumer", "run consumers"),
    };
    report_validation(&ctx, consumer.as_ref(), FIELD_MANAGER, &problems, ready).await
}

/// What the schema cannot check in a StreamConsumer.
///
/// Pure.
fn problems(spec: &StreamConsumerSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Err(e) = template::check(
        "spec.sink.s3.partitionBy",
        &spec.sink.s3.partition_by,
        PARTITION_TEMPLATE_VARIABLES,
    ) {
        out.push(Problem::new("InvalidTemplate", e.to_string()));
    }
    let mut seen = BTreeSet::new();
    for rule in &spec.transform.obfuscate {
        if !seen.insert(rule.field.as_str()) {
            out.push(Problem::new(
                "DuplicateObfuscation",
                format!(
                    "spec.transform.obfuscate: field {:?} has more than one rule; keep one",
                    rule.field
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> StreamConsumerSpec {
        serde_saphyr::from_str(&format!(
            "source: {{kinesis: {{streamName: s, region: us-east-1}}}}\nsink: {{s3: {{uri: 's3://lake/raw/'{extra}}}}}\ntransform: {{obfuscate: [{{field: ssn, method: drop}}, {{field: ssn, method: drop}}]}}"
        ))
        .expect("spec")
    }

    #[test]
    fn duplicate_rules_and_unknown_partition_variables() {
        let got = problems(&spec(""));
        assert_eq!(
            got.iter().map(|p| p.reason).collect::<Vec<_>>(),
            ["DuplicateObfuscation"]
        );
        let got = problems(&spec(", partitionBy: 'dt={{day}}'"));
        assert_eq!(got[0].reason, "InvalidTemplate");
        assert!(got[0].message.contains("{{day}}"), "{}", got[0].message);
    }
}

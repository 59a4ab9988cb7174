//! StreamConsumer controller. Runtime `kubernetes`: a Deployment of
//! `ade-stream` pods (with a ServiceAccount, Role and RoleBinding for their
//! leases), scaled on the lag the pods report through their Leases, with
//! shards, lag, throughput and `Ready` / `Degraded` in the status. Runtime
//! `emr`: one long-running EMR step on a cluster of the consumer's emr pool
//! ([`emr_step`] decides, `emr.rs` applies), its shards and lag read from the
//! DynamoDB lease table.
//!
//! Reconcile = read (Deployment, Leases) → decide (pure: [`scaling`],
//! [`health`], [`leases`]) → apply (children, status, Events), every 15 s and
//! on every relevant change of a child or a lease.

mod apply;
pub mod children;
pub mod config;
mod emr;
#[cfg(test)]
mod emr_scenario_tests;
pub mod emr_step;
pub mod health;
pub mod leases;
pub mod scaling;
#[cfg(test)]
mod scenario_tests;

use std::{
    collections::{BTreeSet, HashMap},
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex},
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    coordination::v1::Lease,
    core::v1::ServiceAccount,
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api, ResourceExt,
    runtime::{controller::Action, reflector::ObjectRef, watcher},
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use super::{
    Context, ErrorCategory, kube_error_category, runner,
    status::{self, Problem, report_validation},
};
use crate::{
    api::v1alpha1::{PARTITION_TEMPLATE_VARIABLES, StreamConsumer, StreamConsumerSpec, StreamRuntime},
    names::MAX_NAME,
    template,
};

/// Controller name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "stream-consumer";
const FIELD_MANAGER: &str = "ade-operator/stream-consumer";

/// Errors of the StreamConsumer controller, named after the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading an object failed.
    #[error("reading {what}: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Applying or deleting a child failed.
    #[error("applying {what}: {source}")]
    Apply {
        /// What was being written.
        what: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("applying the status of StreamConsumer {name}: {source}")]
    ApplyStatus {
        /// The consumer.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The spec passed validation but cannot be turned into a configuration.
    #[error("building the ade-stream configuration: {0}")]
    Config(String),
    /// The DynamoDB lease table could not be read.
    #[error(transparent)]
    LeaseTable(crate::lease_table::TableError),
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Self::Read { source, .. } | Self::Apply { source, .. } | Self::ApplyStatus { source, .. } => {
                kube_error_category(source)
            }
            Self::Config(_) => "config",
            Self::LeaseTable(e) => e.category,
        }
    }
}

impl From<super::Error> for Error {
    fn from(e: super::Error) -> Self {
        match e {
            super::Error::ApplyStatus { name, source, .. } => Self::ApplyStatus { name, source },
        }
    }
}

/// What of a lease can change the consumer's status beyond its lag: the
/// holder, an error, the open shards, a shard finishing. Heartbeats and lag
/// updates are left to the periodic resync, so busy streams do not cause a
/// reconcile per renewal.
fn significant(lease: &Lease) -> u64 {
    let mut h = DefaultHasher::new();
    let annotations = lease.metadata.annotations.clone().unwrap_or_default();
    for key in [
        leases::SHARD_ID,
        leases::PARENT_SHARDS,
        leases::OPEN_SHARDS,
        leases::ERROR_REASON,
        leases::ERROR_MESSAGE,
    ] {
        annotations.get(key).hash(&mut h);
    }
    (annotations.get(leases::CHECKPOINT).map(String::as_str) == Some(leases::SHARD_END)).hash(&mut h);
    lease.labels().get(leases::LABEL_KIND).hash(&mut h);
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_ref())
        .hash(&mut h);
    h.finish()
}

/// Runs the controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let client = ctx.client.clone();
    let owned = watcher::Config::default().labels(&format!(
        "app.kubernetes.io/name=ade-stream,{}",
        ade_api::labels::MANAGED_BY_OPERATOR
    ));
    let seen: Arc<Mutex<HashMap<(String, String), u64>>> = Arc::default();
    runner::run_with::<StreamConsumer, _, _, _>(
        ctx,
        shutdown,
        CONTROLLER,
        runner::Trigger::EveryChange,
        reconcile,
        move |c| {
            c.owns(Api::<Deployment>::all(client.clone()), owned.clone())
                .owns(Api::<ServiceAccount>::all(client.clone()), owned.clone())
                .owns(Api::<Role>::all(client.clone()), owned.clone())
                .owns(Api::<RoleBinding>::all(client.clone()), owned)
                .watches(
                    Api::<Lease>::all(client),
                    watcher::Config::default().labels(children::LABEL_CONSUMER),
                    move |lease: Lease| {
                        let consumer = lease.labels().get(children::LABEL_CONSUMER)?.clone();
                        let namespace = lease.namespace()?;
                        let key = (namespace.clone(), lease.name_any());
                        let hash = significant(&lease);
                        let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        (seen.insert(key, hash) != Some(hash))
                            .then(|| ObjectRef::<StreamConsumer>::new(&consumer).within(&namespace))
                    },
                )
        },
    )
    .await;
}

#[instrument(skip_all, fields(namespace = consumer.metadata.namespace, name = consumer.metadata.name))]
async fn reconcile(consumer: Arc<StreamConsumer>, ctx: Arc<Context>) -> Result<Action, Error> {
    if consumer.metadata.deletion_timestamp.is_some() {
        // Its children are owned by it and garbage-collected; an EMR step is not.
        return Ok(emr::release(&consumer, &ctx)
            .await?
            .unwrap_or_else(Action::await_change));
    }
    let problems = problems(&consumer.name_any(), &consumer.spec);
    match (problems.is_empty(), consumer.spec.runtime) {
        (false, _) => Ok(report_validation(
            &ctx,
            consumer.as_ref(),
            FIELD_MANAGER,
            &problems,
            status::invalid_spec(),
        )
        .await?),
        (true, StreamRuntime::Emr) => emr::reconcile(&consumer, &ctx).await,
        (true, StreamRuntime::Kubernetes) => {
            // A consumer that left runtime emr stops its step first.
            if let Some(action) = emr::release(&consumer, &ctx).await? {
                return Ok(action);
            }
            apply::kubernetes(&consumer, &ctx).await
        }
    }
}

/// What the schema cannot check in a StreamConsumer.
///
/// Pure.
fn problems(name: &str, spec: &StreamConsumerSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if name.len() > MAX_NAME {
        out.push(Problem::new(
            "NameTooLong",
            format!(
                "metadata.name: a StreamConsumer name is a label value on its pods and leases, so at most {MAX_NAME} characters; this one has {}",
                name.len()
            ),
        ));
    }
    if config::bytes(&spec.sink.s3.flush.max_bytes.0).is_none() {
        out.push(Problem::new(
            "InvalidQuantity",
            format!(
                "spec.sink.s3.flush.maxBytes {:?} is not a size: write it like 128Mi, 64M or 1000000",
                spec.sink.s3.flush.max_bytes.0
            ),
        ));
    }
    if spec.sink.s3.flush.max_records < 1 {
        // The schema's minimum normally prevents it; the pods' document needs a positive count.
        out.push(Problem::new(
            "InvalidCount",
            format!(
                "spec.sink.s3.flush.maxRecords {} is not a positive number",
                spec.sink.s3.flush.max_records
            ),
        ));
    }
    if let Err(e) = template::check(
        "spec.sink.s3.partitionBy",
        &spec.sink.s3.partition_by,
        PARTITION_TEMPLATE_VARIABLES,
    ) {
        out.push(Problem::new("InvalidTemplate", e.to_string()));
    }
    for (key, value) in spec.sink.s3.catalog.iter().flat_map(|c| &c.partition) {
        let field = format!("spec.sink.s3.catalog.partition.{key}");
        if let Err(e) = template::check(&field, value, PARTITION_TEMPLATE_VARIABLES) {
            out.push(Problem::new("InvalidTemplate", e.to_string()));
        }
    }
    // Durations the pods and the scaler use; the schema's pattern admits some
    // that do not parse (e.g. one too large), which would otherwise fail every
    // reconcile instead of saying so once.
    for (field, duration) in [
        ("spec.sink.s3.flush.maxInterval", &spec.sink.s3.flush.max_interval),
        ("spec.checkpoint.interval", &spec.checkpoint.interval),
        ("spec.scaling.targetLag", &spec.scaling.target_lag),
    ] {
        if let Err(e) = duration.to_std() {
            out.push(Problem::new("InvalidDuration", format!("{field}: {e}")));
        }
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
        let got = problems("c", &spec(""));
        assert_eq!(
            got.iter().map(|p| p.reason).collect::<Vec<_>>(),
            ["DuplicateObfuscation"]
        );
        let got = problems("c", &spec(", partitionBy: 'dt={{day}}'"));
        assert_eq!(got[0].reason, "InvalidTemplate");
        assert!(got[0].message.contains("{{day}}"), "{}", got[0].message);
    }

    #[test]
    fn durations_that_do_not_parse_are_spec_problems_not_retried_errors() {
        let mut bad = spec("");
        bad.scaling.target_lag = crate::api::v1alpha1::Duration("soon".into());
        bad.checkpoint.interval = crate::api::v1alpha1::Duration("99999999999999999999h".into());
        let got = problems("c", &bad);
        let durations: Vec<_> = got.iter().filter(|p| p.reason == "InvalidDuration").collect();
        assert_eq!(durations.len(), 2, "{got:?}");
        assert!(
            durations[0].message.starts_with("spec.checkpoint.interval: "),
            "{got:?}"
        );
        assert!(durations[1].message.starts_with("spec.scaling.targetLag: "), "{got:?}");
        assert!(!problems("c", &spec("")).iter().any(|p| p.reason == "InvalidDuration"));
        // Every way config::build can fail is a spec problem first.
        let mut zero = spec("");
        zero.sink.s3.flush.max_records = 0;
        assert!(config::build(&StreamConsumer::new("c", zero.clone())).is_err());
        assert_eq!(problems("c", &zero)[0].reason, "InvalidCount");
    }

    #[test]
    fn long_names_and_bad_sizes() {
        let got = problems(&"c".repeat(64), &spec(", flush: {maxBytes: lots}"));
        assert_eq!(
            got.iter().map(|p| p.reason).collect::<Vec<_>>(),
            ["NameTooLong", "InvalidQuantity", "DuplicateObfuscation"]
        );
        assert!(got[1].message.contains("\"lots\""), "{}", got[1].message);
        assert_eq!(problems(&"c".repeat(63), &spec("")).len(), 1);
    }
}

//! What the provider asks EMR for: the `RunJobFlow` request of a pool's
//! cluster, the `command-runner.jar` step of a run attempt, and the names and
//! tags that identify both.
//!
//! Pure.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::{
    Market,
    api::{BootstrapSpec, ClusterSpec, ConfigurationSpec, FleetRole, FleetSpec, SpotSpec, StepSpec},
};
use crate::{
    api::v1alpha1::{ClusterPool, EmrConfiguration, EmrPool, InstanceFleet, SpotAllocationStrategy, SpotTimeoutAction},
    providers::{AttemptRef, AttemptRequest, ProviderError, task_kind},
    template,
};

/// Tag: namespace of the cluster's pool.
pub const TAG_POOL_NAMESPACE: &str = "ade.dev/pool-namespace";
/// Tag: name of the cluster's pool.
pub const TAG_POOL_NAME: &str = "ade.dev/pool-name";
/// Tag: uid of the cluster's pool: the key clusters are adopted by.
pub const TAG_POOL_UID: &str = "ade.dev/pool-uid";
/// Tag: the operator that manages the cluster.
pub const TAG_MANAGED_BY: &str = "ade.dev/managed-by";
/// Tag: `spot` or `on-demand`, how the cluster's capacity was asked for.
pub const TAG_MARKET: &str = "ade.dev/market";

/// The step name of an attempt, e.g. `ade:analytics/orders-2026-11-25t13#2 <run uid>`:
/// the identity a step is found by (`AddJobFlowSteps` takes no client token).
/// The run's uid makes a run re-created under an old name a stranger to the
/// old run's steps. EMR takes names of up to 256 characters: a long run name
/// is cut, never the attempt or the uid.
pub fn step_name(target: &AttemptRef) -> String {
    let identity = format!("#{} {}", target.attempt, target.run_uid);
    let who: String = format!("ade:{}/{}", target.namespace, target.run)
        .chars()
        .take(256 - identity.len().min(256))
        .collect();
    format!("{who}{}", identity.trim_end())
}

/// The bootstrap action that installs `ade-stream` from `uri` on every node:
/// the local `bash` runs the AWS CLI of the EMR image (the URI is its `$0`,
/// never spliced into the script).
pub fn stream_binary_bootstrap(uri: &str) -> BootstrapSpec {
    BootstrapSpec {
        name: "ade-stream".to_owned(),
        path: "file:/bin/bash".to_owned(),
        args: vec![
            "-c".to_owned(),
            format!(
                "aws s3 cp \"$0\" /tmp/ade-stream && sudo install -m 0755 /tmp/ade-stream {}",
                crate::providers::service::STREAM_BINARY
            ),
            uri.to_owned(),
        ],
    }
}

/// The prefix of every cluster name of a pool: `ade-<namespace>-<pool>-`.
pub fn cluster_name_prefix(namespace: &str, pool: &str) -> String {
    format!("ade-{namespace}-{pool}-")
}

/// A new cluster's name: the pool's prefix and a short hash of `nonce`
/// (the pool uid and the creation instant), e.g. `ade-analytics-spark-3f2a9c1e`.
pub fn cluster_name(namespace: &str, pool: &str, nonce: &str) -> String {
    // FNV-1a: stable across Rust versions, unlike std's hasher.
    let hash = nonce.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{}{:08x}", cluster_name_prefix(namespace, pool), hash & 0xffff_ffff)
}

/// The identity tags of a cluster of `pool`, bought on `market`, managed by `operator`.
pub fn identity_tags(pool: &ClusterPool, market: Market, operator: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_POOL_NAMESPACE.to_owned(), pool.namespace().unwrap_or_default()),
        (TAG_POOL_NAME.to_owned(), pool.name_any()),
        (TAG_POOL_UID.to_owned(), pool.uid().unwrap_or_default()),
        (TAG_MANAGED_BY.to_owned(), operator.to_owned()),
        (TAG_MARKET.to_owned(), market.as_str().to_owned()),
    ])
}

/// The `RunJobFlow` request of a new cluster of `pool` (an emr pool), named
/// with `nonce`. With `market` on-demand (the interruption breaker is open)
/// every fleet asks for its whole capacity on-demand.
pub fn cluster_spec(pool: &ClusterPool, emr: &EmrPool, market: Market, operator: &str, nonce: &str) -> ClusterSpec {
    let fleet = |role, f: &InstanceFleet| {
        let (on_demand, spot) = match market {
            Market::Spot => (f.on_demand, f.spot),
            Market::OnDemand => (f.on_demand + f.spot, 0),
        };
        FleetSpec {
            role,
            instance_types: f.instance_types.clone(),
            on_demand,
            spot,
        }
    };
    let mut fleets = vec![
        fleet(FleetRole::Primary, &emr.primary),
        fleet(FleetRole::Core, &emr.core),
    ];
    fleets.extend(emr.task.as_ref().map(|t| fleet(FleetRole::Task, t)));
    let spot = fleets.iter().any(|f| f.spot > 0).then(|| SpotSpec {
        allocation_strategy: match emr.spot.allocation_strategy {
            SpotAllocationStrategy::PriceCapacityOptimized => "price-capacity-optimized",
            SpotAllocationStrategy::CapacityOptimized => "capacity-optimized",
            SpotAllocationStrategy::LowestPrice => "lowest-price",
            SpotAllocationStrategy::Diversified => "diversified",
        },
        timeout_minutes: minutes(emr.spot.timeout.to_std().map(|d| d.as_secs()).unwrap_or(600)).clamp(5, 1440),
        timeout_action: match emr.spot.on_timeout {
            SpotTimeoutAction::SwitchToOnDemand => "SWITCH_TO_ON_DEMAND",
            SpotTimeoutAction::TerminateCluster => "TERMINATE_CLUSTER",
        },
    });
    let namespace = pool.namespace().unwrap_or_default();
    let mut tags = emr.tags.clone();
    tags.extend(identity_tags(pool, market, operator));
    let idle = pool
        .spec
        .capacity
        .idle_timeout
        .to_std()
        .map(|d| d.as_secs())
        .unwrap_or(600);
    ClusterSpec {
        name: cluster_name(&namespace, &pool.name_any(), nonce),
        release_label: emr.release_label.clone(),
        applications: emr.applications.clone(),
        service_role: emr.service_role.clone(),
        instance_profile: emr.instance_profile.clone(),
        subnet_ids: emr.subnet_ids.clone(),
        log_uri: emr.log_uri.clone(),
        fleets,
        spot,
        configurations: configurations(emr),
        bootstrap_actions: emr
            .bootstrap_actions
            .iter()
            .map(|b| BootstrapSpec {
                name: b.name.clone(),
                path: b.path.clone(),
                args: b.args.clone(),
            })
            .chain(emr.stream_binary_uri.as_deref().map(stream_binary_bootstrap))
            .collect(),
        keep_alive: true,
        step_concurrency: pool.spec.capacity.max_runs_per_cluster.clamp(1, 256),
        // The operator retires idle clusters itself; EMR's own policy is the
        // backstop when the operator is down: twice the idle timeout, within
        // EMR's bounds (1 minute to 7 days).
        auto_termination_idle_seconds: i64::try_from(idle.saturating_mul(2))
            .unwrap_or(i64::MAX)
            .clamp(60, 604_800),
        tags,
    }
}

fn minutes(secs: u64) -> i32 {
    i32::try_from(secs.div_ceil(60)).unwrap_or(i32::MAX)
}

/// Glue Data Catalog as the Hive metastore of Hive, Spark and Trino.
const GLUE_FACTORY: (&str, &str) = (
    "hive.metastore.client.factory.class",
    "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory",
);

/// The pool's classifications, with the Glue catalog added to `hive-site`,
/// `spark-hive-site` and `trino-connector-hive` when `glueCatalog` is on. A
/// property the pool sets itself wins over the operator's.
fn configurations(emr: &EmrPool) -> Vec<ConfigurationSpec> {
    let mut out: Vec<ConfigurationSpec> = emr.configurations.iter().map(configuration).collect();
    if emr.glue_catalog {
        let glue = [
            ("hive-site", GLUE_FACTORY.0, GLUE_FACTORY.1),
            ("spark-hive-site", GLUE_FACTORY.0, GLUE_FACTORY.1),
            ("trino-connector-hive", "hive.metastore", "glue"),
        ];
        for (classification, key, value) in glue {
            let at = match out.iter().position(|c| c.classification == classification) {
                Some(at) => at,
                None => {
                    out.push(ConfigurationSpec {
                        classification: classification.to_owned(),
                        properties: BTreeMap::new(),
                        nested: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            out[at]
                .properties
                .entry(key.to_owned())
                .or_insert_with(|| value.to_owned());
        }
    }
    out
}

fn configuration(c: &EmrConfiguration) -> ConfigurationSpec {
    ConfigurationSpec {
        classification: c.classification.clone(),
        properties: c.properties.clone(),
        nested: c
            .configurations
            .iter()
            .map(|n| ConfigurationSpec {
                classification: n.classification.clone(),
                properties: n.properties.clone(),
                nested: Vec::new(),
            })
            .collect(),
    }
}

/// The `command-runner.jar` step of `request`'s attempt: `spark-submit`,
/// `hive -f` or `trino-cli --execute`, with template variables rendered.
pub fn step_spec(request: &AttemptRequest) -> Result<StepSpec, ProviderError> {
    let values = BTreeMap::from([
        ("batch.id", request.batch_id.clone()),
        ("window.start", request.window.start.to_string()),
        ("window.end", request.window.end.to_string()),
        ("run.attempt", request.target.attempt.to_string()),
        ("job.name", request.job.clone()),
    ]);
    let render = |field: &str, text: &str| template::render(field, text, &values);
    let task = &request.task;
    let args = if let Some(spark) = &task.spark_submit {
        let mut args = vec![
            "spark-submit".to_owned(),
            "--deploy-mode".to_owned(),
            "cluster".to_owned(),
        ];
        if let Some(class) = &spark.main_class {
            args.extend(["--class".to_owned(), class.clone()]);
        }
        for (key, value) in &spark.conf {
            let value = render(&format!("spec.task.sparkSubmit.conf.{key}"), value)?;
            args.extend(["--conf".to_owned(), format!("{key}={value}")]);
        }
        args.push(render(
            "spec.task.sparkSubmit.mainApplicationFile",
            &spark.main_application_file,
        )?);
        for (i, arg) in spark.args.iter().enumerate() {
            args.push(render(&format!("spec.task.sparkSubmit.args[{i}]"), arg)?);
        }
        args
    } else if let Some(hive) = &task.hive {
        let mut args = vec![
            "hive-script".to_owned(),
            "--run-hive-script".to_owned(),
            "--args".to_owned(),
        ];
        args.extend(["-f".to_owned(), hive.script.clone()]);
        for (key, value) in &hive.variables {
            let value = render(&format!("spec.task.hive.variables.{key}"), value)?;
            args.extend(["-d".to_owned(), format!("{key}={value}")]);
        }
        args
    } else if let Some(trino) = &task.trino {
        let mut args = vec!["trino-cli".to_owned()];
        if let Some(catalog) = &trino.catalog {
            args.extend(["--catalog".to_owned(), catalog.clone()]);
        }
        if let Some(schema) = &trino.schema {
            args.extend(["--schema".to_owned(), schema.clone()]);
        }
        args.extend(["--execute".to_owned(), render("spec.task.trino.query", &trino.query)?]);
        args
    } else {
        return Err(ProviderError::Unsupported {
            task: task_kind(task),
            provider: "emr",
            hint: "use a sparkSubmit, hive or trino task, or a ClusterPool with provider kubernetes",
        });
    };
    Ok(StepSpec {
        name: step_name(&request.target),
        args,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
pub(crate) mod tests;

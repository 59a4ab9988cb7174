//! Gauges of what the objects say about themselves (runs by phase, late and
//! quarantined batches, open spot breakers, stream lag), computed at each
//! scrape from the controllers' watch caches, as kube-state-metrics does: a
//! deleted object's series go with it, and no reconcile has to remember to
//! set a gauge. Only the leader runs the caches; a standby exports none of
//! these series.
//!
//! Labels name objects (namespace and name), so their number follows the
//! number of objects, never the number of runs or batches.

use std::sync::atomic::AtomicU64;

use ade_api::v1alpha1::{
    ClusterPool, ClusterPoolStatus, Condition, EtlJob, EtlJobStatus, EtlRun, StreamConsumer, StreamConsumerStatus, Usd,
    find_condition,
};
use kube::ResourceExt;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};

/// The objects the gauges are computed from.
#[derive(Debug, Default)]
pub struct Objects<'a> {
    /// Every EtlRun.
    pub runs: &'a [std::sync::Arc<EtlRun>],
    /// Every EtlJob.
    pub jobs: &'a [std::sync::Arc<EtlJob>],
    /// Every ClusterPool.
    pub pools: &'a [std::sync::Arc<ClusterPool>],
    /// Every StreamConsumer.
    pub consumers: &'a [std::sync::Arc<StreamConsumer>],
}

/// Labels of per-job gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// Namespace of the EtlJob.
    pub namespace: String,
    /// Name of the EtlJob (not `job`: Prometheus gives that label to the scrape job).
    pub etl_job: String,
}

/// Labels of the runs gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// Namespace of the runs.
    pub namespace: String,
    /// Their EtlJob (not `job`: Prometheus gives that label to the scrape job).
    pub etl_job: String,
    /// Their phase (`Pending` before the first status).
    pub phase: &'static str,
}

/// Labels of per-pool gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// Namespace of the ClusterPool.
    pub namespace: String,
    /// Name of the ClusterPool.
    pub pool: String,
}

/// Labels of per-consumer gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    /// Namespace of the StreamConsumer.
    pub namespace: String,
    /// Name of the StreamConsumer.
    pub consumer: String,
}

type F64 = Gauge<f64, AtomicU64>;

/// The object gauges, registered once.
#[derive(Debug, Default)]
pub struct ObjectGauges {
    runs: Family<RunLabels, Gauge>,
    job_late: Family<JobLabels, Gauge>,
    job_held: Family<JobLabels, Gauge>,
    job_quarantined: Family<JobLabels, Gauge>,
    pool_breaker_open: Family<PoolLabels, Gauge>,
    pool_clusters: Family<PoolLabels, Gauge>,
    pool_running: Family<PoolLabels, Gauge>,
    pool_queued: Family<PoolLabels, Gauge>,
    pool_cost: Family<PoolLabels, F64>,
    consumer_lag: Family<ConsumerLabels, F64>,
    consumer_target_lag: Family<ConsumerLabels, F64>,
    consumer_records: Family<ConsumerLabels, F64>,
    consumer_replicas: Family<ConsumerLabels, Gauge>,
    consumer_degraded: Family<ConsumerLabels, Gauge>,
}

impl ObjectGauges {
    /// The gauges, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let g = Self::default();
        registry.register("etl_runs", "EtlRuns by job and phase", g.runs.clone());
        registry.register(
            "etl_job_late",
            "1 while an EtlJob's Late condition is True (a batch missed its freshness deadline)",
            g.job_late.clone(),
        );
        registry.register(
            "etl_job_held",
            "1 while an EtlJob's Held condition is True (an upstream batch is quarantined)",
            g.job_held.clone(),
        );
        registry.register(
            "etl_job_quarantined_batches",
            "Batches of an EtlJob quarantined by a validation gate",
            g.job_quarantined.clone(),
        );
        registry.register(
            "pool_breaker_open",
            "1 while a ClusterPool's spot breaker is open (new clusters on demand)",
            g.pool_breaker_open.clone(),
        );
        registry.register(
            "pool_clusters",
            "Live clusters or nodes of a ClusterPool",
            g.pool_clusters.clone(),
        );
        registry.register(
            "pool_running_runs",
            "EtlRuns running on a ClusterPool",
            g.pool_running.clone(),
        );
        registry.register(
            "pool_queued_runs",
            "EtlRuns waiting for a ClusterPool's capacity or a concurrency slot",
            g.pool_queued.clone(),
        );
        registry.register(
            "pool_cost_usd",
            "Estimated cost of a ClusterPool's capacity so far, US dollars",
            g.pool_cost.clone(),
        );
        registry.register(
            "stream_consumer_lag_seconds",
            "Largest per-shard lag (MillisBehindLatest) of a StreamConsumer",
            g.consumer_lag.clone(),
        );
        registry.register(
            "stream_consumer_target_lag_seconds",
            "A StreamConsumer's scaling.targetLag",
            g.consumer_target_lag.clone(),
        );
        registry.register(
            "stream_consumer_records_per_second",
            "Records a StreamConsumer read per second over its last interval",
            g.consumer_records.clone(),
        );
        registry.register(
            "stream_consumer_replicas",
            "Replicas of a StreamConsumer running",
            g.consumer_replicas.clone(),
        );
        registry.register(
            "stream_consumer_degraded",
            "1 while a StreamConsumer's Degraded condition is True",
            g.consumer_degraded.clone(),
        );
        g
    }

    /// Replaces every series with what `objects` say now.
    pub fn refresh(&self, objects: &Objects<'_>) {
        self.clear();
        // Read in place: a scrape copies no status.
        let (no_job, no_pool, no_consumer) = (
            EtlJobStatus::default(),
            ClusterPoolStatus::default(),
            StreamConsumerStatus::default(),
        );
        for run in objects.runs {
            let phase = run
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .map_or("Pending", |p| p.as_str());
            self.runs
                .get_or_create(&RunLabels {
                    namespace: run.namespace().unwrap_or_default(),
                    etl_job: run.spec.job_ref.name.clone(),
                    phase,
                })
                .inc();
        }
        for job in objects.jobs {
            let labels = JobLabels {
                namespace: job.namespace().unwrap_or_default(),
                etl_job: job.name_any(),
            };
            let status = job.status.as_ref().unwrap_or(&no_job);
            self.job_late
                .get_or_create(&labels)
                .set(is_true(&status.conditions, "Late"));
            self.job_held
                .get_or_create(&labels)
                .set(is_true(&status.conditions, "Held"));
            self.job_quarantined
                .get_or_create(&labels)
                .set(count(status.quarantined_batches.len()));
        }
        for pool in objects.pools {
            let labels = PoolLabels {
                namespace: pool.namespace().unwrap_or_default(),
                pool: pool.name_any(),
            };
            let status = pool.status.as_ref().unwrap_or(&no_pool);
            let open = status.breaker.as_ref().is_some_and(|b| b.state == "Open");
            self.pool_breaker_open.get_or_create(&labels).set(i64::from(open));
            self.pool_clusters
                .get_or_create(&labels)
                .set(i64::from(status.cluster_count));
            self.pool_running
                .get_or_create(&labels)
                .set(i64::from(status.running_runs));
            self.pool_queued
                .get_or_create(&labels)
                .set(i64::from(status.queued_runs));
            self.pool_cost
                .get_or_create(&labels)
                .set(dollars(status.estimated_cost_usd.as_ref()));
        }
        for consumer in objects.consumers {
            let labels = ConsumerLabels {
                namespace: consumer.namespace().unwrap_or_default(),
                consumer: consumer.name_any(),
            };
            let status = consumer.status.as_ref().unwrap_or(&no_consumer);
            // Finished shards (`SHARD_END`) keep their last lag; only open ones count.
            let lag_ms = status
                .shards
                .iter()
                .filter(|s| s.checkpoint.as_deref() != Some(ade_api::lease::SHARD_END))
                .filter_map(|s| s.millis_behind_latest)
                .max()
                .unwrap_or(0);
            #[allow(clippy::cast_precision_loss)] // milliseconds of lag: far below 2^52
            self.consumer_lag.get_or_create(&labels).set(lag_ms as f64 / 1000.0);
            if let Ok(target) = consumer.spec.scaling.target_lag.to_std() {
                self.consumer_target_lag
                    .get_or_create(&labels)
                    .set(target.as_secs_f64());
            }
            self.consumer_records
                .get_or_create(&labels)
                .set(status.records_per_second.unwrap_or(0.0));
            self.consumer_replicas
                .get_or_create(&labels)
                .set(i64::from(status.replicas));
            self.consumer_degraded
                .get_or_create(&labels)
                .set(is_true(&status.conditions, "Degraded"));
        }
    }

    /// One series in every family (the list of exported series).
    pub(crate) fn example(&self) {
        let (namespace, name) = (String::new(), String::new());
        let job = JobLabels {
            namespace: namespace.clone(),
            etl_job: name.clone(),
        };
        let pool = PoolLabels {
            namespace: namespace.clone(),
            pool: name.clone(),
        };
        let consumer = ConsumerLabels {
            namespace: namespace.clone(),
            consumer: name.clone(),
        };
        self.runs
            .get_or_create(&RunLabels {
                namespace,
                etl_job: name,
                phase: "Running",
            })
            .set(0);
        for family in [&self.job_late, &self.job_held, &self.job_quarantined] {
            family.get_or_create(&job).set(0);
        }
        for family in [
            &self.pool_breaker_open,
            &self.pool_clusters,
            &self.pool_running,
            &self.pool_queued,
        ] {
            family.get_or_create(&pool).set(0);
        }
        self.pool_cost.get_or_create(&pool).set(0.0);
        for family in [&self.consumer_lag, &self.consumer_target_lag, &self.consumer_records] {
            family.get_or_create(&consumer).set(0.0);
        }
        for family in [&self.consumer_replicas, &self.consumer_degraded] {
            family.get_or_create(&consumer).set(0);
        }
    }

    fn clear(&self) {
        self.runs.clear();
        self.job_late.clear();
        self.job_held.clear();
        self.job_quarantined.clear();
        self.pool_breaker_open.clear();
        self.pool_clusters.clear();
        self.pool_running.clear();
        self.pool_queued.clear();
        self.pool_cost.clear();
        self.consumer_lag.clear();
        self.consumer_target_lag.clear();
        self.consumer_records.clear();
        self.consumer_replicas.clear();
        self.consumer_degraded.clear();
    }
}

fn is_true(conditions: &[Condition], type_: &str) -> i64 {
    i64::from(find_condition(conditions, type_).is_some_and(|c| c.status == "True"))
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn dollars(usd: Option<&Usd>) -> f64 {
    usd.and_then(Usd::dollars).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prometheus_client::encoding::text::encode;
    use serde_json::json;

    use super::*;

    /// The sample `yaml` in namespace `data`, with `status`.
    fn object<K>(yaml: &str, status: serde_json::Value) -> Arc<K>
    where
        K: serde::de::DeserializeOwned + serde::Serialize,
    {
        let object: K = serde_saphyr::from_str(yaml).expect("a sample object");
        let mut value = serde_json::to_value(object).expect("serialises");
        value["metadata"]["namespace"] = json!("data");
        value["status"] = status;
        Arc::new(serde_json::from_value(value).expect("a valid status"))
    }

    fn condition(type_: &str, status: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "reason": "R", "message": "m",
            "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn objects_become_series_and_deleted_ones_go() {
        let run_yaml = include_str!("../../manifests/samples/etlrun-rerun.yaml");
        let runs: Vec<Arc<EtlRun>> = ["Succeeded", "Succeeded", "Failed"]
            .iter()
            .map(|phase| object(run_yaml, json!({"phase": phase})))
            .collect();
        let job_name = runs[0].spec.job_ref.name.clone();
        let jobs: Vec<Arc<EtlJob>> = vec![object(
            include_str!("../../manifests/samples/etljob-orders.yaml"),
            json!({"quarantinedBatches": ["b1", "b2"],
                "conditions": [condition("Late", "True"), condition("Held", "False")]}),
        )];
        let pools: Vec<Arc<ClusterPool>> = vec![object(
            include_str!("../../manifests/samples/clusterpool-emr.yaml"),
            json!({"clusterCount": 2, "queuedRuns": 3, "estimatedCostUSD": "1.25",
                "breaker": {"state": "Open", "market": "on-demand", "message": "m"}}),
        )];
        let consumers: Vec<Arc<StreamConsumer>> = vec![object(
            include_str!("../../manifests/samples/streamconsumer-app-events.yaml"),
            json!({"replicas": 2, "recordsPerSecond": 12.5,
                "shards": [{"shardId": "a", "millisBehindLatest": 45000}, {"shardId": "b", "millisBehindLatest": 2000},
                    {"shardId": "parent", "checkpoint": "SHARD_END", "millisBehindLatest": 90000}]}),
        )];
        let mut registry = Registry::with_prefix("ade");
        let gauges = ObjectGauges::register(&mut registry);
        gauges.refresh(&Objects {
            runs: &runs,
            jobs: &jobs,
            pools: &pools,
            consumers: &consumers,
        });
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        let (job, pool, consumer) = (jobs[0].name_any(), pools[0].name_any(), consumers[0].name_any());
        for line in [
            format!("ade_etl_runs{{namespace=\"data\",etl_job=\"{job_name}\",phase=\"Succeeded\"}} 2"),
            format!("ade_etl_runs{{namespace=\"data\",etl_job=\"{job_name}\",phase=\"Failed\"}} 1"),
            format!("ade_etl_job_late{{namespace=\"data\",etl_job=\"{job}\"}} 1"),
            format!("ade_etl_job_held{{namespace=\"data\",etl_job=\"{job}\"}} 0"),
            format!("ade_etl_job_quarantined_batches{{namespace=\"data\",etl_job=\"{job}\"}} 2"),
            format!("ade_pool_breaker_open{{namespace=\"data\",pool=\"{pool}\"}} 1"),
            format!("ade_pool_clusters{{namespace=\"data\",pool=\"{pool}\"}} 2"),
            format!("ade_pool_queued_runs{{namespace=\"data\",pool=\"{pool}\"}} 3"),
            format!("ade_pool_cost_usd{{namespace=\"data\",pool=\"{pool}\"}} 1.25"),
            format!("ade_stream_consumer_lag_seconds{{namespace=\"data\",consumer=\"{consumer}\"}} 45.0"),
            format!("ade_stream_consumer_target_lag_seconds{{namespace=\"data\",consumer=\"{consumer}\"}} 30.0"),
            format!("ade_stream_consumer_records_per_second{{namespace=\"data\",consumer=\"{consumer}\"}} 12.5"),
        ] {
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        gauges.refresh(&Objects::default());
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        assert!(!text.contains("namespace=\"data\""), "{text}");
    }
}

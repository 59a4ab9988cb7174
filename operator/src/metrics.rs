//! Prometheus metrics of the operator. Labels are bounded: controller names,
//! error categories, phases, and the names of the objects a series is about
//! (a job, a pool), never run names, batch ids or error text. The gauges of
//! the objects' state are in [`crate::object_metrics`].

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, OnceLock, PoisonError, atomic::AtomicU64},
    time::Instant,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::{
    api::v1alpha1::RunPhase,
    busiest::{Busiest, Recorded},
    controllers::caches::Caches,
    object_metrics::{ObjectGauges, Objects},
};

/// Labels of per-controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// Controller name, e.g. `etl-job`.
    pub controller: &'static str,
}

/// Labels of failure metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// Controller name.
    pub controller: &'static str,
    /// Error category, a fixed word such as `kube-api`.
    pub category: &'static str,
}

/// Labels of run phase metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// Namespace of the run.
    pub namespace: String,
    /// Its EtlJob (not `job`: Prometheus gives that label to the scrape job).
    pub etl_job: String,
    /// Run phase, e.g. `Running`.
    pub phase: &'static str,
}

/// Labels of run duration metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunOutcomeLabels {
    /// Final phase: `Succeeded`, `Failed` or `Cancelled`.
    pub outcome: &'static str,
}

/// Labels of cost metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CostLabels {
    /// Compute provider: `kubernetes` or `emr`.
    pub provider: &'static str,
    /// Namespace of the run.
    pub namespace: String,
    /// Its EtlJob (not `job`: Prometheus gives that label to the scrape job).
    pub etl_job: String,
    /// The ClusterPool it ran on.
    pub pool: String,
}

/// Labels of validation metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ValidationLabels {
    /// Namespace of the ValidationSuite.
    pub namespace: String,
    /// Name of the ValidationSuite.
    pub suite: String,
    /// `Passed`, `Warned`, `Failed`, `InvalidInput`, `PublishFailed` or `Crashed`.
    pub outcome: &'static str,
}

/// Labels of EMR cluster lifecycle metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterEventLabels {
    /// `spot` or `on-demand` (created), or a termination reason such as `IdleTimeout`.
    pub reason: &'static str,
}

/// All metrics, registered once at start-up.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Reconciliations started.
    pub reconciliations: Family<ControllerLabels, Counter>,
    /// Reconciliations that failed, by error category.
    pub failures: Family<FailureLabels, Counter>,
    /// The most reconciliations of one object in the last minute, by
    /// controller (refreshed from `busiest` when encoded): a hot loop shows here.
    reconcile_busiest: Family<ControllerLabels, Gauge>,
    busiest: Mutex<HashMap<&'static str, Busiest>>,
    /// Reconciliation duration in seconds.
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// 1 while every ADE CRD is installed and established.
    pub crds_installed: Gauge<f64, AtomicU64>,
    /// EtlRuns entering each phase.
    pub run_transitions: Family<PhaseLabels, Counter>,
    /// Duration of finished EtlRuns, from first start to end.
    pub run_duration: Family<RunOutcomeLabels, Histogram>,
    /// Retries of failed attempts.
    pub run_retries: Counter,
    /// Delay between a batch's schedule time and its EtlRun's creation.
    pub schedule_lag: Histogram,
    /// Runs waiting for capacity, over all pools.
    pub queue_depth: Gauge,
    /// Estimated cost of finished EtlRuns, US dollars, by provider, job and pool.
    pub run_cost_usd: Family<CostLabels, Counter<f64, AtomicU64>>,
    /// Finished validations, by suite and outcome.
    pub validations: Family<ValidationLabels, Counter>,
    /// Gauges of the objects' state, refreshed from `caches` at each scrape.
    objects: ObjectGauges,
    caches: OnceLock<Caches>,
    /// One refresh of `objects` and encoding at a time.
    scrape: Mutex<()>,
    /// EMR clusters created, by market.
    pub emr_clusters_created: Family<ClusterEventLabels, Counter>,
    /// EMR clusters the operator terminated, by reason.
    pub emr_clusters_terminated: Family<ClusterEventLabels, Counter>,
    /// eks nodes launched, by market.
    pub eks_nodes_launched: Family<ClusterEventLabels, Counter>,
    /// eks nodes the operator terminated, by reason.
    pub eks_nodes_terminated: Family<ClusterEventLabels, Counter>,
    /// Spot reclaims of eks nodes EC2 warned of or carried out.
    pub eks_spot_interruptions: Family<ClusterEventLabels, Counter>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn run_duration_histogram() -> Histogram {
    // 1 s to about 4.5 days
    Histogram::new(exponential_buckets(1.0, 2.0, 19))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ade");
        let reconciliations = Family::<ControllerLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let reconcile_busiest = Family::<ControllerLabels, Gauge>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> Histogram);
        let leader = Gauge::default();
        let crds_installed = Gauge::<f64, AtomicU64>::default();
        let run_transitions = Family::<PhaseLabels, Counter>::default();
        let run_duration =
            Family::<RunOutcomeLabels, Histogram>::new_with_constructor(run_duration_histogram as fn() -> Histogram);
        let run_retries = Counter::default();
        let schedule_lag = Histogram::new(exponential_buckets(0.1, 2.0, 16));
        let queue_depth = Gauge::default();
        let run_cost_usd = Family::<CostLabels, Counter<f64, AtomicU64>>::default();
        let validations = Family::<ValidationLabels, Counter>::default();
        let emr_clusters_created = Family::<ClusterEventLabels, Counter>::default();
        let emr_clusters_terminated = Family::<ClusterEventLabels, Counter>::default();
        let eks_nodes_launched = Family::<ClusterEventLabels, Counter>::default();
        let eks_nodes_terminated = Family::<ClusterEventLabels, Counter>::default();
        let eks_spot_interruptions = Family::<ClusterEventLabels, Counter>::default();
        registry.register(
            "etl_run_cost_usd",
            "Estimated cost of finished EtlRuns in US dollars, by compute provider, job and pool",
            run_cost_usd.clone(),
        );
        registry.register(
            "validations",
            "Finished validations of batches, by ValidationSuite and outcome",
            validations.clone(),
        );
        let objects = ObjectGauges::register(&mut registry);
        registry.register(
            "emr_clusters_created",
            "EMR clusters created, by market",
            emr_clusters_created.clone(),
        );
        registry.register(
            "emr_clusters_terminated",
            "EMR clusters terminated by the operator, by reason",
            emr_clusters_terminated.clone(),
        );
        registry.register(
            "eks_nodes_launched",
            "EC2 nodes launched for eks pools, by market",
            eks_nodes_launched.clone(),
        );
        registry.register(
            "eks_nodes_terminated",
            "EC2 nodes of eks pools terminated by the operator, by reason (Idle, NotRegistered, Drained)",
            eks_nodes_terminated.clone(),
        );
        registry.register(
            "eks_spot_interruptions",
            "Spot reclaims of eks pools' nodes: warned (warning) or carried out (reclaim)",
            eks_spot_interruptions.clone(),
        );
        registry.register(
            "etl_run_transitions",
            "EtlRuns entering each phase",
            run_transitions.clone(),
        );
        registry.register(
            "etl_run_duration_seconds",
            "Duration of finished EtlRuns",
            run_duration.clone(),
        );
        registry.register(
            "etl_run_retries",
            "Retries of failed EtlRun attempts",
            run_retries.clone(),
        );
        registry.register(
            "etl_schedule_lag_seconds",
            "Delay between a batch's schedule time and the creation of its EtlRun",
            schedule_lag.clone(),
        );
        registry.register(
            "pool_queue_depth",
            "EtlRuns waiting for capacity, over all pools",
            queue_depth.clone(),
        );
        registry.register("reconciliations", "Reconciliations started", reconciliations.clone());
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed, by error category",
            failures.clone(),
        );
        registry.register(
            "reconcile_busiest_object_last_minute",
            "The most reconciliations of one object in the last minute",
            reconcile_busiest.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconciliation took",
            reconcile_duration.clone(),
        );
        registry.register("leader", "1 while this replica holds the leader Lease", leader.clone());
        registry.register(
            "crds_installed",
            "1 while every ADE CRD is installed",
            crds_installed.clone(),
        );
        Self {
            registry,
            reconciliations,
            failures,
            reconcile_busiest,
            busiest: Mutex::default(),
            reconcile_duration,
            leader,
            crds_installed,
            run_transitions,
            run_duration,
            run_retries,
            schedule_lag,
            queue_depth,
            run_cost_usd,
            validations,
            objects,
            caches: OnceLock::new(),
            scrape: Mutex::new(()),
            emr_clusters_created,
            emr_clusters_terminated,
            eks_nodes_launched,
            eks_nodes_terminated,
            eks_spot_interruptions,
        }
    }
}

impl Metrics {
    /// Counts a reconciliation of the object `key` by `controller`.
    pub fn record_reconcile(&self, controller: &'static str, key: &str, now: Instant) -> Recorded {
        let mut busiest = self.busiest.lock().unwrap_or_else(PoisonError::into_inner);
        busiest.entry(controller).or_default().record(key, now)
    }

    /// Computes the object gauges from `caches` at every scrape from now on
    /// (once; later calls do nothing).
    pub fn observe(&self, caches: Caches) {
        let _ = self.caches.set(caches);
    }

    /// Gives a job's final-phase counters, and its cost counter on `pool`
    /// with `provider`, a series at 0 before its first run ends: `increase()`
    /// counts nothing for a series that first appears at 1, so an alert on the
    /// first failed run of a job would never fire. Called by every reconcile
    /// of the job, which comes before any of its runs.
    pub fn job_seen(&self, namespace: &str, job: &str, pool: &str, provider: Option<&'static str>) {
        for phase in [RunPhase::Succeeded, RunPhase::Failed, RunPhase::Cancelled] {
            self.run_transitions
                .get_or_create(&PhaseLabels {
                    namespace: namespace.to_owned(),
                    etl_job: job.to_owned(),
                    phase: phase.as_str(),
                })
                .inc_by(0);
        }
        if let Some(provider) = provider {
            self.run_cost_usd
                .get_or_create(&CostLabels {
                    provider,
                    namespace: namespace.to_owned(),
                    etl_job: job.to_owned(),
                    pool: pool.to_owned(),
                })
                .inc_by(0.0);
        }
    }

    /// Gives a suite's validation counters a series at 0 for each of
    /// `outcomes`, before its first verdict (see [`Metrics::job_seen`]).
    pub fn suite_seen(&self, namespace: &str, suite: &str, outcomes: &[&'static str]) {
        for outcome in outcomes {
            self.validations
                .get_or_create(&ValidationLabels {
                    namespace: namespace.to_owned(),
                    suite: suite.to_owned(),
                    outcome,
                })
                .inc_by(0);
        }
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let _scrape = self.scrape.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(caches) = self.caches.get() {
            let (runs, jobs, pools, consumers) = (
                caches.runs.all(),
                caches.jobs.all(),
                caches.pools.all(),
                caches.consumers.all(),
            );
            self.objects.refresh(&Objects {
                runs: &runs,
                jobs: &jobs,
                pools: &pools,
                consumers: &consumers,
            });
        }
        let now = Instant::now();
        for (controller, tracker) in self.busiest.lock().unwrap_or_else(PoisonError::into_inner).iter_mut() {
            let most = i64::try_from(tracker.busiest(now)).unwrap_or(i64::MAX);
            self.reconcile_busiest
                .get_or_create(&ControllerLabels { controller })
                .set(most);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Every series name the operator exports (`ade_leader`,
/// `ade_reconciliations_total`, `ade_etl_run_duration_seconds_bucket`…): what
/// the chart's alert rules and dashboard may query (`make generate` writes
/// them to `charts/ade-operator/monitoring/series-operator.txt`).
pub fn series() -> BTreeSet<String> {
    ade_api::exposition::sample_names(&example().encode().unwrap_or_default())
}

/// Metrics with one series in every family.
fn example() -> Metrics {
    let m = Metrics::default();
    let (controller, namespace, job) = ("etl-job", String::new(), String::new());
    m.reconciliations.get_or_create(&ControllerLabels { controller }).inc();
    m.failures
        .get_or_create(&FailureLabels {
            controller,
            category: "kube-api",
        })
        .inc();
    m.reconcile_duration
        .get_or_create(&ControllerLabels { controller })
        .observe(0.1);
    m.record_reconcile(controller, "ns/name", Instant::now());
    m.run_transitions
        .get_or_create(&PhaseLabels {
            namespace: namespace.clone(),
            etl_job: job.clone(),
            phase: "Running",
        })
        .inc();
    m.run_duration
        .get_or_create(&RunOutcomeLabels { outcome: "Succeeded" })
        .observe(1.0);
    m.run_cost_usd
        .get_or_create(&CostLabels {
            provider: "emr",
            namespace: namespace.clone(),
            etl_job: job,
            pool: String::new(),
        })
        .inc_by(0.1);
    m.validations
        .get_or_create(&ValidationLabels {
            namespace,
            suite: String::new(),
            outcome: "Passed",
        })
        .inc();
    m.emr_clusters_created
        .get_or_create(&ClusterEventLabels { reason: "spot" })
        .inc();
    m.emr_clusters_terminated
        .get_or_create(&ClusterEventLabels { reason: "IdleTimeout" })
        .inc();
    m.eks_nodes_launched
        .get_or_create(&ClusterEventLabels { reason: "spot" })
        .inc();
    m.eks_nodes_terminated
        .get_or_create(&ClusterEventLabels { reason: "Idle" })
        .inc();
    m.eks_spot_interruptions
        .get_or_create(&ClusterEventLabels { reason: "warning" })
        .inc();
    m.objects.example();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_prefix_and_bounded_labels() {
        let metrics = Metrics::default();
        metrics
            .reconciliations
            .get_or_create(&ControllerLabels { controller: "etl-job" })
            .inc();
        metrics
            .failures
            .get_or_create(&FailureLabels {
                controller: "etl-job",
                category: "kube-api",
            })
            .inc();
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains("ade_reconciliations_total{controller=\"etl-job\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ade_reconcile_failures_total{controller=\"etl-job\",category=\"kube-api\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE ade_leader gauge"), "{text}");
        metrics
            .run_cost_usd
            .get_or_create(&CostLabels {
                provider: "emr",
                namespace: "data".into(),
                etl_job: "orders".into(),
                pool: "spot".into(),
            })
            .inc_by(0.25);
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains(
                "ade_etl_run_cost_usd_total{provider=\"emr\",namespace=\"data\",etl_job=\"orders\",pool=\"spot\"} 0.25"
            ),
            "{text}"
        );
    }

    /// A job's failed-run and cost counters exist at 0 once the job is seen,
    /// before its first run ends; the object gauges come from the caches.
    #[test]
    fn jobs_count_from_zero_and_objects_are_read_at_each_scrape() {
        let mut job: crate::api::v1alpha1::EtlJob =
            serde_saphyr::from_str(include_str!("../../manifests/samples/etljob-orders.yaml")).expect("sample");
        job.metadata.namespace = Some("data".into());
        let metrics = Metrics::default();
        let name = kube::ResourceExt::name_any(&job);
        metrics.job_seen("data", &name, "batch", Some("kubernetes"));
        metrics.suite_seen("data", "quality", &["Passed", "Failed"]);
        metrics.observe(Caches::of(Vec::new(), vec![job], Vec::new()));
        let text = metrics.encode().expect("encodes");
        for line in [
            format!("ade_etl_run_transitions_total{{namespace=\"data\",etl_job=\"{name}\",phase=\"Failed\"}} 0"),
            format!(
                "ade_etl_run_cost_usd_total{{provider=\"kubernetes\",namespace=\"data\",etl_job=\"{name}\",pool=\"batch\"}} 0.0"
            ),
            "ade_validations_total{namespace=\"data\",suite=\"quality\",outcome=\"Failed\"} 0".to_owned(),
            format!("ade_etl_job_late{{namespace=\"data\",etl_job=\"{name}\"}} 0"),
        ] {
            assert!(text.contains(&line), "{line} in\n{text}");
        }
    }

    /// The series list the chart's rules and dashboard are checked against
    /// comes from an encoding with a series in every family: a family added
    /// without one in [`example`] would be missing from the list.
    #[test]
    fn the_example_has_a_series_in_every_family() {
        let text = example().encode().expect("encodes");
        assert_eq!(
            ade_api::exposition::families_without_samples(&text),
            Vec::<String>::new()
        );
        let series = series();
        for name in [
            "ade_leader",
            "ade_etl_runs",
            "ade_pool_breaker_open",
            "ade_etl_run_duration_seconds_bucket",
        ] {
            assert!(series.contains(name), "{name} in {series:?}");
        }
    }
}

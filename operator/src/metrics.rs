//! Prometheus metrics of the operator. Labels are bounded: controller names
//! and error categories, never object names or error text.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError, atomic::AtomicU64},
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

use crate::busiest::{Busiest, Recorded};

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
pub struct ProviderLabels {
    /// Compute provider: `kubernetes` or `emr`.
    pub provider: &'static str,
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
    /// Estimated cost of finished EtlRuns, US dollars, by provider.
    pub run_cost_usd: Family<ProviderLabels, Counter<f64, AtomicU64>>,
    /// EMR clusters created, by market.
    pub emr_clusters_created: Family<ClusterEventLabels, Counter>,
    /// EMR clusters the operator terminated, by reason.
    pub emr_clusters_terminated: Family<ClusterEventLabels, Counter>,
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
        let run_cost_usd = Family::<ProviderLabels, Counter<f64, AtomicU64>>::default();
        let emr_clusters_created = Family::<ClusterEventLabels, Counter>::default();
        let emr_clusters_terminated = Family::<ClusterEventLabels, Counter>::default();
        registry.register(
            "etl_run_cost_usd",
            "Estimated cost of finished EtlRuns in US dollars, by compute provider",
            run_cost_usd.clone(),
        );
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
            emr_clusters_created,
            emr_clusters_terminated,
        }
    }
}

impl Metrics {
    /// Counts a reconciliation of the object `key` by `controller`.
    pub fn record_reconcile(&self, controller: &'static str, key: &str, now: Instant) -> Recorded {
        let mut busiest = self.busiest.lock().unwrap_or_else(PoisonError::into_inner);
        busiest.entry(controller).or_default().record(key, now)
    }

    /// The registry in the Prometheus text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
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
            .get_or_create(&ProviderLabels { provider: "emr" })
            .inc_by(0.25);
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains("ade_etl_run_cost_usd_total{provider=\"emr\"} 0.25"),
            "{text}"
        );
    }
}

//! Prometheus metrics of the operator. Labels are bounded: controller names
//! and error categories, never object names or error text.

use std::sync::atomic::AtomicU64;

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

/// All metrics, registered once at start-up.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Reconciliations started.
    pub reconciliations: Family<ControllerLabels, Counter>,
    /// Reconciliations that failed, by error category.
    pub failures: Family<FailureLabels, Counter>,
    /// Reconciliation duration in seconds.
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
    /// 1 while every ADE CRD is installed and established.
    pub crds_installed: Gauge<f64, AtomicU64>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ade");
        let reconciliations = Family::<ControllerLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> Histogram);
        let leader = Gauge::default();
        let crds_installed = Gauge::<f64, AtomicU64>::default();
        registry.register("reconciliations", "Reconciliations started", reconciliations.clone());
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed, by error category",
            failures.clone(),
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
            reconcile_duration,
            leader,
            crds_installed,
        }
    }
}

impl Metrics {
    /// The registry in the Prometheus text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
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
    }
}

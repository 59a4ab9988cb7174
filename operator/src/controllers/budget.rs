//! What one run of a job is projected to cost, for `budget.maxCostPerRunUSD`
//! on every provider: the run's requests × price × timeout where the task
//! requests resources (kubernetes containers), and the mean cost of the
//! job's newest finished runs where they cost more (sparkSubmit, hive and
//! trino tasks, emr pools). Shared by the EtlJob's `OverBudget` condition
//! and the EtlRun's admission.
//!
//! Pure.

use crate::{
    api::v1alpha1::{EtlJobSpec, EtlRun},
    controllers::etl_run::plan::projected_seconds,
    cost,
};

/// Finished runs whose cost the projection averages.
pub const RECENT: usize = 5;

/// A projected cost and what it is based on, for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// US dollars per run.
    pub usd: f64,
    /// What the figure comes from.
    pub basis: String,
}

/// The costs of `job`'s newest finished runs among `runs` (at most [`RECENT`]).
pub fn recent_costs<'a>(job: &str, runs: impl IntoIterator<Item = &'a EtlRun>) -> Vec<f64> {
    let mut finished: Vec<(Option<jiff::Timestamp>, f64)> = runs
        .into_iter()
        .filter(|r| r.spec.job_ref.name == job)
        .filter_map(|r| {
            let status = r.status.as_ref()?;
            if !status.phase.is_some_and(|p| p.is_final()) {
                return None;
            }
            let usd = status.estimated_cost_usd.as_ref()?.dollars()?;
            Some((status.finished_at.as_ref().map(|t| t.0), usd))
        })
        .collect();
    finished.sort_by_key(|r| std::cmp::Reverse(r.0));
    finished.into_iter().take(RECENT).map(|(_, usd)| usd).collect()
}

/// What a run of a job with `spec` is projected to cost.
pub fn project(spec: &EtlJobSpec, prices: cost::Prices, recent: &[f64]) -> Projection {
    let reserved = cost::reserved(spec.task.container.as_ref().and_then(|c| c.resources.as_ref()));
    let by_requests = cost::cost(reserved, prices, projected_seconds(spec));
    #[allow(clippy::cast_precision_loss)]
    let mean = (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64);
    match mean {
        Some(mean) if mean > by_requests => Projection {
            usd: mean,
            basis: format!("the mean of its last {} finished runs", recent.len()),
        },
        _ if by_requests > 0.0 => Projection {
            usd: by_requests,
            basis: "requests × price × timeout".into(),
        },
        _ => Projection {
            usd: 0.0,
            basis: "no finished run with a cost yet and no resource requests".into(),
        },
    }
}

/// The budget's limit, when the job has one.
pub fn limit(spec: &EtlJobSpec) -> Option<f64> {
    let budget = spec.budget.as_ref()?;
    Some(budget.max_cost_per_run_usd.dollars().unwrap_or(f64::MAX))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(task: serde_json::Value) -> EtlJobSpec {
        serde_json::from_value(json!({
            "poolRef": {"name": "spark"}, "timeout": "1h", "budget": {"maxCostPerRunUSD": "1.50"}, "task": task,
        }))
        .expect("spec")
    }

    fn finished(job: &str, minute: u32, usd: &str) -> EtlRun {
        serde_json::from_value(json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
            "metadata": {"name": format!("{job}-{minute}")},
            "spec": {"jobRef": {"name": job}, "batchId": format!("b{minute}")},
            "status": {"phase": "Succeeded", "estimatedCostUSD": usd,
                       "finishedAt": format!("2026-11-25T10:{minute:02}:00Z")},
        }))
        .expect("run")
    }

    /// Issue 12, item 11.
    #[test]
    fn budgets_hold_on_every_provider() {
        let prices = cost::Prices {
            cpu_hour: 0.04,
            memory_gib_hour: 0.005,
        };
        let spark = spec(json!({"sparkSubmit": {"mainApplicationFile": "s3://code/a.py"}}));
        // No history: nothing to project from yet, and the message says so.
        let none = project(&spark, prices, &[]);
        assert_eq!(none.usd, 0.0);
        assert!(none.basis.contains("no finished run"), "{}", none.basis);
        // The job's recent EMR runs cost about $2: over the $1.50 budget.
        let runs: Vec<EtlRun> = (0..8)
            .map(|m| finished("orders", m, if m < 3 { "9.0000" } else { "2.0000" }))
            .chain([finished("other", 9, "50.0000")])
            .collect();
        let recent = recent_costs("orders", &runs);
        assert_eq!(recent, [2.0; RECENT], "the newest five of this job only");
        let p = project(&spark, prices, &recent);
        assert!((p.usd - 2.0).abs() < 1e-9, "{p:?}");
        assert!(p.usd > limit(&spark).expect("budget"), "{p:?}");
        assert!(p.basis.contains("last 5 finished runs"), "{}", p.basis);
        // A container with requests keeps its requests × price × timeout when that is higher.
        let container = spec(
            json!({"container": {"image": "busybox", "resources": {"requests": {"cpu": "100", "memory": "1Gi"}}}}),
        );
        let p = project(&container, prices, &recent);
        assert!((p.usd - 4.005).abs() < 0.01, "{p:?}");
        assert_eq!(p.basis, "requests × price × timeout");
    }
}

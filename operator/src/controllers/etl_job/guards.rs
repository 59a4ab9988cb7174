//! The job's `Late` and `OverBudget` conditions: a batch that is not done by
//! its window end + `freshness.deadline`, and a run whose projected cost is
//! above `budget.maxCostPerRunUSD` (such runs are held by the EtlRun
//! controller with `Scheduled=False, OverBudget`).
//!
//! Pure.

use jiff::{SignedDuration, Timestamp};

use crate::{
    api::v1alpha1::{EtlJobSpec, EtlRun, RunPhase},
    controllers::{
        budget,
        conditions::{Desired, Status},
    },
    cost,
};

/// `Late`: True while a batch of the job is past its deadline and not Succeeded.
pub fn late(spec: &EtlJobSpec, runs: &[EtlRun], now: Timestamp) -> Desired {
    let Some(deadline) = spec.freshness.as_ref().and_then(|f| f.deadline.to_std().ok()) else {
        return Desired::new(
            "Late",
            Status::False,
            "NoDeadline",
            "the job sets no freshness deadline",
        );
    };
    let deadline = SignedDuration::try_from(deadline).unwrap_or(SignedDuration::MAX);
    let mut late: Vec<&str> = runs
        .iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.phase) != Some(RunPhase::Succeeded))
        .filter(|r| {
            r.spec
                .window
                .as_ref()
                .and_then(|w| w.end.0.checked_add(deadline).ok())
                .is_some_and(|due| due < now)
        })
        .map(|r| r.spec.batch_id.as_str())
        .collect();
    late.sort_unstable();
    match late.as_slice() {
        [] => Desired::new(
            "Late",
            Status::False,
            "OnTime",
            "every batch is done within its deadline",
        ),
        batches => Desired::new(
            "Late",
            Status::True,
            "DeadlineMissed",
            format!(
                "{} batch(es) not done within {} of their window end: {}",
                batches.len(),
                spec.freshness
                    .as_ref()
                    .map(|f| f.deadline.0.as_str())
                    .unwrap_or_default(),
                batches.iter().take(10).copied().collect::<Vec<_>>().join(", ")
            ),
        ),
    }
}

/// `OverBudget`: True when a run's projected cost ([`budget::project`], from
/// `recent`: the costs of the job's newest finished runs) is above the job's budget.
pub fn over_budget(spec: &EtlJobSpec, prices: cost::Prices, recent: &[f64]) -> Desired {
    let Some(limit) = budget::limit(spec) else {
        return Desired::new("OverBudget", Status::False, "NoBudget", "the job sets no budget");
    };
    let projected = budget::project(spec, prices, recent);
    let usd = cost::usd(projected.usd);
    if projected.usd > limit {
        Desired::new(
            "OverBudget",
            Status::True,
            "ProjectedCostTooHigh",
            format!(
                "a run is projected to cost ${usd} ({}), above the budget of ${}: runs are not started",
                projected.basis,
                cost::usd(limit)
            ),
        )
    } else {
        Desired::new(
            "OverBudget",
            Status::False,
            "WithinBudget",
            format!("a run is projected to cost ${usd} ({})", projected.basis),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::{EtlRunSpec, EtlRunStatus, LocalObjectReference, RunReason, RunWindow, Time};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn spec(extra: &str) -> EtlJobSpec {
        serde_saphyr::from_str(&format!(
            "poolRef: {{name: p}}\ntask: {{container: {{image: x, resources: {{requests: {{cpu: '4', memory: 16Gi}}}}}}}}\n{extra}"
        ))
        .expect("spec")
    }

    fn run(batch: &str, end: &str, phase: Option<RunPhase>) -> EtlRun {
        let mut run = EtlRun::new(
            batch,
            EtlRunSpec {
                job_ref: LocalObjectReference { name: "j".into() },
                batch_id: batch.into(),
                window: Some(RunWindow {
                    start: Time(ts("2026-11-25T00:00:00Z")),
                    end: Time(ts(end)),
                }),
                reason: RunReason::Schedule,
                cancel: false,
            },
        );
        run.status = phase.map(|p| EtlRunStatus {
            phase: Some(p),
            ..EtlRunStatus::default()
        });
        run
    }

    #[test]
    fn late_batches_are_named() {
        let now = ts("2026-11-25T16:00:00Z");
        let runs = [
            run("b13", "2026-11-25T13:00:00Z", Some(RunPhase::Running)),
            run("b12", "2026-11-25T12:00:00Z", Some(RunPhase::Succeeded)),
            run("b14", "2026-11-25T14:00:00Z", Some(RunPhase::Failed)),
            run("b15", "2026-11-25T15:00:00Z", None),
        ];
        let got = late(&spec("freshness: {deadline: 90m}"), &runs, now);
        assert_eq!((got.status, got.reason), (Status::True, "DeadlineMissed"));
        assert!(
            got.message
                .ends_with("2 batch(es) not done within 90m of their window end: b13, b14"),
            "{}",
            got.message
        );
        assert_eq!(late(&spec(""), &runs, now).status, Status::False);
        assert_eq!(late(&spec("freshness: {deadline: 5h}"), &runs, now).reason, "OnTime");
    }

    #[test]
    fn budget_against_projected_cost() {
        let prices = cost::Prices {
            cpu_hour: 0.04,
            memory_gib_hour: 0.005,
        };
        // 4 cpu and 16 GiB for the 2h timeout: (0.16 + 0.08) * 2 = 0.48
        let over = over_budget(&spec("timeout: 2h\nbudget: {maxCostPerRunUSD: '0.25'}"), prices, &[]);
        assert_eq!((over.status, over.reason), (Status::True, "ProjectedCostTooHigh"));
        assert!(over.message.contains("$0.4800"), "{}", over.message);
        let within = over_budget(&spec("timeout: 2h\nbudget: {maxCostPerRunUSD: '1'}"), prices, &[]);
        // Runs that cost more than the requests say: their mean counts.
        let history = over_budget(
            &spec("timeout: 2h\nbudget: {maxCostPerRunUSD: '1'}"),
            prices,
            &[1.5, 1.25],
        );
        assert_eq!(history.status, Status::True, "{}", history.message);
        assert!(history.message.contains("last 2 finished runs"), "{}", history.message);
        assert_eq!(within.status, Status::False);
        assert_eq!(over_budget(&spec(""), prices, &[]).reason, "NoBudget");
    }
}

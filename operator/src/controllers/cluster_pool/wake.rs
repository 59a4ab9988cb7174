//! Which changes of a run wake its pool. A pool needs to hear of a run that
//! is queued, placed, started, retried, finished or deleted, not of every
//! status write (its cost so far, a message), each of which would otherwise
//! cost an emr pool a round of EMR calls. What the pool does not hear of
//! at once it sees at its next resync.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Mutex,
};

use kube::ResourceExt;

use crate::api::v1alpha1::EtlRun;

/// The last significant state of each run seen, by (namespace, name).
#[derive(Debug, Default)]
pub struct Wakes {
    seen: Mutex<HashMap<(String, String), u64>>,
}

impl Wakes {
    /// Whether this version of `run` differs from the last one seen in what
    /// its pool acts on. A finished run is forgotten once its end was seen,
    /// so the map holds only the runs in progress.
    pub fn changed(&self, run: &EtlRun) -> bool {
        let key = (run.namespace().unwrap_or_default(), run.name_any());
        let hash = significant(run);
        let finished = run.status.as_ref().and_then(|s| s.phase).is_some_and(|p| p.is_final());
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = if finished {
            seen.remove(&key)
        } else {
            seen.insert(key, hash)
        };
        previous != Some(hash)
    }
}

fn significant(run: &EtlRun) -> u64 {
    let mut h = DefaultHasher::new();
    run.metadata.deletion_timestamp.is_some().hash(&mut h);
    run.spec.cancel.hash(&mut h);
    if let Some(status) = &run.status {
        status.phase.map(|p| format!("{p:?}")).hash(&mut h);
        status.pool.hash(&mut h);
        status.cluster.hash(&mut h);
        status.attempts.len().hash(&mut h);
        status.next_attempt_at.as_ref().map(|t| t.0.to_string()).hash(&mut h);
        if let Some(last) = status.attempts.last() {
            (&last.cluster_id, &last.step_id, &last.job_name).hash(&mut h);
            last.outcome.map(|o| format!("{o:?}")).hash(&mut h);
        }
        for c in &status.conditions {
            (&c.type_, &c.status, &c.reason).hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::{EtlRunStatus, RunPhase, Usd};

    fn run(phase: RunPhase, cost: &str) -> EtlRun {
        let mut run: EtlRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "ade.dev/v1alpha1",
            "kind": "EtlRun",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"jobRef": {"name": "j"}, "batchId": "b"},
        }))
        .unwrap();
        run.status = Some(EtlRunStatus {
            phase: Some(phase),
            estimated_cost_usd: Some(Usd(cost.into())),
            ..EtlRunStatus::default()
        });
        run
    }

    #[test]
    fn a_cost_update_does_not_wake_the_pool_and_a_phase_change_does() {
        let wakes = Wakes::default();
        assert!(wakes.changed(&run(RunPhase::Running, "0.0100")));
        assert!(!wakes.changed(&run(RunPhase::Running, "0.0200")));
        assert!(wakes.changed(&run(RunPhase::Succeeded, "0.0300")));
        assert!(wakes.seen.lock().unwrap().is_empty(), "a finished run is forgotten");
    }
}

//! Which changes of a run wake its pool. A pool needs to hear of a run that
//! is queued, placed, started, retried, finished or deleted, not of every
//! status write (its cost so far, a message), each of which would otherwise
//! cost an emr pool a round of EMR calls. The same for a StreamConsumer on
//! runtime emr: its pool hears when its step's state or attempt changes (it
//! starts waiting for a slot, runs, or has a restart due) or it is deleted.
//! What the pool does not hear of at once it sees at its next resync.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Mutex,
};

use kube::ResourceExt;

use crate::api::v1alpha1::{EtlRun, StreamConsumer};

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
        let finished = run.status.as_ref().and_then(|s| s.phase).is_some_and(|p| p.is_final());
        self.note(
            run.namespace().unwrap_or_default(),
            run.name_any(),
            significant(run),
            finished,
        )
    }

    /// Whether this version of `consumer` differs from the last one seen in
    /// what its pool acts on: its EMR step's state and attempt, its deletion.
    pub fn consumer_changed(&self, consumer: &StreamConsumer) -> bool {
        let mut h = DefaultHasher::new();
        consumer.metadata.deletion_timestamp.is_some().hash(&mut h);
        consumer.spec.pool_ref.as_ref().map(|r| &r.name).hash(&mut h);
        if let Some(step) = consumer.status.as_ref().and_then(|s| s.emr.as_ref()) {
            (&step.state, step.attempt).hash(&mut h);
        }
        let gone = consumer.metadata.deletion_timestamp.is_some();
        self.note(
            consumer.namespace().unwrap_or_default(),
            consumer.name_any(),
            h.finish(),
            gone,
        )
    }

    /// Records `hash` for (namespace, name), or forgets it when `forget`;
    /// whether it differs from what was recorded.
    fn note(&self, namespace: String, name: String, hash: u64, forget: bool) -> bool {
        let key = (namespace, name);
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = if forget {
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

    #[test]
    fn a_consumer_wakes_its_pool_when_its_step_state_changes_not_on_a_lag_update() {
        use crate::api::v1alpha1::{EmrStepStatus, StreamConsumerStatus};
        let consumer = |state: &str, lag: &str| {
            let mut c: StreamConsumer = serde_json::from_value(serde_json::json!({
                "apiVersion": "ade.dev/v1alpha1",
                "kind": "StreamConsumer",
                "metadata": {"name": "c", "namespace": "ns"},
                "spec": {
                    "source": {"kinesis": {"streamName": "s", "region": "us-east-1"}},
                    "runtime": "emr",
                    "poolRef": {"name": "p"},
                    "sink": {"s3": {"uri": "s3://lake/x/"}},
                },
            }))
            .unwrap();
            c.status = Some(StreamConsumerStatus {
                lag: Some(lag.into()),
                emr: Some(EmrStepStatus {
                    attempt: 1,
                    state: state.into(),
                    ..EmrStepStatus::default()
                }),
                ..StreamConsumerStatus::default()
            });
            c
        };
        let wakes = Wakes::default();
        assert!(wakes.consumer_changed(&consumer("WaitingForCluster", "0s")));
        assert!(wakes.consumer_changed(&consumer("Running", "0s")));
        assert!(
            !wakes.consumer_changed(&consumer("Running", "5s")),
            "lag is not the pool's business"
        );
        assert!(wakes.consumer_changed(&consumer("RestartPending", "5s")));
    }
}

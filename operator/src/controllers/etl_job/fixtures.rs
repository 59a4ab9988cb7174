//! Fixtures of the EtlJob planner's tests (`plan_tests`, `backfill_tests`).

use jiff::Timestamp;

use crate::api::v1alpha1::{ClusterPool, EtlJob, EtlJobSpec, EtlJobStatus, Time};

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// Job `orders` on pool `p` with a container task, `extra` spec lines, created
/// at `created`, last scheduled at `last`.
pub fn job(extra: &str, created: &str, last: Option<&str>) -> EtlJob {
    let spec: EtlJobSpec = serde_saphyr::from_str(&format!(
        "poolRef: {{name: p}}\ntask: {{container: {{image: busybox}}}}\n{extra}"
    ))
    .expect("job spec");
    let mut job = EtlJob::new("orders", spec);
    job.metadata.uid = Some("job-uid".into());
    job.metadata.generation = Some(1);
    job.metadata.creation_timestamp = Some(Time(ts(created)));
    job.status = last.map(|l| EtlJobStatus {
        last_schedule_time: Some(Time(ts(l))),
        ..EtlJobStatus::default()
    });
    job
}

/// Pool `p` on the kubernetes provider.
pub fn pool() -> ClusterPool {
    ClusterPool::new("p", serde_saphyr::from_str("provider: kubernetes").expect("pool spec"))
}

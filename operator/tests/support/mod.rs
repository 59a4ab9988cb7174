//! What the EMR integration tests against moto share (`emr_moto`,
//! `emr_faults_moto`): a pool in namespace `analytics`, an attempt request
//! of it, the demand of queued runs, and a raw SDK client to read what moto
//! stored. Each test crate uses only some of it.
#![allow(dead_code, clippy::unwrap_used)]

use ade_moto::Moto;
use ade_operator::{
    api::v1alpha1::{ClusterPool, Task},
    providers::{
        AttemptHandle, AttemptRef, AttemptRequest,
        emr::{capacity::Demand, request::step_name},
    },
    schedule::Window,
};
use aws_sdk_emr::config::{BehaviorVersion, Credentials, Region};

/// Pool `name` in namespace `analytics` with the spec `spec` (YAML).
pub fn pool(spec: &str, name: &str) -> ClusterPool {
    let mut pool = ClusterPool::new(name, serde_saphyr::from_str(spec).unwrap());
    pool.metadata.namespace = Some("analytics".into());
    pool.metadata.uid = Some(format!("uid-{name}"));
    pool
}

/// A raw SDK client, to read what moto stored.
pub async fn raw(moto: &Moto) -> aws_sdk_emr::Client {
    let conf = aws_sdk_emr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_emr::Client::from_conf(conf)
}

/// Attempt 1 of run `run` of job `orders`, a Spark task on `pool`.
pub fn request(pool: &ClusterPool, run: &str) -> AttemptRequest {
    AttemptRequest {
        target: AttemptRef {
            namespace: "analytics".into(),
            run: run.into(),
            run_uid: format!("{run}-uid"),
            attempt: 1,
            handle: AttemptHandle::default(),
            pool: Some(pool.clone()),
        },
        job: "orders".into(),
        batch_id: "2026-11-25T13".into(),
        window: Window {
            start: "2026-11-25T13:00:00Z".parse().unwrap(),
            end: "2026-11-25T14:00:00Z".parse().unwrap(),
        },
        task: serde_saphyr::from_str::<Task>(
            "sparkSubmit: {mainApplicationFile: s3://code/orders.py, args: [--batch, '{{batch.id}}']}",
        )
        .unwrap(),
        timeout: None,
        pool: pool.clone(),
    }
}

/// The demand of `runs`, all queued.
pub fn demand(runs: &[&AttemptRequest]) -> Demand {
    Demand {
        queued: runs.iter().map(|r| step_name(&r.target)).collect(),
        placed: Vec::new(),
    }
}

//! The Job of an attempt, and what failed Jobs say.

use k8s_openapi::{
    api::{
        batch::v1::{JobCondition, JobStatus},
        core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodStatus},
    },
    apimachinery::pkg::apis::meta::v1::Time,
};

use super::*;
use crate::{
    api::v1alpha1::{ClusterPool, Task},
    providers::AttemptRef,
    schedule::Window,
};

fn request(task: &str, pool: &str) -> AttemptRequest {
    let task: Task = serde_saphyr::from_str(task).expect("task");
    let mut pool = ClusterPool::new("batch", serde_saphyr::from_str(pool).expect("pool"));
    pool.metadata.labels = Some(BTreeMap::from([("argocd.argoproj.io/instance".into(), "data".into())]));
    AttemptRequest {
        target: AttemptRef {
            namespace: "data".into(),
            run: "orders-2026-11-25t13".into(),
            run_uid: "run-uid".into(),
            attempt: 2,
            handle: Default::default(),
            pool: None,
        },
        job: "orders".into(),
        batch_id: "2026-11-25T13".into(),
        window: Window {
            start: "2026-11-25T13:00:00Z".parse().expect("ts"),
            end: "2026-11-25T14:00:00Z".parse().expect("ts"),
        },
        task,
        timeout: Some(std::time::Duration::from_secs(2700)),
        pool,
    }
}

fn settings() -> JobSettings {
    JobSettings {
        spark_image: "spark:3.5".into(),
        ttl_seconds_after_finished: 3600,
    }
}

const CONTAINER_TASK: &str = "container:
  image: acme/etl:1
  args: ['--out=s3://lake/orders/batch={{batch.id}}/', '--from={{window.start}}', '--try={{ run.attempt }}']
  env: [{name: JOB, value: '{{job.name}}'}, {name: PLAIN, value: x}]
  resources: {requests: {cpu: 500m}}
  podMetadata: {labels: {team: data, ade.dev/run: spoofed}, annotations: {e2e.ade.dev/outcome: fail}}";

const POOL: &str = "provider: kubernetes
kubernetes:
  nodeSelector: {pool: batch}
  tolerations: [{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}]
  serviceAccountName: etl-runner";

#[test]
fn the_job_of_an_attempt() {
    let job = build(&request(CONTAINER_TASK, POOL), &settings()).expect("builds");
    let meta = &job.metadata;
    assert_eq!(meta.name.as_deref(), Some("orders-2026-11-25t13-2"));
    let owner = &meta.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("EtlRun", "run-uid", Some(true))
    );
    let labels = meta.labels.as_ref().expect("labels");
    assert_eq!(labels.get(LABEL_BATCH).map(String::as_str), Some("2026-11-25T13"));
    assert_eq!(labels.get(LABEL_ATTEMPT).map(String::as_str), Some("2"));
    assert!(
        !labels.contains_key("argocd.argoproj.io/instance"),
        "parent labels are never copied"
    );

    let spec = job.spec.as_ref().expect("spec");
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(2700));
    assert_eq!(
        spec.ttl_seconds_after_finished, None,
        "set once the outcome is recorded"
    );
    let template = &spec.template;
    let pod_labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .expect("pod labels");
    assert_eq!(pod_labels.get("team").map(String::as_str), Some("data"));
    assert_eq!(
        pod_labels.get(LABEL_RUN).map(String::as_str),
        Some("orders-2026-11-25t13"),
        "ours win"
    );
    let pod_annotations = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .expect("annotations");
    assert_eq!(
        pod_annotations.get("e2e.ade.dev/outcome").map(String::as_str),
        Some("fail")
    );

    let pod = template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.service_account_name.as_deref(), Some("etl-runner"));
    assert_eq!(
        pod.node_selector
            .as_ref()
            .and_then(|n| n.get("pool"))
            .map(String::as_str),
        Some("batch")
    );
    assert_eq!(pod.tolerations.as_ref().map(Vec::len), Some(1));
    let c = &pod.containers[0];
    assert_eq!(c.name, CONTAINER);
    assert_eq!(
        c.args.as_deref().expect("args"),
        [
            "--out=s3://lake/orders/batch=2026-11-25T13/",
            "--from=2026-11-25T13:00:00Z",
            "--try=2"
        ]
    );
    let env: BTreeMap<&str, Option<&str>> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(env["JOB"], Some("orders"));
    assert_eq!(env["PLAIN"], Some("x"));
    assert_eq!(env["ADE_BATCH_ID"], Some("2026-11-25T13"));
    assert_eq!(env["ADE_WINDOW_END"], Some("2026-11-25T14:00:00Z"));
    assert_eq!(env["ADE_RUN_ATTEMPT"], Some("2"));
}

#[test]
fn spark_submit_in_local_and_kubernetes_mode() {
    let local = "sparkSubmit: {mainApplicationFile: 's3://code/{{job.name}}.py', mainClass: Main, args: ['--batch', '{{batch.id}}'], conf: {spark.sql.shuffle.partitions: '8'}}";
    let job = build(&request(local, "provider: kubernetes"), &settings()).expect("builds");
    let c = &job
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers[0];
    assert_eq!(c.image.as_deref(), Some("spark:3.5"));
    assert_eq!(c.command.as_deref().expect("command"), ["/opt/spark/bin/spark-submit"]);
    assert_eq!(
        c.args.as_deref().expect("args"),
        [
            "--master",
            "local[*]",
            "--conf",
            "spark.sql.shuffle.partitions=8",
            "--class",
            "Main",
            "s3://code/orders.py",
            "--batch",
            "2026-11-25T13"
        ]
    );
    let k8s = "sparkSubmit: {mainApplicationFile: 'local:///app.py', mode: kubernetes, image: my/spark:1}";
    let job = build(&request(k8s, "provider: kubernetes"), &settings()).expect("builds");
    let c = &job
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers[0];
    let args = c.args.as_deref().expect("args");
    assert!(
        args.windows(2)
            .any(|w| w == ["--master", "k8s://https://kubernetes.default.svc"]),
        "{args:?}"
    );
    assert!(
        args.contains(&"spark.kubernetes.container.image=my/spark:1".to_owned()),
        "{args:?}"
    );
    assert!(
        c.env
            .iter()
            .flatten()
            .any(|e| e.name == "ADE_POD_IP" && e.value_from.is_some())
    );
}

#[test]
fn hive_and_trino_do_not_run_on_kubernetes_and_bad_templates_are_named() {
    let err = build(
        &request("hive: {script: 's3://x.hql'}", "provider: kubernetes"),
        &settings(),
    )
    .expect_err("hive");
    assert!(
        err.to_string().contains("a hive task cannot run on a kubernetes pool"),
        "{err}"
    );
    let err = build(
        &request("container: {image: x, args: ['{{batch}}']}", "provider: kubernetes"),
        &settings(),
    )
    .expect_err("template");
    assert!(err.to_string().contains("spec.task.container.args[0]"), "{err}");
}

fn failed_job(reason: &str) -> Job {
    Job {
        status: Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: "Failed".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some("Job has reached the specified backoff limit".into()),
                ..JobCondition::default()
            }]),
            ..JobStatus::default()
        }),
        ..Job::default()
    }
}

fn pod(exit: i32, disrupted: bool) -> Pod {
    Pod {
        status: Some(PodStatus {
            conditions: disrupted.then(|| {
                vec![PodCondition {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                    ..PodCondition::default()
                }]
            }),
            container_statuses: Some(vec![ContainerStatus {
                name: CONTAINER.into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: exit,
                        reason: Some("Error".into()),
                        finished_at: Some(Time("2026-11-25T14:00:00Z".parse().expect("ts"))),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }
}

#[test]
fn failures_are_classified_with_a_message() {
    let cases = [
        (
            failed_job("DeadlineExceeded"),
            vec![pod(137, false)],
            FailureKind::TimedOut,
            "past the job's timeout",
        ),
        (
            failed_job("BackoffLimitExceeded"),
            vec![pod(1, false)],
            FailureKind::Failed,
            "container task exited with code 1 (Error)",
        ),
        (
            failed_job("BackoffLimitExceeded"),
            vec![pod(137, true)],
            FailureKind::Interrupted,
            "capacity lost",
        ),
        (
            failed_job("BackoffLimitExceeded"),
            vec![],
            FailureKind::Failed,
            "backoff limit",
        ),
    ];
    for (job, pods, kind, text) in cases {
        let (got_kind, message) = failure_of(&job.status.unwrap_or_default(), &pods);
        assert_eq!(got_kind, kind, "{message}");
        assert!(message.contains(text), "{message}");
    }
}

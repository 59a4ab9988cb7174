//! The `batch/v1` Job of one run attempt, and what a finished Job and its Pods
//! say about the attempt.
//!
//! Pure: builds and reads objects, never calls the API.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        batch::v1::{Job, JobSpec, JobStatus},
        core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec, PodTemplateSpec},
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};

use crate::{
    api::v1alpha1::{ContainerTask, SparkMode, SparkSubmitTask},
    names,
    providers::{AttemptRequest, FailureKind, ProviderError, task_kind},
    template,
};

/// Label: the EtlJob a Job runs a batch of.
pub const LABEL_JOB: &str = "ade.dev/job";
/// Label: the EtlRun a Job is an attempt of.
pub const LABEL_RUN: &str = "ade.dev/run";
/// Label: the batch id.
pub const LABEL_BATCH: &str = "ade.dev/batch";
/// Label: the attempt number.
pub const LABEL_ATTEMPT: &str = "ade.dev/attempt";
/// The name of the task's container.
pub const CONTAINER: &str = "task";

/// Settings of the kubernetes provider that come from the operator's configuration.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Image of `sparkSubmit` tasks that name none.
    pub spark_image: String,
    /// Seconds a finished Job is kept, once its outcome is recorded, before
    /// Kubernetes deletes it.
    pub ttl_seconds_after_finished: i32,
}

/// The Job of `request`'s attempt.
pub fn build(request: &AttemptRequest, settings: &JobSettings) -> Result<Job, ProviderError> {
    let target = &request.target;
    let name = names::job_name(&target.run, target.attempt);
    let labels = BTreeMap::from([
        (
            ade_api::labels::MANAGED_BY.to_owned(),
            ade_api::labels::OPERATOR.to_owned(),
        ),
        ("app.kubernetes.io/component".to_owned(), "etl-run".to_owned()),
        (LABEL_JOB.to_owned(), names::label_value(&request.job)),
        (LABEL_RUN.to_owned(), names::label_value(&target.run)),
        (LABEL_BATCH.to_owned(), names::label_value(&request.batch_id)),
        (LABEL_ATTEMPT.to_owned(), target.attempt.to_string()),
    ]);
    let values = template_values(request);
    let (mut container, pod_labels, pod_annotations) = match (&request.task.container, &request.task.spark_submit) {
        (Some(task), _) => container_of(task, &values)?,
        (None, Some(spark)) => (
            spark_container(spark, request, settings, &values)?,
            BTreeMap::new(),
            BTreeMap::new(),
        ),
        (None, None) => {
            return Err(ProviderError::Unsupported {
                task: task_kind(&request.task),
                provider: "kubernetes",
                hint: "use a ClusterPool with provider emr, or a container task",
            });
        }
    };
    container.env.get_or_insert_with(Vec::new).extend(identity_env(request));

    // The operator's labels win over the user's pod labels, and the parent's
    // labels are never copied (Argo CD's tracking label would make it prune us).
    let mut template_labels = pod_labels;
    template_labels.extend(labels.clone());
    let placement = request.pool.spec.kubernetes.clone().unwrap_or_default();
    let annotations = BTreeMap::from([
        ("ade.dev/batch-id".to_owned(), request.batch_id.clone()),
        ("ade.dev/window-start".to_owned(), values["window.start"].clone()),
        ("ade.dev/window-end".to_owned(), values["window.end"].clone()),
    ]);
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(target.namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "ade.dev/v1alpha1".into(),
                kind: "EtlRun".into(),
                name: target.run.clone(),
                uid: target.run_uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // Retries are the operator's: one Pod per attempt, so every attempt is visible.
            backoff_limit: Some(0),
            active_deadline_seconds: request.timeout.map(|t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)),
            // None until the run's status holds the attempt's outcome
            // (ComputeProvider::release): a Job Kubernetes deleted first would
            // take the outcome with it.
            ttl_seconds_after_finished: None,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(template_labels),
                    annotations: (!pod_annotations.is_empty()).then_some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![container],
                    node_selector: (!placement.node_selector.is_empty()).then_some(placement.node_selector),
                    tolerations: (!placement.tolerations.is_empty()).then_some(placement.tolerations),
                    service_account_name: placement.service_account_name,
                    priority_class_name: placement.priority_class_name,
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

fn template_values(request: &AttemptRequest) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("batch.id", request.batch_id.clone()),
        ("window.start", request.window.start.to_string()),
        ("window.end", request.window.end.to_string()),
        ("run.attempt", request.target.attempt.to_string()),
        ("job.name", request.job.clone()),
    ])
}

fn identity_env(request: &AttemptRequest) -> Vec<EnvVar> {
    let values = template_values(request);
    [
        ("ADE_JOB", request.job.clone()),
        ("ADE_RUN", request.target.run.clone()),
        ("ADE_BATCH_ID", request.batch_id.clone()),
        ("ADE_WINDOW_START", values["window.start"].clone()),
        ("ADE_WINDOW_END", values["window.end"].clone()),
        ("ADE_RUN_ATTEMPT", request.target.attempt.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    })
    .collect()
}

type PodMeta = BTreeMap<String, String>;

fn render_all(field: &str, items: &[String], values: &BTreeMap<&str, String>) -> Result<Vec<String>, ProviderError> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| template::render(&format!("{field}[{i}]"), s, values).map_err(ProviderError::from))
        .collect()
}

fn container_of(
    task: &ContainerTask,
    values: &BTreeMap<&str, String>,
) -> Result<(Container, PodMeta, PodMeta), ProviderError> {
    let env = task
        .env
        .iter()
        .map(|e| {
            let value = match &e.value {
                Some(v) => Some(template::render(
                    &format!("spec.task.container.env[{}]", e.name),
                    v,
                    values,
                )?),
                None => None,
            };
            Ok(EnvVar { value, ..e.clone() })
        })
        .collect::<Result<Vec<_>, ProviderError>>()?;
    let container = Container {
        name: CONTAINER.into(),
        image: Some(task.image.clone()),
        command: (!task.command.is_empty())
            .then(|| render_all("spec.task.container.command", &task.command, values))
            .transpose()?,
        args: (!task.args.is_empty())
            .then(|| render_all("spec.task.container.args", &task.args, values))
            .transpose()?,
        env: Some(env),
        resources: task.resources.clone(),
        ..Container::default()
    };
    let meta = task.pod_metadata.clone().unwrap_or_default();
    Ok((container, meta.labels, meta.annotations))
}

fn spark_container(
    spark: &SparkSubmitTask,
    request: &AttemptRequest,
    settings: &JobSettings,
    values: &BTreeMap<&str, String>,
) -> Result<Container, ProviderError> {
    let image = spark.image.clone().unwrap_or_else(|| settings.spark_image.clone());
    let mut args: Vec<String> = Vec::new();
    let mut env = Vec::new();
    match spark.mode {
        SparkMode::Local => args.extend(["--master".into(), "local[*]".into()]),
        SparkMode::Kubernetes => {
            args.extend([
                "--master".into(),
                "k8s://https://kubernetes.default.svc".into(),
                "--deploy-mode".into(),
                "client".into(),
                "--conf".into(),
                format!("spark.kubernetes.namespace={}", request.target.namespace),
                "--conf".into(),
                format!("spark.kubernetes.container.image={image}"),
                "--conf".into(),
                "spark.driver.host=$(ADE_POD_IP)".into(),
            ]);
            env.push(EnvVar {
                name: "ADE_POD_IP".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "status.podIP".into(),
                        api_version: None,
                    }),
                    ..EnvVarSource::default()
                }),
            });
        }
    }
    for (key, value) in &spark.conf {
        let value = template::render(&format!("spec.task.sparkSubmit.conf[{key}]"), value, values)?;
        args.extend(["--conf".into(), format!("{key}={value}")]);
    }
    if let Some(class) = &spark.main_class {
        args.extend(["--class".into(), class.clone()]);
    }
    args.push(template::render(
        "spec.task.sparkSubmit.mainApplicationFile",
        &spark.main_application_file,
        values,
    )?);
    args.extend(render_all("spec.task.sparkSubmit.args", &spark.args, values)?);
    Ok(Container {
        name: CONTAINER.into(),
        image: Some(image),
        command: Some(vec!["/opt/spark/bin/spark-submit".into()]),
        args: Some(args),
        env: Some(env),
        ..Container::default()
    })
}

/// What a failed attempt's Pods say: how it failed, in words a person can act on.
pub fn failure_of(status: &JobStatus, pods: &[Pod]) -> (FailureKind, String) {
    let job_condition = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Failed" && c.status == "True"));
    if job_condition.and_then(|c| c.reason.as_deref()) == Some("DeadlineExceeded") {
        return (
            FailureKind::TimedOut,
            "the attempt ran past the job's timeout and was stopped".to_owned(),
        );
    }
    for pod in pods {
        let status = pod.status.as_ref();
        let disrupted = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "DisruptionTarget" && c.status == "True"));
        if disrupted || status.and_then(|s| s.reason.as_deref()) == Some("Evicted") {
            let why = status
                .and_then(|s| s.message.clone())
                .unwrap_or_else(|| "the Pod was evicted".into());
            return (FailureKind::Interrupted, format!("capacity lost: {why}"));
        }
        let terminated = status
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER))
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.as_ref());
        if let Some(t) = terminated.filter(|t| t.exit_code != 0) {
            let reason = t.reason.as_deref().unwrap_or("Error");
            let detail = t.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            return (
                FailureKind::Failed,
                format!(
                    "container {CONTAINER} exited with code {} ({reason}){detail}",
                    t.exit_code
                ),
            );
        }
    }
    let message = job_condition
        .and_then(|c| c.message.clone())
        .unwrap_or_else(|| "the Job failed".to_owned());
    (FailureKind::Failed, message)
}

/// Whether a Pod of the Job has finished (counted, or terminated and not yet
/// counted): the attempt has run, whether or not the Job controller has
/// written its outcome yet.
pub fn pods_finished(status: &JobStatus) -> bool {
    let uncounted = status
        .uncounted_terminated_pods
        .as_ref()
        .is_some_and(|u| u.succeeded.iter().chain(&u.failed).flatten().next().is_some());
    status.succeeded.unwrap_or(0) > 0 || status.failed.unwrap_or(0) > 0 || uncounted
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;

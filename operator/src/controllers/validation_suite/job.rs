//! The Kubernetes Job that runs `ade-validate` for one batch of a suite.
//!
//! The Job is named by the suite and the batch's trigger, owned by the suite
//! (deleting the suite deletes its Jobs), carries an allow-list of labels
//! (never the suite's own), and writes a bounded JSON summary to the Pod's
//! termination message, which [`super::outcome`] reads back.
//!
//! Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use crate::{
    api::v1alpha1::{ActiveValidation, SecretKeyRef, ValidationSuite},
    names,
};

/// Label on validation Jobs and their Pods: the suite.
pub const LABEL_SUITE: &str = "ade.dev/validation-suite";
/// Label: the batch id.
pub const LABEL_BATCH: &str = "ade.dev/batch";
/// `app.kubernetes.io/component` of validation Jobs.
pub const COMPONENT: &str = "validation";
/// The container's name.
pub const CONTAINER: &str = "validate";
/// Where `ade-validate` writes its summary.
const TERMINATION_LOG: &str = "/dev/termination-log";
/// Where mounted Secret keys are.
const SECRETS_DIR: &str = "/var/run/ade/secrets";
/// Longest a validation may run.
const DEADLINE_SECONDS: i64 = 3600;

/// Settings that come from the operator's configuration.
#[derive(Debug, Clone)]
pub struct ValidatorSettings {
    /// Image with `ade-validate` on its PATH.
    pub image: String,
    /// Seconds a finished Job is kept before Kubernetes deletes it.
    pub ttl_seconds_after_finished: i32,
    /// AWS region passed to the runner.
    pub aws_region: Option<String>,
    /// AWS endpoint override passed to the runner (emulators).
    pub aws_endpoint_url: Option<String>,
}

/// The name of the Job for `batch_id` triggered at `triggered_at` (RFC 3339):
/// a new trigger of the same batch (a rerun) gets a new Job.
pub fn job_name(suite: &str, batch_id: &str, triggered_at: &str) -> String {
    names::hashed_child(suite, batch_id, &format!("{batch_id}\0{triggered_at}"))
}

/// The name of the Job of publishing attempt `attempt` of that run.
pub fn republish_job_name(suite: &str, batch_id: &str, triggered_at: &str, attempt: i32) -> String {
    names::hashed_child(
        suite,
        batch_id,
        &format!("{batch_id}\0{triggered_at}\0publish {attempt}"),
    )
}

/// The suite's name in result and history paths: unique across namespaces.
pub fn suite_key(suite: &ValidationSuite) -> String {
    format!("{}.{}", suite.namespace().unwrap_or_default(), suite.name_any())
}

/// Where the metrics history is kept: next to the published results. Without
/// an S3 publish target there is no durable place, so no history (history
/// checks then report too little history).
pub fn history_uri(suite: &ValidationSuite) -> Option<String> {
    let results = suite.spec.publish.s3.as_ref()?.uri.trim_end_matches('/');
    Some(format!("{results}/_history"))
}

/// The Job for the `active` run of `suite`, with the dataset URI already
/// rendered for its batch.
pub fn build(suite: &ValidationSuite, active: &ActiveValidation, dataset: &str, settings: &ValidatorSettings) -> Job {
    let labels = BTreeMap::from([
        (
            ade_api::labels::MANAGED_BY.to_owned(),
            ade_api::labels::OPERATOR.to_owned(),
        ),
        ("app.kubernetes.io/component".to_owned(), COMPONENT.to_owned()),
        (LABEL_SUITE.to_owned(), names::label_value(&suite.name_any())),
        (LABEL_BATCH.to_owned(), names::label_value(&active.batch_id)),
    ]);
    let mut args = vec![
        "--suite-spec".to_owned(),
        serde_json::to_string(&suite.spec).unwrap_or_default(),
        "--suite-name".to_owned(),
        suite_key(suite),
        "--batch-id".to_owned(),
        active.batch_id.clone(),
        "--dataset".to_owned(),
        dataset.to_owned(),
        "--summary-file".to_owned(),
        TERMINATION_LOG.to_owned(),
    ];
    if let (Some(start), Some(end)) = (&active.window_start, &active.window_end) {
        args.extend([
            "--window-start".into(),
            start.0.to_string(),
            "--window-end".into(),
            end.0.to_string(),
        ]);
    }
    if let Some(history) = history_uri(suite) {
        args.extend(["--history".into(), history]);
    }
    if active.publish_attempt.is_some() {
        // Only what the run could not publish; the checks are not run again.
        args.push("--republish".into());
    }
    let secrets = secret_mounts(suite);
    for (flag, mount) in &secrets {
        args.extend([flag.to_string(), mount.path()]);
    }
    let mut env = vec![json!({"name": "RUST_LOG", "value": "info"})];
    if let Some(region) = &settings.aws_region {
        env.push(json!({"name": "AWS_REGION", "value": region}));
    }
    if let Some(url) = &settings.aws_endpoint_url {
        env.push(json!({"name": "AWS_ENDPOINT_URL", "value": url}));
    }
    let mut volumes = vec![json!({"name": "tmp", "emptyDir": {}})];
    let mut mounts = vec![json!({"name": "tmp", "mountPath": "/tmp"})];
    for (_, mount) in &secrets {
        volumes.push(json!({
            "name": mount.volume,
            "secret": {"secretName": mount.secret.name, "items": [{"key": mount.secret.key, "path": mount.secret.key}]},
        }));
        mounts.push(json!({"name": mount.volume, "mountPath": mount.dir(), "readOnly": true}));
    }
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        "activeDeadlineSeconds": DEADLINE_SECONDS,
        "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": CONTAINER,
            "image": settings.image,
            "command": ["ade-validate"],
            "args": args,
            "env": env,
            "volumeMounts": mounts,
            "terminationMessagePath": TERMINATION_LOG,
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "resources": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
        }],
        "volumes": volumes,
    });
    if let Some(sa) = &suite.spec.service_account_name {
        pod_spec["serviceAccountName"] = Value::from(sa.clone());
    }
    let owner = suite.controller_owner_ref(&()).map(|o| vec![o]);
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": active.job_name,
            "namespace": suite.namespace(),
            "labels": labels,
            "annotations": {"ade.dev/batch-id": active.batch_id, "ade.dev/etl-run": active.etl_run},
            "ownerReferences": owner,
        },
        "spec": {
            "backoffLimit": 0,
            // No ttlSecondsAfterFinished until the verdict is in the suite's
            // status (`release`): Kubernetes never deletes an unread result.
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    });
    // Built from the API's own types above; a failure here is a bug caught by the tests.
    serde_json::from_value(job).unwrap_or_default()
}

/// A Secret key mounted as a file for one flag of `ade-validate`.
#[derive(Debug)]
struct SecretMount<'a> {
    volume: &'static str,
    secret: &'a SecretKeyRef,
}

impl SecretMount<'_> {
    fn dir(&self) -> String {
        format!("{SECRETS_DIR}/{}", self.volume)
    }
    fn path(&self) -> String {
        format!("{}/{}", self.dir(), self.secret.key)
    }
}

fn secret_mounts(suite: &ValidationSuite) -> Vec<(&'static str, SecretMount<'_>)> {
    let mut out = Vec::new();
    if let Some(slack) = &suite.spec.alerts.slack {
        out.push((
            "--slack-webhook-file",
            SecretMount {
                volume: "slack-webhook",
                secret: &slack.webhook_secret_ref,
            },
        ));
    }
    if let Some(secret) = suite
        .spec
        .publish
        .opensearch
        .as_ref()
        .and_then(|o| o.credentials_secret_ref.as_ref())
    {
        out.push((
            "--opensearch-credentials-file",
            SecretMount {
                volume: "opensearch-credentials",
                secret,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::Time;

    fn suite() -> ValidationSuite {
        let mut suite: ValidationSuite = serde_json::from_value(serde_json::json!({
            "apiVersion": "ade.dev/v1alpha1", "kind": "ValidationSuite",
            "metadata": {"name": "orders-quality", "namespace": "team-a", "uid": "u-1",
                         "labels": {"argocd.argoproj.io/instance": "lake"}},
            "spec": {
                "dataset": {"uri": "s3://lake/orders/batch={{batch.id}}/"},
                "trigger": {"after": {"etlJobRef": {"name": "orders"}}},
                "checks": [{"name": "has-rows", "rowCount": {"min": 1}}],
                "publish": {"s3": {"uri": "s3://quality/results/"}},
                "alerts": {"slack": {"webhookSecretRef": {"name": "slack", "key": "url"}}},
                "serviceAccountName": "quality-reader"
            }
        }))
        .expect("suite");
        suite.metadata.uid = Some("u-1".into());
        suite
    }

    fn active() -> ActiveValidation {
        ActiveValidation {
            batch_id: "2026-11-25T13".into(),
            window_start: Some(Time("2026-11-25T13:00:00Z".parse().expect("ts"))),
            window_end: Some(Time("2026-11-25T14:00:00Z".parse().expect("ts"))),
            etl_run: Some("orders-2026-11-25t13".into()),
            triggered_at: Time("2026-11-25T14:20:00Z".parse().expect("ts")),
            job_name: "orders-quality-2026-11-25t13-0badcafe".into(),
            started_at: Time("2026-11-25T14:20:01Z".parse().expect("ts")),
            publish_attempt: None,
            not_before: None,
        }
    }

    fn settings() -> ValidatorSettings {
        ValidatorSettings {
            image: "ghcr.io/ade-dev/ade-operator:0.1.0".into(),
            ttl_seconds_after_finished: 3600,
            aws_region: Some("us-east-1".into()),
            aws_endpoint_url: Some("http://127.0.0.1:5000".into()),
        }
    }

    fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str())
    }

    #[test]
    fn the_job_runs_ade_validate_for_the_batch() {
        let job = build(
            &suite(),
            &active(),
            "s3://lake/orders/batch=2026-11-25T13/",
            &settings(),
        );
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("orders-quality-2026-11-25t13-0badcafe")
        );
        let owner = &job.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("ValidationSuite", "u-1", Some(true))
        );
        let labels = job.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(LABEL_SUITE).map(String::as_str), Some("orders-quality"));
        assert!(
            !labels.contains_key("argocd.argoproj.io/instance"),
            "parent labels are never copied"
        );
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(0));
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.service_account_name.as_deref(), Some("quality-reader"));
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("ghcr.io/ade-dev/ade-operator:0.1.0"));
        assert_eq!(c.termination_message_path.as_deref(), Some("/dev/termination-log"));
        let args = c.args.clone().unwrap_or_default();
        assert_eq!(arg(&args, "--dataset"), Some("s3://lake/orders/batch=2026-11-25T13/"));
        assert_eq!(arg(&args, "--batch-id"), Some("2026-11-25T13"));
        assert_eq!(arg(&args, "--suite-name"), Some("team-a.orders-quality"));
        assert_eq!(arg(&args, "--window-start"), Some("2026-11-25T13:00:00Z"));
        assert_eq!(arg(&args, "--history"), Some("s3://quality/results/_history"));
        assert_eq!(arg(&args, "--summary-file"), Some("/dev/termination-log"));
        assert_eq!(
            arg(&args, "--slack-webhook-file"),
            Some("/var/run/ade/secrets/slack-webhook/url")
        );
        let spec_json: serde_json::Value =
            serde_json::from_str(arg(&args, "--suite-spec").expect("spec")).expect("json");
        assert_eq!(spec_json["checks"][0]["name"], "has-rows");
        let env = c.env.clone().unwrap_or_default();
        assert!(
            env.iter()
                .any(|e| e.name == "AWS_ENDPOINT_URL" && e.value.as_deref() == Some("http://127.0.0.1:5000"))
        );
        let security = c.security_context.clone().expect("security");
        assert_eq!(security.read_only_root_filesystem, Some(true));
        let volumes = pod.volumes.unwrap_or_default();
        let slack = volumes
            .iter()
            .find(|v| v.name == "slack-webhook")
            .expect("secret volume");
        assert_eq!(
            slack.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
            Some("slack")
        );
    }

    #[test]
    fn without_an_s3_target_there_is_no_history() {
        let mut s = suite();
        s.spec.publish.s3 = None;
        assert_eq!(history_uri(&s), None);
        let job = build(&s, &active(), "d", &settings());
        let args = job
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].args.clone().unwrap_or_default());
        assert_eq!(args.as_deref().and_then(|a| arg(a, "--history")), None);
    }
}

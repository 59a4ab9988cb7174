//! The objects a StreamConsumer on runtime `kubernetes` owns: a
//! ServiceAccount, a Role and RoleBinding that let it keep its leases, and the
//! Deployment of `ade-stream` pods. All carry the controller owner reference
//! and an allow-list of labels; nothing is copied from the consumer's labels.
//!
//! Pure: builds objects, never calls the API.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath,
            ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile,
            SecretVolumeSource, SecurityContext, ServiceAccount, Volume, VolumeMount,
        },
        rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference},
        util::intstr::IntOrString,
    },
};

use ade_api::stream::{self, Config as StreamConfig};

use super::config;
use kube::ResourceExt;

use crate::{api::v1alpha1::StreamConsumer, names};

/// Label (and lease label) naming the consumer.
pub const LABEL_CONSUMER: &str = ade_api::labels::STREAM_CONSUMER;
/// Pod-template annotation: hash of the configuration, so a change rolls the pods.
pub const ANNOTATION_CONFIG_HASH: &str = "ade.dev/config-hash";
/// Set on a StreamConsumer (by `kubectl annotate` or Argo CD's `restart`
/// action) and copied onto its pod template: a new value rolls the pods,
/// as `kubectl rollout restart` does for a Deployment.
pub const ANNOTATION_RESTARTED_AT: &str = "ade.dev/restartedAt";
/// The container's name.
pub const CONTAINER: &str = "ade-stream";
/// Seconds a stopping pod gets to flush, checkpoint and hand its leases off.
pub const TERMINATION_GRACE_SECONDS: i64 = 60;
/// Verbs `ade-stream` needs on leases (the operator must hold them too, to grant them).
pub const LEASE_VERBS: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];

/// What the operator's configuration decides for every consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Image of consumers that name none.
    pub image: String,
    /// AWS endpoint override (an emulator), passed to the pods as `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
}

/// Labels of every child (and the pods), from the consumer's name only.
pub fn labels(consumer: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "ade-stream".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), consumer.to_owned()),
        (
            ade_api::labels::MANAGED_BY.to_owned(),
            ade_api::labels::OPERATOR.to_owned(),
        ),
        (LABEL_CONSUMER.to_owned(), consumer.to_owned()),
    ])
}

fn meta(consumer: &StreamConsumer) -> ObjectMeta {
    let name = consumer.metadata.name.clone().unwrap_or_default();
    ObjectMeta {
        name: Some(names::stream_name(&name)),
        namespace: consumer.metadata.namespace.clone(),
        labels: Some(labels(&name)),
        owner_references: Some(vec![OwnerReference {
            api_version: "ade.dev/v1alpha1".into(),
            kind: "StreamConsumer".into(),
            name,
            uid: consumer.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..ObjectMeta::default()
    }
}

/// The ServiceAccount the pods run as.
pub fn service_account(consumer: &StreamConsumer) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(consumer),
        ..ServiceAccount::default()
    }
}

/// The Role: leases in the consumer's namespace, nothing else.
pub fn role(consumer: &StreamConsumer) -> Role {
    Role {
        metadata: meta(consumer),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["coordination.k8s.io".into()]),
            resources: Some(vec!["leases".into()]),
            verbs: LEASE_VERBS.iter().map(|v| (*v).to_owned()).collect(),
            ..PolicyRule::default()
        }]),
    }
}

/// The RoleBinding of the Role to the ServiceAccount.
pub fn role_binding(consumer: &StreamConsumer) -> RoleBinding {
    let metadata = meta(consumer);
    let name = metadata.name.clone().unwrap_or_default();
    RoleBinding {
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.clone(),
            namespace: metadata.namespace.clone(),
            ..Subject::default()
        }]),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name,
        },
        metadata,
    }
}

fn env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    }
}

fn probe(period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(stream::HEALTH_PATH.into()),
            port: IntOrString::String("metrics".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn runtime_default() -> Option<SeccompProfile> {
    Some(SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    })
}

/// The pod template's annotations: the configuration's hash, and the
/// consumer's restart stamp when it has one.
fn pod_annotations(consumer: &StreamConsumer, hash: String) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([(ANNOTATION_CONFIG_HASH.to_owned(), hash)]);
    if let Some(at) = consumer.annotations().get(ANNOTATION_RESTARTED_AT) {
        out.insert(ANNOTATION_RESTARTED_AT.to_owned(), at.clone());
    }
    out
}

/// The Deployment of `replicas` `ade-stream` pods running `config`;
/// `annotations` go on the Deployment (not the pods).
pub fn deployment(
    consumer: &StreamConsumer,
    config: &StreamConfig,
    settings: &StreamSettings,
    replicas: i32,
    annotations: BTreeMap<String, String>,
) -> Deployment {
    let mut metadata = meta(consumer);
    let name = metadata.name.clone().unwrap_or_default();
    let labels = metadata.labels.clone().unwrap_or_default();
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    let document = serde_json::to_string(config).unwrap_or_default();

    let (volumes, mounts): (Vec<Volume>, Vec<VolumeMount>) = consumer
        .spec
        .transform
        .obfuscate
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| Some((i, rule.key_secret_ref.as_ref()?)))
        .map(|(i, secret)| {
            let volume = format!("key-{i}");
            (
                Volume {
                    name: volume.clone(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.name.clone()),
                        items: Some(vec![KeyToPath {
                            key: secret.key.clone(),
                            path: secret.key.clone(),
                            mode: None,
                        }]),
                        default_mode: Some(0o440),
                        optional: Some(false),
                    }),
                    ..Volume::default()
                },
                VolumeMount {
                    name: volume,
                    mount_path: format!("{}/{i}", config::KEYS_DIR),
                    read_only: Some(true),
                    ..VolumeMount::default()
                },
            )
        })
        .unzip();

    let mut env_vars = vec![
        env(stream::ENV, document.clone()),
        EnvVar {
            name: stream::WORKER_ID_ENV.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    api_version: None,
                }),
                ..EnvVarSource::default()
            }),
        },
        env("AWS_REGION", config.stream.region.clone()),
    ];
    if let Some(url) = &settings.aws_endpoint_url {
        env_vars.push(env("AWS_ENDPOINT_URL", url.clone()));
        // The S3 sink (object_store) refuses a plain-http endpoint (an emulator) unless told.
        if url.starts_with("http://") {
            env_vars.push(env("AWS_ALLOW_HTTP", "true".into()));
        }
    }

    let image = consumer.spec.image.clone().unwrap_or_else(|| settings.image.clone());
    let container = Container {
        name: CONTAINER.into(),
        image: Some(image.clone()),
        command: Some(vec!["ade-stream".into()]),
        env: Some(env_vars),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".into()),
            container_port: i32::from(stream::METRICS_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe(10)),
        readiness_probe: Some(probe(5)),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(65532),
            run_as_group: Some(65532),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            seccomp_profile: runtime_default(),
            ..SecurityContext::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Container::default()
    };
    // Everything that changes the pods' behaviour, hashed: a change rolls them.
    let hash = names::hash(&format!("{image}\n{document}"));
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/name".to_owned(), "ade-stream".to_owned()),
                    (LABEL_CONSUMER.to_owned(), config.consumer.clone()),
                ])),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(pod_annotations(consumer, hash)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name),
                    automount_service_account_token: Some(true),
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        seccomp_profile: runtime_default(),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
#[path = "children_tests.rs"]
mod tests;

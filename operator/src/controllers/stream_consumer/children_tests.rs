//! The children of a StreamConsumer. Unit tests of pure builders.

use super::*;
use crate::api::v1alpha1::StreamConsumerSpec;

const SPEC: &str = "source: {kinesis: {streamName: app-events, region: us-east-1}}
transform:
  obfuscate:
    - {field: email, method: hmac-sha256, keySecretRef: {name: pii-key, key: hmac}}
    - {field: ssn, method: drop}
    - {field: phone, method: token, keySecretRef: {name: pii-key, key: token}}
sink: {s3: {uri: 's3://lake/raw/'}}
";

fn consumer(spec: &str) -> StreamConsumer {
    let spec: StreamConsumerSpec = serde_saphyr::from_str(spec).expect("spec");
    let mut c = StreamConsumer::new("app-events", spec);
    c.metadata.namespace = Some("data".into());
    c.metadata.uid = Some("uid-1".into());
    c.metadata.labels = Some(BTreeMap::from([("argocd.argoproj.io/instance".into(), "data".into())]));
    c
}

fn settings(endpoint: Option<&str>) -> StreamSettings {
    StreamSettings {
        image: "ghcr.io/ade-dev/ade-operator:0.1.0".into(),
        aws_endpoint_url: endpoint.map(str::to_owned),
    }
}

fn build(c: &StreamConsumer, endpoint: Option<&str>) -> Deployment {
    let config = config::build(c).expect("config");
    deployment(
        c,
        &config,
        &settings(endpoint),
        3,
        BTreeMap::from([("ade.dev/low-lag-since".to_owned(), "x".to_owned())]),
    )
}

fn env_of(d: &Deployment) -> BTreeMap<String, EnvVar> {
    let pod = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec");
    pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.clone()))
        .collect()
}

#[test]
fn every_child_is_owned_and_labelled_from_the_allow_list_only() {
    let c = consumer(SPEC);
    let config = config::build(&c).expect("config");
    let metas = [
        service_account(&c).metadata,
        role(&c).metadata,
        role_binding(&c).metadata,
        deployment(&c, &config, &settings(None), 1, BTreeMap::new()).metadata,
    ];
    for m in metas {
        assert_eq!(m.name.as_deref(), Some("app-events-stream"));
        assert_eq!(m.namespace.as_deref(), Some("data"));
        let owner = &m.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("StreamConsumer", "app-events", "uid-1")
        );
        assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));
        let labels = m.labels.expect("labels");
        assert_eq!(labels, super::labels("app-events"));
        assert_eq!(labels[LABEL_CONSUMER], "app-events");
        assert!(!labels.contains_key("argocd.argoproj.io/instance"));
    }
}

#[test]
fn the_role_grants_leases_to_the_service_account_only() {
    let c = consumer(SPEC);
    let rules = role(&c).rules.expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["coordination.k8s.io".to_owned()][..])
    );
    assert_eq!(rules[0].resources.as_deref(), Some(&["leases".to_owned()][..]));
    assert_eq!(rules[0].verbs, LEASE_VERBS.map(str::to_owned));
    let binding = role_binding(&c);
    assert_eq!(
        (binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()),
        ("Role", "app-events-stream")
    );
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", "app-events-stream", Some("data"))
    );
}

#[test]
fn the_deployment_runs_ade_stream_with_its_config_and_keys() {
    let c = consumer(SPEC);
    let d = build(&c, Some("http://127.0.0.1:4566"));
    let spec = d.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        d.metadata.annotations.as_ref().expect("annotations")["ade.dev/low-lag-since"],
        "x"
    );
    let template = spec.template.metadata.as_ref().expect("template meta");
    let selector = spec.selector.match_labels.as_ref().expect("selector");
    for (k, v) in selector {
        assert_eq!(
            template.labels.as_ref().expect("labels").get(k),
            Some(v),
            "selector matches pods"
        );
    }
    assert!(template.annotations.as_ref().expect("a")[ANNOTATION_CONFIG_HASH].len() == 16);

    let pod = spec.template.spec.as_ref().expect("pod");
    assert_eq!(pod.service_account_name.as_deref(), Some("app-events-stream"));
    assert_eq!(pod.termination_grace_period_seconds, Some(60));
    assert_eq!(
        pod.security_context.as_ref().and_then(|s| s.run_as_non_root),
        Some(true)
    );
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("ghcr.io/ade-dev/ade-operator:0.1.0"));
    assert_eq!(container.command.as_deref(), Some(&["ade-stream".to_owned()][..]));
    let sc = container.security_context.as_ref().expect("security context");
    assert_eq!(
        (
            sc.read_only_root_filesystem,
            sc.allow_privilege_escalation,
            sc.run_as_non_root
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    let port = &container.ports.as_ref().expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.container_port), (Some("metrics"), 9090));
    for probe in [&container.liveness_probe, &container.readiness_probe] {
        let get = probe.as_ref().and_then(|p| p.http_get.as_ref()).expect("http probe");
        assert_eq!(get.path.as_deref(), Some("/healthz"));
    }

    let env = env_of(&d);
    let document: serde_json::Value =
        serde_json::from_str(env[stream::ENV].value.as_deref().expect("config")).expect("json");
    assert_eq!(document["consumer"], "app-events");
    assert_eq!(document["obfuscate"][0]["keyFile"], "/var/run/ade/keys/0/hmac");
    assert_eq!(
        env["POD_NAME"]
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("metadata.name")
    );
    assert_eq!(env["AWS_REGION"].value.as_deref(), Some("us-east-1"));
    assert_eq!(env["AWS_ENDPOINT_URL"].value.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(
        env["AWS_ALLOW_HTTP"].value.as_deref(),
        Some("true"),
        "object_store refuses http otherwise"
    );

    // One read-only secret volume per keyed rule, mounted where keyFile points.
    let volumes = pod.volumes.as_ref().expect("volumes");
    let mounts = container.volume_mounts.as_ref().expect("mounts");
    let got: Vec<(String, String, String, String)> = volumes
        .iter()
        .zip(mounts)
        .map(|(v, m)| {
            let secret = v.secret.as_ref().expect("secret volume");
            let item = &secret.items.as_ref().expect("items")[0];
            assert_eq!(m.read_only, Some(true));
            assert_eq!(v.name, m.name);
            (
                secret.secret_name.clone().unwrap_or_default(),
                item.key.clone(),
                format!("{}/{}", m.mount_path, item.path),
                v.name.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pii-key".into(),
                "hmac".into(),
                "/var/run/ade/keys/0/hmac".into(),
                "key-0".into()
            ),
            (
                "pii-key".into(),
                "token".into(),
                "/var/run/ade/keys/2/token".into(),
                "key-2".into()
            ),
        ]
    );
}

#[test]
fn no_endpoint_no_keys_and_a_config_change_rolls_the_pods() {
    let plain =
        consumer("source: {kinesis: {streamName: s, region: us-east-1}}\nsink: {s3: {uri: 's3://lake/raw/'}}\n");
    let d = build(&plain, None);
    assert!(!env_of(&d).contains_key("AWS_ENDPOINT_URL"));
    assert!(!env_of(&d).contains_key("AWS_ALLOW_HTTP"));
    let pod = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod");
    assert!(pod.volumes.is_none() && pod.containers[0].volume_mounts.is_none());

    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .expect("a")[ANNOTATION_CONFIG_HASH]
            .clone()
    };
    let mut changed = plain.clone();
    changed.spec.sink.s3.partition_by = "dt={{date}}".into();
    assert_ne!(hash(&d), hash(&build(&changed, None)));
    let mut image = plain.clone();
    image.spec.image = Some("acme/ade:2".into());
    let other = build(&image, None);
    assert_ne!(hash(&d), hash(&other));
    assert_eq!(
        other
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod")
            .containers[0]
            .image
            .as_deref(),
        Some("acme/ade:2")
    );
    // Replicas and Deployment annotations do not roll the pods.
    let config = config::build(&plain).expect("config");
    let one = deployment(&plain, &config, &settings(None), 1, BTreeMap::new());
    assert_eq!(hash(&d), hash(&one));
}

#[test]
fn a_restart_stamp_on_the_consumer_rolls_the_pods() {
    let plain =
        consumer("source: {kinesis: {streamName: s, region: us-east-1}}\nsink: {s3: {uri: 's3://lake/raw/'}}\n");
    let template = |c: &StreamConsumer| {
        build(c, None)
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .expect("pod annotations")
    };
    assert!(!template(&plain).contains_key(ANNOTATION_RESTARTED_AT));
    let mut stamped = plain.clone();
    stamped
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(ANNOTATION_RESTARTED_AT.to_owned(), "2026-11-30T12:00:00Z".to_owned());
    let pods = template(&stamped);
    assert_eq!(pods[ANNOTATION_RESTARTED_AT], "2026-11-30T12:00:00Z");
    assert_eq!(
        pods[ANNOTATION_CONFIG_HASH],
        template(&plain)[ANNOTATION_CONFIG_HASH],
        "the configuration is the same"
    );
    assert_ne!(
        pods,
        template(&plain),
        "the template changed: the Deployment rolls its pods"
    );
}

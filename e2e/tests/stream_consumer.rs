//! StreamConsumer on runtime `kubernetes`, against the real control plane:
//! the operator (with the chart's RBAC) turns the sample consumer into a
//! ServiceAccount, Role, RoleBinding and Deployment of `ade-stream` pods
//! (kwok runs them: they go Running but execute nothing), reads the Leases
//! the consumers keep, scales on their lag, reports shards and errors, and
//! the garbage collector removes the children with the consumer.
//!
//! No `ade-stream` process runs here: the test plays the consumer and writes
//! the shard and worker Leases exactly as `ade-stream` does (the contract in
//! `ade_api::lease`, whose names it uses), renewing them while it waits.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{
    sync::Once,
    time::{Duration, Instant},
};

use ade_api::{labels::STREAM_CONSUMER, lease, stream};
use ade_e2e::{
    Namespace, Operator, condition, get_json, install_chart, kubectl, kubectl_ok, kubectl_with_stdin, repo_root,
    wait_for,
};
use serde_json::{Value, json};

const CONSUMER: &str = "app-events";
const CHILDREN: &str = "app-events-stream";
const IMAGE: &str = "registry.example/ade:e2e";
const ENDPOINT: &str = "http://127.0.0.1:4566";

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
}

fn apply_json(ns: &str, doc: &Value) {
    let out = kubectl_with_stdin(&["apply", "-n", ns, "-f", "-"], &doc.to_string());
    assert!(out.success, "kubectl apply failed:\n{}\n{doc}", out.stderr);
}

/// The Leases `ade-stream` keeps, as the test plays it: four shards (one
/// finished parent, two children of its split, one more), and one worker.
#[derive(Debug)]
struct PlayedConsumer {
    ns: String,
    pod: String,
    lag_ms: i64,
    error: Option<(&'static str, &'static str)>,
    renewed: Option<Instant>,
}

impl PlayedConsumer {
    fn lease(&self, name: &str, kind: &str, holder: Option<&str>, annotations: Value) -> Value {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let mut spec = json!({"renewTime": now, "leaseDurationSeconds": 30});
        if let Some(h) = holder {
            spec["holderIdentity"] = json!(h);
        }
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "labels": {STREAM_CONSUMER: CONSUMER, lease::KIND: kind},
                "annotations": annotations,
            },
            "spec": spec,
        })
    }

    /// Writes every lease with a fresh `renewTime`.
    fn renew(&mut self) {
        let pod = self.pod.as_str();
        let flush = "2026-11-25T12:59:40Z";
        let mut worker = json!({lease::OPEN_SHARDS: "3"});
        if let Some((reason, message)) = self.error {
            worker[lease::ERROR_REASON] = json!(reason);
            worker[lease::ERROR_MESSAGE] = json!(message);
        }
        let lag = self.lag_ms.to_string();
        // The worker's lease first, as ade-stream writes its heartbeat (with
        // the open shards) before it takes shards: the operator, woken by
        // each Lease as it lands, never sees lagging shards without the
        // number of open shards (it would scale to the shards seen so far,
        // then hold for the 60 s scale-up cool-down).
        let items = vec![
            self.lease(
                &format!("app-events-worker-{pod}"),
                lease::KIND_WORKER,
                Some(pod),
                worker,
            ),
            self.lease(
                "app-events-shardid-000000000000",
                lease::KIND_SHARD,
                None,
                json!({lease::SHARD_ID: "shardId-000000000000", lease::PARENT_SHARDS: "",
                       lease::CHECKPOINT: lease::SHARD_END, lease::MILLIS_BEHIND: "0",
                       lease::RECORDS_PER_SECOND: "0", lease::LAST_FLUSH: "2026-11-25T12:00:00Z"}),
            ),
            self.lease(
                "app-events-shardid-000000000001",
                lease::KIND_SHARD,
                Some(pod),
                json!({lease::SHARD_ID: "shardId-000000000001", lease::PARENT_SHARDS: "shardId-000000000000",
                       lease::CHECKPOINT: "49590338271490256608559692538361571095921575989136588801",
                       lease::MILLIS_BEHIND: lag, lease::RECORDS_PER_SECOND: "12.5",
                       lease::LAST_FLUSH: flush}),
            ),
            self.lease(
                "app-events-shardid-000000000002",
                lease::KIND_SHARD,
                Some(pod),
                json!({lease::SHARD_ID: "shardId-000000000002", lease::PARENT_SHARDS: "shardId-000000000000",
                       lease::MILLIS_BEHIND: "1000", lease::RECORDS_PER_SECOND: "7.5"}),
            ),
            self.lease(
                "app-events-shardid-000000000003",
                lease::KIND_SHARD,
                Some(pod),
                json!({lease::SHARD_ID: "shardId-000000000003", lease::PARENT_SHARDS: "",
                       lease::CHECKPOINT: "49590338271490256608559692538361571095921575989136588900",
                       lease::MILLIS_BEHIND: "2000", lease::RECORDS_PER_SECOND: "5"}),
            ),
        ];
        apply_json(&self.ns, &json!({"apiVersion": "v1", "kind": "List", "items": items}));
        self.renewed = Some(Instant::now());
    }

    /// Renews the leases when the last renewal is older than 5 s, as a live consumer does.
    fn heartbeat(&mut self) {
        if self.renewed.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            self.renew();
        }
    }
}

fn deployment(ns: &str) -> Option<Value> {
    get_json(ns, &["deployment.apps", CHILDREN])
}

fn events(ns: &str, reason: &str) -> Vec<String> {
    let out = kubectl_ok(&[
        "get",
        "events",
        "-n",
        ns,
        "--field-selector",
        &format!("reason={reason}"),
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn env_of(deployment: &Value) -> serde_json::Map<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["name"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect()
}

#[test]
fn a_stream_consumer_runs_as_a_deployment_scaled_on_lag_and_reports_its_shards() {
    setup();
    let ns = Namespace::create("stream");
    let _operator = Operator::start_with(
        "stream",
        &[
            &format!("--stream-image={IMAGE}"),
            &format!("--aws-endpoint-url={ENDPOINT}"),
        ],
        &[],
    );
    kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "pii-key",
        "-n",
        &ns.name,
        "--from-literal=hmac=k1",
        "--from-literal=token=k2",
    ]);
    // The sample, with a label an Argo CD user would have: never copied to the children.
    let sample = std::fs::read_to_string(repo_root().join("manifests/samples/streamconsumer-app-events.yaml"))
        .expect("the sample");
    let labelled = sample.replacen(
        "  name: app-events\n",
        "  name: app-events\n  labels: {argocd.argoproj.io/instance: data}\n",
        1,
    );
    assert_ne!(labelled, sample, "the sample names app-events");
    let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], &labelled);
    assert!(out.success, "{}", out.stderr);
    let consumer = get_json(&ns.name, &["streamconsumer", CONSUMER]).expect("the consumer");
    let uid = consumer["metadata"]["uid"].as_str().expect("uid").to_owned();

    // 1. The children, as the contract with ade-stream says.
    let d = wait_for("the Deployment to be available", Duration::from_secs(60), || {
        let d = deployment(&ns.name)?;
        (d["status"]["availableReplicas"] == 1).then_some(d)
    });
    assert_eq!(d["spec"]["replicas"], 1, "minReplicas at start");
    let owner = &d["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["uid"].as_str()),
        (Some("StreamConsumer"), Some(uid.as_str()))
    );
    assert_eq!(owner["controller"], true);
    let labels = &d["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/name"], "ade-stream");
    assert_eq!(labels[STREAM_CONSUMER], CONSUMER);
    assert!(labels.get("argocd.argoproj.io/instance").is_none(), "{labels}");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], CHILDREN);
    assert_eq!(pod["containers"][0]["image"], IMAGE);
    assert_eq!(pod["containers"][0]["ports"][0]["containerPort"], 9090);
    assert_eq!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], true);
    let env = env_of(&d);
    assert_eq!(env["AWS_ENDPOINT_URL"]["value"], ENDPOINT);
    // An http emulator endpoint: the S3 sink is told to accept it.
    assert_eq!(env["AWS_ALLOW_HTTP"]["value"], "true");
    assert_eq!(env["AWS_REGION"]["value"], "us-east-1");
    assert_eq!(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    let config: Value =
        serde_json::from_str(env[stream::ENV]["value"].as_str().expect("config")).expect("config is JSON");
    serde_json::from_value::<stream::Config>(config.clone()).expect("ade-stream reads the document");
    assert_eq!(config["consumer"], CONSUMER);
    assert_eq!(config["consumerUid"], uid.as_str());
    assert_eq!(config["namespace"], ns.name.as_str());
    assert_eq!(config["stream"]["startingPosition"], "TRIM_HORIZON");
    assert_eq!(config["sink"]["flush"]["maxBytes"], 134_217_728);
    assert_eq!(config["sink"]["flush"]["maxIntervalSeconds"], 60);
    assert_eq!(config["leaseDurationSeconds"], 30);
    assert_eq!(
        config["obfuscate"],
        json!([
            {"field": "email", "method": "hmac-sha256", "keyFile": "/var/run/ade/keys/0/hmac"},
            {"field": "phone", "method": "token", "keyFile": "/var/run/ade/keys/1/token"},
            {"field": "ssn", "method": "drop"}
        ])
    );
    let mounts: Vec<String> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| format!("{} {} {}", m["name"], m["mountPath"], m["readOnly"]))
        .collect();
    assert_eq!(
        mounts,
        [
            "\"key-0\" \"/var/run/ade/keys/0\" true",
            "\"key-1\" \"/var/run/ade/keys/1\" true"
        ]
    );
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "pii-key");
    assert_eq!(
        pod["volumes"][1]["secret"]["items"],
        json!([{"key": "token", "path": "token"}])
    );
    let role = get_json(&ns.name, &["role.rbac.authorization.k8s.io", CHILDREN]).expect("the Role");
    assert_eq!(role["rules"][0]["resources"], json!(["leases"]));
    assert_eq!(
        role["rules"][0]["verbs"],
        json!(["get", "list", "watch", "create", "update", "patch", "delete"])
    );
    let binding = get_json(&ns.name, &["rolebinding.rbac.authorization.k8s.io", CHILDREN]).expect("the RoleBinding");
    assert_eq!(binding["subjects"][0]["name"], CHILDREN);
    assert_eq!(binding["roleRef"]["name"], CHILDREN);
    let sa = get_json(&ns.name, &["serviceaccount", CHILDREN]).expect("the ServiceAccount");
    assert_eq!(sa["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
    // The ServiceAccount may hold leases, and nothing else.
    let may = |verb: &str, what: &str| {
        kubectl(&[
            "auth",
            "can-i",
            verb,
            what,
            "-n",
            &ns.name,
            &format!("--as=system:serviceaccount:{}:{CHILDREN}", ns.name),
        ])
        .stdout
        .trim()
            == "yes"
    };
    assert!(may("update", "leases.coordination.k8s.io") && may("delete", "leases.coordination.k8s.io"));
    assert!(!may("get", "secrets") && !may("create", "deployments.apps"));

    let sc = wait_for("Ready to say no worker is live", Duration::from_secs(30), || {
        let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
        (condition(&sc, "Ready")?["reason"] == "NoLiveWorkers").then_some(sc)
    });
    assert_eq!(condition(&sc, "Accepted").expect("Accepted")["status"], "True");
    assert_eq!(condition(&sc, "Degraded").expect("Degraded")["status"], "False");
    ade_e2e::argocd::capture(&ns.name, &format!("streamconsumer/{CONSUMER}"), "no-live-workers");

    // 2. The test plays ade-stream: a lag of 2 minutes against a 30 s target.
    let pod_name = kubectl_ok(&[
        "get",
        "pods",
        "-n",
        &ns.name,
        "-l",
        &format!("{STREAM_CONSUMER}={CONSUMER}"),
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let mut played = PlayedConsumer {
        ns: ns.name.clone(),
        pod: pod_name.trim().to_owned(),
        lag_ms: 120_000,
        error: None,
        renewed: None,
    };
    played.renew();
    // ceil(1 × 120 s / 30 s) = 4, capped by the 3 open shards (maxReplicas is 8).
    wait_for("a scale-up to the 3 open shards", Duration::from_secs(60), || {
        played.heartbeat();
        let d = deployment(&ns.name)?;
        (d["spec"]["replicas"] == 3 && d["status"]["availableReplicas"] == 3).then_some(())
    });
    let scaled = events(&ns.name, "Scaled");
    assert!(
        scaled
            .iter()
            .any(|e| e.contains("scaled from 1 to 3 replicas: lag 2m is above the target 30s")),
        "{scaled:?}"
    );
    let sc = wait_for(
        "the status to list shards and be Ready",
        Duration::from_secs(40),
        || {
            played.heartbeat();
            let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
            (condition(&sc, "Ready")?["status"] == "True" && sc["status"]["replicas"] == 3).then_some(sc)
        },
    );
    ade_e2e::argocd::capture(&ns.name, &format!("streamconsumer/{CONSUMER}"), "ready");
    let status = &sc["status"];
    assert_eq!(status["openShards"], 3);
    assert_eq!(status["lag"], "2m");
    assert_eq!(
        status["recordsPerSecond"].as_f64(),
        Some(25.0),
        "live unfinished shards: {status}"
    );
    assert_eq!(status["lastFlush"], "2026-11-25T12:59:40Z");
    let shards: Vec<String> = status["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| {
            format!(
                "{} owner={} checkpoint={} parents={}",
                s["shardId"].as_str().unwrap_or_default(),
                s["owner"].as_str().unwrap_or("-"),
                s["checkpoint"]
                    .as_str()
                    .map_or("-", |c| &c[c.len().saturating_sub(3)..]),
                s["parents"]
            )
        })
        .collect();
    let pod = played.pod.clone();
    assert_eq!(
        shards,
        [
            "shardId-000000000000 owner=- checkpoint=END parents=null".to_owned(),
            format!("shardId-000000000001 owner={pod} checkpoint=801 parents=[\"shardId-000000000000\"]"),
            format!("shardId-000000000002 owner={pod} checkpoint=- parents=[\"shardId-000000000000\"]"),
            format!("shardId-000000000003 owner={pod} checkpoint=900 parents=null"),
        ]
    );
    let columns = kubectl_ok(&["get", "streamconsumer", CONSUMER, "-n", &ns.name, "--no-headers"]);
    let columns: Vec<&str> = columns.split_whitespace().collect();
    assert_eq!(
        &columns[..6],
        [CONSUMER, "app-events", "3", "3", "2m", "True"],
        "{columns:?}"
    );

    // maxReplicas below the replicas: scaled down at once.
    kubectl_ok(&[
        "patch",
        "streamconsumer",
        CONSUMER,
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"scaling":{"maxReplicas":2}}}"#,
    ]);
    wait_for("the replicas to follow maxReplicas", Duration::from_secs(40), || {
        played.heartbeat();
        (deployment(&ns.name)?["spec"]["replicas"] == 2).then_some(())
    });

    // 3. The worker cannot find its stream.
    played.error = Some((
        "StreamNotFound",
        "ResourceNotFoundException: Stream app-events under account 000000000000 not found",
    ));
    played.renew();
    let sc = wait_for("Degraded=True StreamNotFound", Duration::from_secs(40), || {
        played.heartbeat();
        let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
        (condition(&sc, "Degraded")?["status"] == "True").then_some(sc)
    });
    ade_e2e::argocd::capture(&ns.name, &format!("streamconsumer/{CONSUMER}"), "stream-not-found");
    let degraded = condition(&sc, "Degraded").expect("Degraded");
    assert_eq!(degraded["reason"], "StreamNotFound");
    let message = degraded["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Kinesis stream app-events was not found in us-east-1: create it"),
        "{message}"
    );
    assert!(
        message.contains("Stream app-events under account 000000000000 not found"),
        "{message}"
    );
    let ready = condition(&sc, "Ready").expect("Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("StreamNotFound"))
    );
    wait_for("a StreamNotFound Warning Event", Duration::from_secs(20), || {
        (!events(&ns.name, "StreamNotFound").is_empty()).then_some(())
    });

    // 4. Argo CD's restart action stamps the consumer: the operator copies the
    // stamp onto the pod template, and the Deployment rolls its pods.
    kubectl_ok(&[
        "annotate",
        "streamconsumer",
        CONSUMER,
        "-n",
        &ns.name,
        "--overwrite",
        "ade.dev/restartedAt=2026-11-30T12:00:00Z",
    ]);
    wait_for(
        "the pod template to carry the restart stamp",
        Duration::from_secs(30),
        || {
            let d = deployment(&ns.name)?;
            (d["spec"]["template"]["metadata"]["annotations"]["ade.dev/restartedAt"] == "2026-11-30T12:00:00Z")
                .then_some(())
        },
    );
    wait_for("a pod of the rolled template", Duration::from_secs(60), || {
        let pods = get_json(
            &ns.name,
            &["pods", "-l", &format!("ade.dev/stream-consumer={CONSUMER}")],
        )?;
        pods["items"]
            .as_array()?
            .iter()
            .any(|p| p["metadata"]["annotations"]["ade.dev/restartedAt"] == "2026-11-30T12:00:00Z")
            .then_some(())
    });

    // 5. Deleting the consumer garbage-collects its children.
    kubectl_ok(&["delete", "streamconsumer", CONSUMER, "-n", &ns.name]);
    wait_for("the children to be garbage-collected", Duration::from_secs(60), || {
        let left = kubectl_ok(&[
            "get",
            "deployments.apps,serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,pods",
            "-n",
            &ns.name,
            "-l",
            "app.kubernetes.io/name=ade-stream",
            "-o",
            "name",
        ]);
        left.trim().is_empty().then_some(())
    });
}

//! StreamConsumer on runtime `kubernetes`, against the real control plane
//! with real consumers: the operator (with the chart's RBAC) turns the sample
//! consumer into a ServiceAccount, Role, RoleBinding and Deployment of
//! `ade-stream` pods; kwok plays the kubelet for their status and
//! e2e/src/pods.rs runs each Pod as an `ade-stream` process (its env, its
//! Secret keys, a token of its ServiceAccount) against moto's Kinesis and S3.
//! The operator reads the Leases those processes keep, reports what they
//! report (no worker yet, a stream that does not exist, shards with owners and
//! checkpoints), follows the replica bounds while the pods hand their shards
//! to each other, rolls them on Argo CD's restart action, and the garbage
//! collector removes the children (and so the processes) with the consumer.
//!
//! Lag-driven scaling, crashes and resharding under load are in
//! stream_records.rs.
//!
//! Run with `--test-threads=1` after `e2e/cluster up` (see the Makefile).

use std::{collections::BTreeMap, time::Duration};

use ade_api::{labels::STREAM_CONSUMER, stream};
use ade_e2e::{
    Namespace, Operator, condition, event_messages, get_json, install_chart_once, kubectl, kubectl_ok,
    kubectl_with_stdin,
    moto::{Moto, S3},
    pods::{Pods, PodsConfig},
    repo_root, wait_for,
};
use serde_json::{Value, json};

const CONSUMER: &str = "app-events";
const CHILDREN: &str = "app-events-stream";
const IMAGE: &str = "registry.example/ade:e2e";

fn deployment(ns: &str) -> Option<Value> {
    get_json(ns, &["deployment.apps", CHILDREN])
}

fn env_of(deployment: &Value) -> serde_json::Map<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["name"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect()
}

/// The shard leases' owners and checkpoints in the status, once every shard
/// of `want` is owned by a Pod whose process runs and has a checkpoint.
fn owned_shards(ns: &str, pods: &Pods, want: usize) -> Option<(Value, BTreeMap<String, String>)> {
    let sc = get_json(ns, &["streamconsumer", CONSUMER])?;
    let running = pods.running();
    let owners: BTreeMap<String, String> = sc["status"]["shards"]
        .as_array()?
        .iter()
        .filter_map(|s| {
            let owner = s["owner"].as_str()?;
            (running.iter().any(|p| p == owner) && s["checkpoint"].is_string())
                .then(|| (s["shardId"].as_str().unwrap_or_default().to_owned(), owner.to_owned()))
        })
        .collect();
    (owners.len() == want).then_some((sc, owners))
}

#[test]
fn a_stream_consumer_runs_real_pods_that_report_errors_shards_and_hand_off() {
    install_chart_once();
    let ns = Namespace::create("stream");
    let moto = Moto::start();
    moto.boto3("s3.create_bucket(Bucket='acme-lake')\n");
    let _operator = Operator::start_with(
        "stream",
        &[
            &format!("--stream-image={IMAGE}"),
            &format!("--aws-endpoint-url={}", moto.endpoint()),
        ],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
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
    // The sample, flushing every 2 s instead of every minute, with a label an
    // Argo CD user would have: never copied to the children.
    let sample = std::fs::read_to_string(repo_root().join("manifests/samples/streamconsumer-app-events.yaml"))
        .expect("the sample");
    let labelled = sample
        .replacen(
            "  name: app-events\n",
            "  name: app-events\n  labels: {argocd.argoproj.io/instance: data}\n",
            1,
        )
        .replacen("maxInterval: 60s", "maxInterval: 2s", 1)
        .replacen("checkpoint: { interval: 10s }", "checkpoint: { interval: 2s }", 1);
    assert_eq!(
        labelled.matches("2s").count(),
        2,
        "the sample's flush and checkpoint intervals"
    );
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
    assert_eq!(env["AWS_ENDPOINT_URL"]["value"], moto.endpoint().as_str());
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
    assert_eq!(config["sink"]["flush"]["maxIntervalSeconds"], 2);
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

    // 2. The pods are Running (kwok) but no process runs yet: no live worker.
    let sc = wait_for("Ready to say no worker is live", Duration::from_secs(30), || {
        let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
        (condition(&sc, "Ready")?["reason"] == "NoLiveWorkers").then_some(sc)
    });
    assert_eq!(condition(&sc, "Accepted").expect("Accepted")["status"], "True");
    assert_eq!(condition(&sc, "Degraded").expect("Degraded")["status"], "False");
    ade_e2e::argocd::capture(&ns.name, &format!("streamconsumer/{CONSUMER}"), "no-live-workers");

    // 3. The processes start; the stream does not exist yet.
    let mut env = moto.env();
    env.push(("ADE_STREAM_IDLE_POLL_MS".into(), "200".into()));
    env.push(("ADE_STREAM_SHARD_SYNC_SECONDS".into(), "2".into()));
    let pods = Pods::start(PodsConfig::ade_stream(
        &ns.name,
        &format!("{STREAM_CONSUMER}={CONSUMER}"),
        env,
    ));
    let sc = wait_for("Degraded=True StreamNotFound", Duration::from_secs(60), || {
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
    // What moto's Kinesis said to the process, passed on through its worker Lease.
    assert!(
        message.contains("Stream app-events under account 123456789012 not found"),
        "{message}"
    );
    let ready = condition(&sc, "Ready").expect("Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("StreamNotFound"))
    );
    wait_for("a StreamNotFound Warning Event", Duration::from_secs(20), || {
        (!event_messages(&ns.name, "StreamNotFound").is_empty()).then_some(())
    });

    // 4. The stream appears with 4 shards and 200 records: the one pod takes
    // every shard, consumes, checkpoints, and the consumer recovers.
    moto.boto3(
        "k = boto3.client('kinesis')\n\
         k.create_stream(StreamName='app-events', ShardCount=4)\n\
         k.get_waiter('stream_exists').wait(StreamName='app-events')\n\
         for batch in range(4):\n\
         \x20   records = [{'Data': json.dumps({'id': i, 'email': f'user{i}@example.com', 'phone': f'+1 415-555-{i:04d}', 'ssn': f'123-45-{i:04d}'}).encode(), 'PartitionKey': str(i)} for i in range(batch * 50, batch * 50 + 50)]\n\
         \x20   k.put_records(StreamName='app-events', Records=records)\n",
    );
    let (sc, owners) = wait_for(
        "every shard owned by the running pod, with a checkpoint",
        Duration::from_secs(90),
        || owned_shards(&ns.name, &pods, 4),
    );
    let first = pods.running();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(owners.values().all(|o| *o == first[0]), "{owners:?}");
    assert_eq!(sc["status"]["openShards"], 4);
    let sc = wait_for("Ready=True Consuming", Duration::from_secs(40), || {
        let sc = get_json(&ns.name, &["streamconsumer", CONSUMER])?;
        let ready = condition(&sc, "Ready")?;
        (ready["status"] == "True" && ready["reason"] == "Consuming").then_some(sc)
    });
    ade_e2e::argocd::capture(&ns.name, &format!("streamconsumer/{CONSUMER}"), "ready");
    assert_eq!(condition(&sc, "Degraded").expect("Degraded")["status"], "False");
    assert!(sc["status"]["lastFlush"].is_string(), "{}", sc["status"]);
    wait_for("a Recovered Event", Duration::from_secs(20), || {
        (!event_messages(&ns.name, "Recovered").is_empty()).then_some(())
    });
    let columns = kubectl_ok(&["get", "streamconsumer", CONSUMER, "-n", &ns.name, "--no-headers"]);
    let columns: Vec<&str> = columns.split_whitespace().collect();
    assert_eq!(&columns[..4], [CONSUMER, "app-events", "4", "1"], "{columns:?}");
    assert_eq!(columns[5], "True", "{columns:?}");
    let written = wait_for("the 200 records in the lake", Duration::from_secs(30), || {
        let keys = moto.keys("acme-lake", "raw/app_events/");
        (keys.iter().filter(|k| k.ends_with(".parquet")).count() >= 4).then_some(keys)
    });
    assert!(written.iter().all(|k| k.contains("/dt=")), "partitioned: {written:?}");
    let bytes = moto.boto3(
        "r = s3.list_objects_v2(Bucket='acme-lake')\n\
         sys.stdout.write(''.join(s3.get_object(Bucket='acme-lake', Key=o['Key'])['Body'].read().hex() for o in r['Contents']))\n",
    );
    for clear in ["@example.com", "415-555-", "123-45-"] {
        let hex: String = clear.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!bytes.contains(&hex), "{clear} in clear in the bucket");
    }

    // 5. minReplicas 2: a second pod joins and steals shards to balance.
    let patch = |spec: &str| {
        kubectl_ok(&[
            "patch",
            "streamconsumer",
            CONSUMER,
            "-n",
            &ns.name,
            "--type=merge",
            "-p",
            &format!(r#"{{"spec":{{"scaling":{spec}}}}}"#),
        ]);
    };
    patch(r#"{"minReplicas":2}"#);
    let owners = wait_for("two pods owning two shards each", Duration::from_secs(90), || {
        let (_, owners) = owned_shards(&ns.name, &pods, 4)?;
        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for o in owners.values() {
            *counts.entry(o).or_default() += 1;
        }
        (counts.len() == 2 && counts.values().all(|c| *c == 2)).then_some(owners)
    });
    eprintln!("balanced: {owners:?}");
    // Both back to 1: the Deployment deletes a pod; its process gets SIGTERM,
    // hands its shards off (exit 0, worker Lease deleted), the other takes them.
    patch(r#"{"minReplicas":1,"maxReplicas":1}"#);
    let (stopped, kept) = wait_for("one pod stopped", Duration::from_secs(60), || {
        let running = pods.running();
        let before: Vec<String> = owners.values().cloned().collect();
        let kept = before.iter().find(|p| running.contains(p))?.clone();
        let stopped = before.iter().find(|p| !running.contains(p))?.clone();
        (running.len() == 1).then_some((stopped, kept))
    });
    assert_eq!(pods.exits(&stopped), [Some(0)], "{}", pods.log(&stopped));
    wait_for(
        "the stopped pod's worker Lease deleted",
        Duration::from_secs(30),
        || {
            let leases = kubectl_ok(&["get", "leases", "-n", &ns.name, "-o", "name"]);
            (!leases.contains(&stopped)).then_some(())
        },
    );
    wait_for("the kept pod owning every shard", Duration::from_secs(60), || {
        let (_, owners) = owned_shards(&ns.name, &pods, 4)?;
        owners.values().all(|o| *o == kept).then_some(())
    });

    // 6. Argo CD's restart action stamps the consumer: the operator copies the
    // stamp onto the pod template, the Deployment rolls its pods, and the new
    // pod's process takes over every shard from the old one.
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
    let rolled = wait_for(
        "a pod of the rolled template owning every shard",
        Duration::from_secs(120),
        || {
            let (_, owners) = owned_shards(&ns.name, &pods, 4)?;
            let owner = owners.values().next()?.clone();
            (owner != kept && owners.values().all(|o| *o == owner)).then_some(owner)
        },
    );
    let pod = get_json(&ns.name, &["pod", &rolled]).expect("the rolled pod");
    assert_eq!(
        pod["metadata"]["annotations"]["ade.dev/restartedAt"],
        "2026-11-30T12:00:00Z"
    );
    wait_for("the old pod's process to end", Duration::from_secs(60), || {
        (!pods.exits(&kept).is_empty()).then_some(())
    });
    assert_eq!(pods.exits(&kept), [Some(0)], "{}", pods.log(&kept));

    // 7. Deleting the consumer garbage-collects its children; the processes end.
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
    wait_for("no ade-stream process left", Duration::from_secs(90), || {
        pods.running().is_empty().then_some(())
    });
}

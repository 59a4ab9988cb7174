//! Issue 13, item 3a: bad specs, fuzzed against the real API server. Each
//! spec starts from a sample of manifests/samples and is mutated at random
//! where the CRD's schema (read back from the API server) has a field
//! (`ade_e2e::spec_fuzz`), then applied with the real `kubectl`. Each one is
//! either refused by the API server with a message naming the field, or
//! accepted and then reported by the operator with `Accepted=True` or
//! `Accepted=False` and a reason, for the generation applied. Meanwhile the
//! operator never exits or panics, never keeps reconciling an object 20
//! times a minute (its own `ade_reconcile_busiest_object_last_minute`), and
//! creates nothing for a spec it did not accept: no EtlRun for an EtlJob, no
//! validation Job for a ValidationSuite, no Deployment or ServiceAccount for
//! a StreamConsumer, no EMR cluster for a ClusterPool.
//!
//! `ADE_FUZZ_SEED` replays a seed; `ADE_FUZZ_SPECS` sets the specs per sample.

use std::{
    collections::BTreeMap,
    sync::Once,
    time::{Duration, Instant},
};

use ade_e2e::{
    Moto, Namespace, Operator,
    chaos::emr_state,
    condition, env_or, install_chart, kubectl, kubectl_ok, kubectl_with_stdin, name, objects, repo_root,
    spec_fuzz::{Mutation, mutate},
};
use ade_moto::faults::Draws;
use serde_json::Value;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_chart);
}

/// A sample as JSON (kubectl reads the YAML), without the namespace kubectl
/// gives it and with its schedule, if it has one, moved clear of this test
/// (`clear_of`).
fn sample(file: &str) -> Value {
    let path = repo_root().join("manifests/samples").join(file);
    let json = kubectl_ok(&[
        "create",
        "--dry-run=client",
        "-o",
        "json",
        "-f",
        path.to_str().unwrap_or_default(),
    ]);
    let mut obj: Value = serde_json::from_str(&json).expect("the sample as JSON");
    if let Some(meta) = obj["metadata"].as_object_mut() {
        meta.remove("namespace");
    }
    if let Some(schedule) = obj["spec"]["schedule"].as_str() {
        obj["spec"]["schedule"] = clear_of(schedule, &jiff::Zoned::now()).into();
    }
    obj
}

/// `schedule` moved half an hour (and, when it names an hour, half a day)
/// away from `now`, so that no run falls due while the test watches for hot
/// loops. The orders sample's own `5 * * * *` fell due at :05 in a CI run:
/// its twenty copies on one pool then started runs together, each write
/// waking the pool, which the test took for a hot loop. The other fields
/// stay as the sample has them.
fn clear_of(schedule: &str, now: &jiff::Zoned) -> String {
    let mut fields: Vec<String> = schedule.split_whitespace().map(str::to_owned).collect();
    if let Some(minute) = fields.first_mut() {
        *minute = ((now.minute() + 30) % 60).to_string();
    }
    if let Some(hour) = fields.get_mut(1).filter(|h| h.parse::<u8>().is_ok()) {
        *hour = ((now.hour() + 12) % 24).to_string();
    }
    fields.join(" ")
}

#[test]
fn a_schedule_is_moved_clear_of_the_test() {
    let at = |s: &str| s.parse::<jiff::Zoned>().expect("a time");
    let now = at("2026-12-07T03:04:59+00:00[UTC]");
    assert_eq!(clear_of("5 * * * *", &now), "34 * * * *");
    assert_eq!(clear_of("0 2 * * *", &now), "34 15 * * *");
    assert_eq!(
        clear_of("*/15 8-18 * * 1-5", &at("2026-12-07T23:45:00+00:00[UTC]")),
        "15 8-18 * * 1-5"
    );
}

/// The schema of `.spec` of a CRD, as the API server has it.
fn spec_schema(plural: &str) -> Value {
    let crd = kubectl_ok(&["get", "crd", &format!("{plural}.ade.dev"), "-o", "json"]);
    let crd: Value = serde_json::from_str(&crd).expect("the CRD as JSON");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

/// `ade_reconcile_busiest_object_last_minute` by controller.
fn busiest_last_minute(operator: &Operator) -> BTreeMap<String, f64> {
    let (_, body) = operator.get("/metrics").unwrap_or_default();
    body.lines()
        .filter_map(|l| l.strip_prefix("ade_reconcile_busiest_object_last_minute{controller=\""))
        .filter_map(|l| {
            let (controller, rest) = l.split_once('"')?;
            Some((controller.to_owned(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// What the operator created for `obj`, when it should have created nothing.
fn children(ns: &str, moto: &Moto, obj: &Value) -> Vec<String> {
    let n = name(obj);
    let names = |what: &[&str]| -> Vec<String> {
        objects(ns, what)
            .iter()
            .map(|o| format!("{}/{}", o["kind"], name(o)))
            .collect()
    };
    match obj["kind"].as_str() {
        Some("EtlJob") => objects(ns, &["etlruns"])
            .iter()
            .filter(|r| r["spec"]["jobRef"]["name"] == n)
            .map(|r| format!("EtlRun/{}", name(r)))
            .collect(),
        Some("ValidationSuite") => names(&["jobs.batch", "-l", &format!("ade.dev/validation-suite={n}")]),
        Some("StreamConsumer") => names(&[
            "deployments,serviceaccounts",
            "-l",
            &format!("ade.dev/stream-consumer={n}"),
        ]),
        Some("ClusterPool") => emr_state(moto, &format!("ade-{ns}-{n}-"))
            .0
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn fuzzed_specs_are_refused_or_reported_and_never_crash_or_hot_loop_the_operator() {
    setup();
    let seed = env_or("ADE_FUZZ_SEED", 7);
    let per_sample = env_or("ADE_FUZZ_SPECS", 20);
    let mut d = Draws::new(seed);
    let ns = Namespace::create("specfuzz");
    let moto = Moto::start();
    let mut operator = Operator::start_with(
        &ns.name,
        &[
            &format!("--aws-endpoint-url={}", moto.endpoint()),
            "--aws-region=us-east-1",
        ],
        &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
    );
    let started = Instant::now();
    let samples = [
        ("clusterpool-kubernetes.yaml", "clusterpools"),
        ("clusterpool-emr.yaml", "clusterpools"),
        ("etljob-orders.yaml", "etljobs"),
        ("etljob-spark-backfill.yaml", "etljobs"),
        ("streamconsumer-app-events.yaml", "streamconsumers"),
        ("validationsuite-sessions.yaml", "validationsuites"),
    ];
    // The samples themselves, unmutated: the pools and the suite the others name.
    for (file, _) in &samples {
        let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], &sample(file).to_string());
        assert!(out.success, "the sample {file} is valid: {}", out.stderr);
    }
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    let mut mutations: BTreeMap<Mutation, usize> = BTreeMap::new();
    for (file, plural) in &samples {
        let base = sample(file);
        let schema = spec_schema(plural);
        for i in 0..per_sample {
            // Mostly one mutation, so that more specs pass the API server's
            // checks and reach the operator's.
            let count = if d.unit() < 0.6 {
                1
            } else {
                2 + usize::from(d.unit() < 0.5)
            };
            let (spec, done) = mutate(&base["spec"], &schema, count, &mut d);
            let mut obj = base.clone();
            let obj_name = format!("{}-{i}", base["metadata"]["name"].as_str().unwrap_or("x"));
            obj["metadata"] = serde_json::json!({"name": obj_name});
            obj["spec"] = spec;
            for (m, _) in &done {
                *mutations.entry(*m).or_default() += 1;
            }
            let out = kubectl_with_stdin(&["apply", "-n", &ns.name, "-f", "-"], &obj.to_string());
            if out.success {
                let key = format!("{}/{obj_name}", obj["kind"].as_str().unwrap_or_default());
                accepted.push((key, obj, done));
            } else {
                assert!(
                    out.stderr.contains("spec") && !out.stderr.trim().is_empty(),
                    "seed {seed}: {obj_name} ({done:?}) was refused without naming a field: {}",
                    out.stderr
                );
                refused.push((obj_name, done, out.stderr));
            }
        }
    }

    // Every accepted object is reported, for the generation applied.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut verdicts: BTreeMap<String, (String, String)> = BTreeMap::new();
    loop {
        for (key, _, _) in &accepted {
            if verdicts.contains_key(key) {
                continue;
            }
            let Some(live) = ade_e2e::get_json(&ns.name, &[key]) else {
                continue;
            };
            let generation = &live["metadata"]["generation"];
            if let Some(c) = condition(&live, "Accepted").filter(|c| &c["observedGeneration"] == generation) {
                let reason = c["reason"].as_str().unwrap_or_default();
                assert!(
                    !reason.is_empty()
                        && (c["status"] == "True" || !c["message"].as_str().unwrap_or_default().is_empty()),
                    "seed {seed}: {key}: Accepted without a reason or message: {c}"
                );
                verdicts.insert(
                    key.clone(),
                    (c["status"].as_str().unwrap_or_default().to_owned(), reason.to_owned()),
                );
            }
        }
        if verdicts.len() == accepted.len() {
            break;
        }
        assert!(
            operator.exited().is_none(),
            "seed {seed}: the operator exited:\n{}",
            operator.log()
        );
        let missing: Vec<String> = accepted
            .iter()
            .filter(|(k, _, _)| !verdicts.contains_key(k))
            .map(|(k, _, done)| format!("{k} after {done:?}"))
            .collect();
        assert!(
            Instant::now() < deadline,
            "seed {seed}: no Accepted condition after 120 s for {missing:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Nothing was created for a spec the operator did not accept.
    for (key, obj, done) in &accepted {
        if verdicts[key].0 == "False" {
            let made = children(&ns.name, &moto, obj);
            assert!(
                made.is_empty(),
                "seed {seed}: {key} ({done:?}) is not accepted but has {made:?}"
            );
        }
    }
    // Never crashed, never hot-looped: a minute after every object was
    // reported (the burst of their creation has aged out), no object of
    // any controller has been reconciled 20 times in the last minute
    // (`ade_reconcile_busiest_object_last_minute`, the operator's own
    // measure; the busiest needs under 10, a requeue loop makes 60, and a pool
    // woken by its own status write made 26).
    let window = Duration::from_secs(env_or("ADE_FUZZ_WINDOW_SECS", 70));
    let watched = Instant::now();
    let mut busiest = BTreeMap::new();
    while watched.elapsed() < window {
        std::thread::sleep(Duration::from_secs(1));
        busiest = busiest_last_minute(&operator);
        let hot: Vec<_> = busiest.iter().filter(|(_, n)| **n >= 20.0).collect();
        assert!(
            watched.elapsed() < Duration::from_secs(60) || hot.is_empty(),
            "seed {seed}: objects reconciled 20 times or more in the last minute: {hot:?}\n{}",
            operator
                .log()
                .lines()
                .filter(|l| l.contains("hot loop"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        operator.exited().is_none(),
        "seed {seed}: the operator exited:\n{}",
        operator.log()
    );
    let log = operator.log();
    assert!(!log.contains("panicked"), "seed {seed}: the operator panicked:\n{log}");
    // Nothing made here reaches the tests after this one: the namespace goes
    // while this operator still runs, so its pools' and runs' finalizers
    // complete (left Terminating, they were finalized by the next test's
    // operator, through that test's AWS endpoint).
    let out = kubectl(&["delete", "namespace", &ns.name, "--wait=true", "--timeout=180s"]);
    assert!(out.success, "seed {seed}: deleting {}: {}", ns.name, out.stderr);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (status, reason) in verdicts.values() {
        *reasons.entry(format!("{status}/{reason}")).or_default() += 1;
    }
    println!(
        "spec fuzz figures: seed {seed}; specs {}; refused by the API server {}; accepted {} (Accepted: {reasons:?}); \
         mutations {mutations:?}; most reconciliations of one object in the last minute, a minute after {busiest:?}; wall time {} s",
        accepted.len() + refused.len(),
        refused.len(),
        accepted.len(),
        started.elapsed().as_secs()
    );
    for (obj_name, done, message) in refused.iter().take(3) {
        println!("  refused {obj_name} after {done:?}: {}", message.trim());
    }
}

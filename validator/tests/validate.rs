//! ade-validate end to end on local files: checks, formats, globs, history,
//! bad input (exit 2, nothing written) and the HTTP publishers.

// Helpers below panic on failure, like the tests that call them (see clippy.toml).
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{
    HttpRecorder, ade_validate, day_window, files_under, orders_batch, write_csv, write_json, write_parquet,
};

/// Every spec has a trigger (the CRD requires one); ade-validate ignores it.
fn trigger() -> Value {
    json!({"schedule": "0 6 * * *"})
}

fn suite(dataset: &str, format: &str) -> Value {
    json!({
        "dataset": {"uri": dataset, "format": format},
        "trigger": trigger(),
        "checks": [
            {"name": "has-rows", "rowCount": {"min": 1}},
            {"name": "email-present", "column": "email", "notNull": {"minRatio": 0.99}, "severity": "warn"},
            {"name": "id-unique", "column": "order_id", "unique": {}},
            {"name": "status-known", "column": "status", "inSet": {"values": ["new", "paid", "shipped"]}},
            {"name": "amount-positive", "column": "amount", "range": {"min": 0}},
            {"name": "sku-format", "column": "sku", "regex": {"pattern": "^[A-Z]{3}-\\d+$"}, "mostly": 0.99},
            {"name": "totals", "sql": {"predicate": "total = subtotal + tax"}},
            {"name": "de-amounts", "column": "amount", "where": "country = 'DE'", "range": {"min": 0}},
            {"name": "fresh", "column": "created_at", "freshness": {"maxAge": "8h"}},
            {"name": "rows-normal", "anomaly": {"metric": "rowCount", "minHistory": 2}}
        ]
    })
}

const WINDOW: [&str; 4] = [
    "--window-start",
    "2026-11-22T00:00:00Z",
    "--window-end",
    "2026-11-23T00:00:00Z",
];

fn run(dir: &Path, spec: &Value, extra: &[&str]) -> (i32, Value, String) {
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let mut args = vec!["--suite-spec", spec_path.to_str().unwrap(), "--suite-name", "orders"];
    if !extra.contains(&"--batch-id") {
        args.extend(["--batch-id", "b1"]);
    }
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = ade_validate(&args, &[]);
    let doc = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (code, doc, stderr)
}

fn statuses(doc: &Value) -> Vec<(String, String)> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expected_statuses() -> Vec<(String, String)> {
    [
        ("has-rows", "passed"),
        ("email-present", "failed"),
        ("id-unique", "passed"),
        ("status-known", "failed"),
        ("amount-positive", "failed"),
        ("sku-format", "passed"),
        ("totals", "failed"),
        ("de-amounts", "passed"),
        ("fresh", "passed"),
        ("rows-normal", "insufficientHistory"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn parquet_suite_checks_profile_and_result_document() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("orders.parquet");
    write_parquet(&data, &orders_batch(1000));
    let out = dir.path().join("result.json");
    let mut args = WINDOW.to_vec();
    args.extend(["--output", out.to_str().unwrap()]);
    let (code, doc, stderr) = run(dir.path(), &suite(data.to_str().unwrap(), "parquet"), &args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["apiVersion"], "ade.dev/validation-result/v1");
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(statuses(&doc), expected_statuses());
    assert_eq!(
        doc["summary"],
        json!({"passed": 5, "warned": 1, "failed": 3, "skipped": 1})
    );
    let check = |name: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("status-known")["failingSample"], json!([{"status": "lost"}]));
    assert_eq!(check("totals")["failingSample"][0]["total"], "0");
    assert_eq!(check("sku-format")["failingRows"], 1);
    assert_eq!(check("de-amounts")["evaluatedRows"], 500);
    assert_eq!(check("email-present")["outcome"], "warned");
    let profile = &doc["profile"];
    assert_eq!(
        (profile["rowCount"].clone(), profile["rowCountFrom"].clone()),
        (json!(1000), json!("footer"))
    );
    let column = |name: &str| {
        profile["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(column("order_id")["min"], 0);
    assert_eq!(column("order_id")["max"], 999);
    assert_eq!(column("order_id")["minMaxFrom"], "footer");
    let distinct = column("order_id")["distinct"].as_i64().unwrap();
    assert!((distinct - 1000).abs() <= 25, "HyperLogLog estimate {distinct}");
    assert_eq!(column("email")["nulls"], 20);
    assert_eq!(column("status")["mode"], "new");
    assert_eq!(column("country")["distinct"], 2);
    assert!(column("amount")["quantiles"].as_array().unwrap().len() == 3);
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(&out).unwrap()).unwrap(),
        doc
    );
}

#[test]
fn csv_and_json_lines_give_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    for (format, file) in [("csv", "orders.csv"), ("json", "orders.jsonl")] {
        let data = dir.path().join(file);
        let batch = orders_batch(1000);
        if format == "csv" {
            write_csv(&data, &batch)
        } else {
            write_json(&data, &batch)
        }
        // Text files carry no timestamp type, so freshness would be a type mismatch there: drop it.
        let mut spec = suite(data.to_str().unwrap(), format);
        spec["checks"].as_array_mut().unwrap().retain(|c| c["name"] != "fresh");
        let (code, doc, stderr) = run(dir.path(), &spec, &WINDOW);
        assert_eq!(code, 1, "{format}: {stderr}");
        let mut want = expected_statuses();
        want.retain(|c| c.0 != "fresh");
        assert_eq!(statuses(&doc), want, "{format}");
        assert_eq!(doc["profile"]["rowCountFrom"], "scan");
    }
}

#[test]
fn globs_and_partition_folders_cover_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("orders");
    for dt in ["dt=1", "dt=2"] {
        write_parquet(&root.join(dt).join("part-0.parquet"), &orders_batch(300));
    }
    std::fs::write(root.join("dt=1/_SUCCESS"), "").unwrap();
    let spec = json!({"dataset": {"uri": "x"}, "trigger": trigger(), "checks": [
        {"name": "rows", "rowCount": {"min": 600, "max": 600}},
        {"name": "ids", "column": "order_id", "unique": {}}
    ]});
    for uri in [
        root.to_str().unwrap().to_owned(),
        format!("{}/*/part-*.parquet", root.display()),
    ] {
        let (code, doc, stderr) = run(dir.path(), &spec, &["--dataset", &uri]);
        assert_eq!(code, 1, "{uri}: {stderr}");
        assert_eq!(doc["dataset"]["files"], 2, "{uri}");
        assert_eq!(
            statuses(&doc),
            vec![("rows".into(), "passed".into()), ("ids".into(), "failed".into())]
        );
        let ids = &doc["checks"][1];
        assert_eq!(ids["failingRows"], 300, "ids repeat across the two files");
    }
}

#[test]
fn history_drives_anomaly_and_change_checks_and_reruns_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let spec = json!({"dataset": {"uri": "x"}, "trigger": trigger(), "profile": {"columns": ["order_id"]}, "checks": [
        {"name": "rows-weekly", "anomaly": {"metric": "rowCount", "stddevs": 2, "history": 10, "minHistory": 3, "seasonality": "weekly"}},
        {"name": "rows-change", "change": {"metric": "rowCount", "maxRelative": 0.2}},
        {"name": "mean-id", "column": "order_id", "anomaly": {"metric": "mean", "stddevs": 3, "minHistory": 2}}
    ]});
    // Four Sundays with about 1000 rows, then a Sunday with 1400.
    let sundays = [
        ("2026-11-01", 1000),
        ("2026-11-08", 1010),
        ("2026-11-15", 990),
        ("2026-11-22", 1000),
        ("2026-11-29", 1400),
    ];
    let mut last = Value::Null;
    for (i, (day, rows)) in sundays.iter().enumerate() {
        let data = dir.path().join(format!("d{i}.parquet"));
        write_parquet(&data, &orders_batch(*rows));
        let window = day_window(day);
        let mut args = vec![
            "--dataset",
            data.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
        ];
        args.extend(window.iter().map(String::as_str));
        let spec_path = dir.path().join("spec.json");
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let mut all = vec![
            "--suite-spec",
            spec_path.to_str().unwrap(),
            "--suite-name",
            "orders",
            "--batch-id",
            day,
        ];
        all.extend(args);
        let (code, stdout, stderr) = ade_validate(&all, &[]);
        last = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        let want = match i {
            0 => vec!["insufficientHistory", "insufficientHistory", "insufficientHistory"],
            1 => vec!["insufficientHistory", "passed", "insufficientHistory"],
            2 => vec!["insufficientHistory", "passed", "passed"],
            3 => vec!["passed", "passed", "passed"],
            _ => vec!["failed", "failed", "failed"],
        };
        let got: Vec<String> = statuses(&last).into_iter().map(|s| s.1).collect();
        assert_eq!(got, want, "batch {day}: {stderr}");
        assert_eq!(code, if i == 4 { 1 } else { 0 });
    }
    assert_eq!(last["checks"][0]["expected"]["batches"], 4);
    // A rerun of a batch replaces its record.
    let records = || files_under(&history);
    assert_eq!(records().len(), 5);
    let (code, _, stderr) = ade_validate(
        &[
            "--suite-spec",
            dir.path().join("spec.json").to_str().unwrap(),
            "--suite-name",
            "orders",
            "--batch-id",
            "2026-11-29",
            "--dataset",
            dir.path().join("d4.parquet").to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
            "--window-start",
            "2026-11-29T00:00:00Z",
            "--window-end",
            "2026-11-30T00:00:00Z",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(records().len(), 5);
    assert!(records().contains(&"suite=orders/batch=2026-11-29/metrics.json".to_owned()));
    // The record keeps sketch states that can be re-aggregated.
    let record: Value =
        serde_json::from_slice(&std::fs::read(history.join("suite=orders/batch=2026-11-29/metrics.json")).unwrap())
            .unwrap();
    let state: ade_validator::sketch::hll::HllState =
        serde_json::from_value(record["columns"]["order_id"]["hll"].clone()).unwrap();
    let mut hll = ade_validator::sketch::hll::HyperLogLog::from_state(&state).unwrap();
    let other: ade_validator::sketch::hll::HllState = serde_json::from_value(
        serde_json::from_slice::<Value>(
            &std::fs::read(history.join("suite=orders/batch=2026-11-01/metrics.json")).unwrap(),
        )
        .unwrap()["columns"]["order_id"]["hll"]
            .clone(),
    )
    .unwrap();
    hll.merge(&ade_validator::sketch::hll::HyperLogLog::from_state(&other).unwrap());
    assert!((hll.estimate() - 1400.0).abs() < 30.0, "ids 0..1400 ∪ 0..1000");
    let kll: ade_validator::sketch::kll::KllState =
        serde_json::from_value(record["columns"]["order_id"]["kll"].clone()).unwrap();
    assert_eq!(kll.n, 1400);
}

/// Runs a suite that must be rejected: exit 2, the message contains `needle`, and nothing is written.
fn rejected(spec: Value, dataset: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (results, history) = (dir.path().join("results"), dir.path().join("history"));
    let (code, doc, stderr) = run(
        dir.path(),
        &spec,
        &[
            "--dataset",
            dataset,
            "--results",
            results.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(doc, Value::Null, "nothing printed");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    assert!(
        files_under(&results).is_empty() && files_under(&history).is_empty(),
        "nothing published"
    );
}

fn data_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.parquet");
    write_parquet(&path, &orders_batch(100));
    let s = path.to_str().unwrap().to_owned();
    (dir, s)
}

fn one_check(check: Value) -> Value {
    json!({"dataset": {"uri": "x"}, "trigger": trigger(), "checks": [{"name": "ok", "rowCount": {"min": 1}}, check]})
}

#[test]
fn bad_input_missing_dataset() {
    rejected(
        one_check(json!({"name": "c", "rowCount": {}})),
        "/nonexistent/orders/",
        "dataset not found",
    );
}

#[test]
fn bad_input_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.parquet");
    std::fs::write(&path, b"this is not parquet at all, just some bytes").unwrap();
    rejected(
        one_check(json!({"name": "c", "rowCount": {}})),
        path.to_str().unwrap(),
        "cannot read the Parquet footer",
    );
}

#[test]
fn bad_input_unknown_column_names_it_and_lists_the_columns() {
    let (_dir, data) = data_file();
    rejected(
        one_check(json!({"name": "c", "column": "amout", "notNull": {}})),
        &data,
        "unknown column \"amout\"; the dataset has: order_id, status, amount",
    );
}

#[test]
fn bad_input_invalid_regex_shows_the_regex_error() {
    let (_dir, data) = data_file();
    rejected(
        one_check(json!({"name": "c", "column": "sku", "regex": {"pattern": "^[A-Z{3}"}})),
        &data,
        "invalid regex \"^[A-Z{3}\": regex parse error",
    );
}

#[test]
fn bad_input_invalid_sql_shows_the_datafusion_error() {
    let (_dir, data) = data_file();
    rejected(
        one_check(json!({"name": "c", "sql": {"predicate": "total = = subtotal"}})),
        &data,
        "invalid SQL predicate",
    );
    rejected(
        one_check(json!({"name": "c", "sql": {"predicate": "totl > 0"}})),
        &data,
        "totl",
    );
    rejected(
        one_check(json!({"name": "c", "column": "amount", "where": "country", "range": {"min": 0}})),
        &data,
        "not boolean",
    );
}

#[test]
fn bad_input_type_mismatch() {
    let (_dir, data) = data_file();
    rejected(
        one_check(json!({"name": "c", "column": "status", "range": {"min": 0}})),
        &data,
        "range needs a numeric column, but column \"status\" is Utf8",
    );
}

#[test]
fn opensearch_and_slack_publishers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("orders.parquet");
    write_parquet(&data, &orders_batch(200));
    let search = HttpRecorder::start(r#"{"took": 1, "errors": false, "items": []}"#);
    let slack = HttpRecorder::start("ok");
    let spec = json!({"dataset": {"uri": data}, "trigger": trigger(), "profile": {"columns": ["order_id", "status"]},
        "checks": [{"name": "status-known", "column": "status", "inSet": {"values": ["new", "paid", "shipped"]}}],
        "publish": {"opensearch": {"url": search.url, "index": "ade-quality", "credentialsSecretRef": {"name": "os", "key": "auth"}}},
        "alerts": {"slack": {"webhookSecretRef": {"name": "slack", "key": "url"}}, "notifyOn": "failure"}});
    let (creds, hook) = (dir.path().join("creds"), dir.path().join("hook"));
    std::fs::write(&creds, "ade:s3cret\n").unwrap();
    std::fs::write(&hook, format!("{}/services/T/B/X\n", slack.url)).unwrap();
    let history = dir.path().join("history");
    let args = [
        "--history",
        history.to_str().unwrap(),
        "--opensearch-credentials-file",
        creds.to_str().unwrap(),
        "--slack-webhook-file",
        hook.to_str().unwrap(),
    ];
    let (code, doc, stderr) = run(dir.path(), &spec, &args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["published"]["alerts"], json!(["slack"]));
    let bulk = search.taken();
    assert_eq!(bulk.len(), 1);
    assert_eq!((bulk[0].method.as_str(), bulk[0].path.as_str()), ("POST", "/_bulk"));
    assert_eq!(bulk[0].header("authorization"), Some("Basic YWRlOnMzY3JldA=="));
    let lines: Vec<Value> = bulk[0].body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines.len(),
        2 * (1 + 1 + 2),
        "suite + one check + two columns, each action + document"
    );
    assert_eq!(lines[0]["index"]["_id"], "orders:b1:suite");
    assert_eq!(lines[3]["check"], "status-known");
    let posts = slack.taken();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/services/T/B/X");
    let text: Value = serde_json::from_str(&posts[0].body).unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("ADE suite orders batch b1: FAILED"),
        "{text}"
    );
    // The next batch fails too: health did not change, so no alert; the documents are still published.
    let (code, doc, _) = run(dir.path(), &spec, &[&args[..], &["--batch-id", "b2"]].concat());
    assert_eq!(code, 1);
    assert_eq!(doc["published"]["alerts"], json!([]));
    assert!(slack.taken().is_empty());
    assert_eq!(search.taken().len(), 1);
    // Without the webhook file, a suite with Slack alerts is bad input.
    let (code, _, stderr) = run(
        dir.path(),
        &spec,
        &["--opensearch-credentials-file", creds.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(search.taken().is_empty(), "nothing published on bad input");
}

/// Issue 12, item 6: when the checks ran but a publisher is down, the summary
/// carries the checks' verdict (the operator quarantines on it, not on the
/// publishing failure), every other publisher still gets the results, the
/// one that is down is tried again, and what it missed is stored so that
/// `--republish` sends it later without running the checks again.
#[test]
fn a_publisher_that_is_down_gets_its_results_later_without_the_checks_running_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("orders.parquet");
    write_parquet(&data, &orders_batch(200));
    // OpenSearch answers 503 to the run's three tries, then recovers.
    let search = HttpRecorder::start_failing(r#"{"took": 1, "errors": false, "items": []}"#, 3);
    let slack = HttpRecorder::start("ok");
    let spec = json!({"dataset": {"uri": data}, "trigger": trigger(),
        "checks": [{"name": "rows", "rowCount": {"min": 1}}],
        "publish": {"opensearch": {"url": search.url, "index": "ade-quality"}},
        "alerts": {"slack": {"webhookSecretRef": {"name": "slack", "key": "url"}}, "notifyOn": "always"}});
    let hook = dir.path().join("hook");
    std::fs::write(&hook, format!("{}/services/T/B/X\n", slack.url)).unwrap();
    let (results, summary) = (dir.path().join("results"), dir.path().join("summary.json"));
    let args = [
        "--results",
        results.to_str().unwrap(),
        "--slack-webhook-file",
        hook.to_str().unwrap(),
        "--summary-file",
        summary.to_str().unwrap(),
    ];
    let read_summary = || -> Value { serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap() };
    let (code, _, stderr) = run(dir.path(), &spec, &args);
    assert_eq!(code, 3, "{stderr}");
    let first = read_summary();
    assert_eq!(first["outcome"], "publishFailed", "{first}");
    assert_eq!(
        (first["passed"].as_u64(), first["failed"].as_u64()),
        (Some(1), Some(0)),
        "{first}"
    );
    assert_eq!(first["republish"], true, "{first}");
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("OpenSearch") && message.contains("tried 3 times"),
        "{message}"
    );
    let stored = files_under(&results);
    assert!(
        stored.iter().any(|f| f.ends_with("suite=orders/batch=b1/result.json")),
        "{stored:?}"
    );
    assert!(
        stored
            .iter()
            .any(|f| f.ends_with("suite=orders/batch=b1/publication-pending.json")),
        "{stored:?}"
    );
    assert_eq!(search.taken().len(), 3, "tried 3 times");
    assert_eq!(slack.taken().len(), 1, "the alert went out all the same");

    // Later: only what is left goes out; the dataset is not even read.
    std::fs::remove_file(&data).unwrap();
    let (code, _, stderr) = run(dir.path(), &spec, &[&args[..], &["--republish"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let bulk = search.taken();
    assert_eq!(bulk.len(), 1);
    assert!(bulk[0].body.contains("\"check\":\"rows\""), "{}", bulk[0].body);
    assert!(slack.taken().is_empty(), "the alert is not sent twice");
    // Nothing left: another --republish sends nothing.
    let (code, _, stderr) = run(dir.path(), &spec, &[&args[..], &["--republish"]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(search.taken().is_empty() && slack.taken().is_empty());
}

//! The checks data teams reach for first, against an independent oracle:
//! `oracle/orders.py` writes two batches of orders with DuckDB (NaN, ±inf,
//! nulls and negatives in a float column; repeated compound keys; customer ids
//! missing from a reference dataset; a schema change and a shifted
//! distribution in the second batch) and computes with DuckDB's SQL what each
//! check must find. ade-validate then runs on both batches, with a metrics
//! history between them, and every count it reports must equal DuckDB's.

// Test code panics on failure (see clippy.toml).
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::{ade_validate, day_window};

/// The oracle's Python (DuckDB pinned in oracle/requirements.txt).
fn oracle_python() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().unwrap();
    let out = Command::new(root.join("hack/python-venv.sh"))
        .args([
            "validator-oracle",
            here.join("tests/oracle/requirements.txt").to_str().unwrap(),
        ])
        .output()
        .expect("run hack/python-venv.sh");
    assert!(
        out.status.success(),
        "the oracle's virtualenv (DuckDB from PyPI) could not be made:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("python")
}

fn suite(dir: &Path) -> Value {
    let customers = dir.join("customers.parquet");
    let customers = customers.to_str().unwrap();
    json!({
        "dataset": {"uri": "set by --dataset"},
        "trigger": {"schedule": "0 6 * * *"},
        "profile": {"columns": ["amount", "user_id"]},
        "checks": [
            {"name": "amount-present", "column": "amount", "notNull": {"minRatio": 0.99}},
            {"name": "amount-present-nan-ok", "column": "amount", "notNull": {"minRatio": 0.99, "nanIsNull": false}},
            {"name": "amount-range", "column": "amount", "range": {"min": 0, "max": 1000}, "mostly": 0.9},
            {"name": "amount-range-lenient", "column": "amount", "range": {"min": 0, "allowNaN": true, "allowInfinity": true}, "severity": "warn"},
            {"name": "user-day-unique", "unique": {"columns": ["user_id", "day"]}},
            {"name": "user-day-unique-de", "unique": {"columns": ["user_id", "day"]}, "where": "country = 'DE'", "severity": "warn"},
            {"name": "customer-exists", "column": "customer_id", "reference": {"dataset": {"uri": customers}, "columns": ["id"]}, "mostly": 0.95},
            {"name": "customer-exists-fr", "column": "customer_id", "where": "country = 'FR'", "reference": {"dataset": {"uri": customers}, "columns": ["id"]}, "mostly": 0.95},
            {"name": "customer-region", "reference": {"dataset": {"uri": customers}, "keys": ["customer_id", "country"], "columns": ["id", "region"]}, "severity": "warn"},
            {"name": "contract", "schema": {"mode": "superset", "driftFrom": "previous", "columns": [
                {"name": "id", "type": "int64"}, {"name": "day", "type": "date"},
                {"name": "user_id", "type": "int64"}, {"name": "amount", "type": "float64"}]}},
            {"name": "id-required", "schema": {"mode": "superset", "columns": [{"name": "id", "nullable": false}]}, "severity": "warn"},
            {"name": "amount-distribution", "column": "amount", "distribution": {"statistic": "ks", "threshold": 0.1}},
            {"name": "countries", "column": "country", "distinct": {"max": 3}},
            {"name": "customers-over-2-batches", "column": "customer_id", "distinct": {"min": 1000, "max": 1200, "window": 2}},
            {"name": "amount-psi", "column": "amount", "distribution": {"statistic": "psi", "threshold": 0.25}, "severity": "warn"}
        ]
    })
}

/// Runs batch `b` (b1 or b2) of the suite with the shared history; the result document.
fn validate(dir: &Path, batch: &str, day: &str) -> (i32, Value) {
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, suite(dir).to_string()).unwrap();
    let data = dir.join(format!("{batch}.parquet"));
    let history = dir.join("history");
    let window = day_window(day);
    let mut args = vec![
        "--suite-spec",
        spec_path.to_str().unwrap(),
        "--suite-name",
        "orders",
        "--batch-id",
        day,
        "--dataset",
        data.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ];
    args.extend(window.iter().map(String::as_str));
    let (code, stdout, stderr) = ade_validate(&args, &[]);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, doc)
}

fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

fn column<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// (evaluated, failing) of a row-level check.
fn rows(c: &Value) -> (u64, u64) {
    (c["evaluatedRows"].as_u64().unwrap(), c["failingRows"].as_u64().unwrap())
}

fn oracle_rows(v: &Value) -> (u64, u64) {
    (v["evaluated"].as_u64().unwrap(), v["failing"].as_u64().unwrap())
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs().max(1.0)
}

/// The per-batch answers every run must match.
fn assert_matches_oracle(doc: &Value, want: &Value, batch: &str) {
    let amount = column(doc, "amount");
    for key in ["rows", "nulls", "nans", "infinities"] {
        assert_eq!(amount[key], want[key], "{batch}: profile amount.{key}");
    }
    assert_eq!(amount["statisticsExclude"], json!(["NaN", "Infinity"]));
    for key in ["min", "max"] {
        assert_eq!(
            amount[key].as_f64(),
            want[key].as_f64(),
            "{batch}: amount.{key} over finite values"
        );
    }
    for key in ["mean", "stddev"] {
        let (got, expect) = (amount[key].as_f64().unwrap(), want[key].as_f64().unwrap());
        assert!(
            close(got, expect, 1e-9),
            "{batch}: amount.{key} {got} vs DuckDB's {expect}"
        );
    }
    let present = check(doc, "amount-present");
    assert_eq!(
        present["observed"].as_f64(),
        want["presentRatioNanIsNull"].as_f64(),
        "{batch}"
    );
    assert_eq!(present["status"], "failed", "{batch}: 1.5% missing with NaN counted");
    let lenient = check(doc, "amount-present-nan-ok");
    assert_eq!(lenient["observed"].as_f64(), want["presentRatio"].as_f64(), "{batch}");
    assert_eq!(lenient["status"], "passed", "{batch}");

    assert_eq!(
        rows(check(doc, "amount-range")),
        oracle_rows(&want["range"]),
        "{batch}: range"
    );
    assert_eq!(
        rows(check(doc, "amount-range-lenient")).1,
        want["rangeLenientFailing"].as_u64().unwrap(),
        "{batch}: range allowing NaN and infinity"
    );
    for (name, key) in [
        ("user-day-unique", "unique"),
        ("user-day-unique-de", "uniqueDE"),
        ("customer-exists", "reference"),
        ("customer-exists-fr", "referenceFR"),
    ] {
        assert_eq!(rows(check(doc, name)), oracle_rows(&want[key]), "{batch}: {name}");
    }
    assert_eq!(
        rows(check(doc, "customer-region")).1,
        want["compoundReferenceFailing"].as_u64().unwrap(),
        "{batch}: compound reference"
    );
    // Samples are bounded and name every key column.
    let sample = check(doc, "user-day-unique")["failingSample"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!sample.is_empty() && sample.len() <= 10, "{sample:?}");
    assert!(
        sample
            .iter()
            .all(|row| row.get("user_id").is_some() && row.get("day").is_some())
    );
    let orphans = check(doc, "customer-exists")["failingSample"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        orphans
            .iter()
            .all(|row| row["customer_id"].as_str().unwrap().parse::<u64>().unwrap() >= 1000)
    );

    let optional = want["parquetSchema"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "id" && f["repetition"] == "OPTIONAL");
    let required = check(doc, "id-required");
    assert_eq!(
        required["status"],
        if optional { "failed" } else { "passed" },
        "{batch}: {required}"
    );
}

#[test]
fn nan_infinity_compound_keys_references_schema_drift_and_distribution_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(oracle_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/orders.py"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "oracle/orders.py failed");
    let answers: Value = serde_json::from_slice(&std::fs::read(dir.path().join("answers.json")).unwrap()).unwrap();

    // Batch 1: no history yet.
    let (code, first) = validate(dir.path(), "b1", "2026-11-29");
    assert_eq!(code, 1, "error checks fail: {}", first["checks"]);
    assert_matches_oracle(&first, &answers["b1"], "b1");
    let contract = check(&first, "contract");
    assert_eq!(contract["status"], "passed", "{contract}");
    assert!(
        contract["message"].as_str().unwrap().contains("no previous schema"),
        "{contract}"
    );
    for name in ["amount-distribution", "amount-psi", "customers-over-2-batches"] {
        assert_eq!(check(&first, name)["status"], "insufficientHistory", "{name}");
    }
    let countries = check(&first, "countries");
    assert_eq!(countries["observed"]["distinct"], answers["countriesB1"], "{countries}");
    assert_eq!(countries["status"], "passed");
    let record: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("history/suite=orders/batch=2026-11-29/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["schema"].as_array().unwrap().len(), 7, "{}", record["schema"]);
    // Sketches are stored in their versioned binary form (base64 of "ADSK", version 1).
    assert!(
        record["sketches"]["amount-distribution"]["kll"]
            .as_str()
            .unwrap()
            .starts_with("QURTSwE")
    );
    assert!(
        record["columns"]["amount"]["hll"]
            .as_str()
            .unwrap()
            .starts_with("QURTSwEB")
    );
    assert!(
        record["columns"]["user_id"]["top"]
            .as_str()
            .unwrap()
            .starts_with("QURTSwE")
    );

    // Batch 2: user_id became a string, note went, channel came; amounts moved up by 300.
    let (code, second) = validate(dir.path(), "b2", "2026-11-30");
    assert_eq!(code, 1);
    assert_matches_oracle(&second, &answers["b2"], "b2");
    let contract = check(&second, "contract");
    assert_eq!(contract["status"], "failed");
    let message = contract["message"].as_str().unwrap();
    for needle in [
        "column \"user_id\" is string, expected int64",
        "column \"channel\" was added since batch 2026-11-29",
        "column \"note\" was removed since batch 2026-11-29",
        "column \"user_id\" changed type from int64 to string since batch 2026-11-29",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    assert_eq!(contract["observed"]["drift"]["added"], json!(["channel"]));

    let ks = check(&second, "amount-distribution");
    let got = ks["observed"]["ks"].as_f64().unwrap();
    let exact = answers["ksB2VsB1"].as_f64().unwrap();
    // The sketches' rank error is about 1.7% each.
    assert!((got - exact).abs() < 0.04, "KS from sketches {got} vs exact {exact}");
    assert_eq!(ks["status"], "failed", "{ks}");
    assert_eq!(ks["observed"]["batches"], json!(["2026-11-29"]));
    // Distinct customers over both batches, from the two batches' merged HyperLogLogs.
    let customers = check(&second, "customers-over-2-batches");
    let (got, exact) = (
        customers["observed"]["distinct"].as_f64().unwrap(),
        answers["customersOverB1B2"].as_f64().unwrap(),
    );
    assert!(close(got, exact, 0.03), "{got} vs DuckDB's {exact}: {customers}");
    assert_eq!(customers["observed"]["pastBatches"], json!(["2026-11-29"]));
    assert_eq!(customers["status"], "passed");
    let psi = check(&second, "amount-psi");
    assert!(psi["observed"]["psi"].as_f64().unwrap() > 0.25, "{psi}");
    assert_eq!(
        (psi["status"].as_str(), psi["outcome"].as_str()),
        (Some("failed"), Some("warned"))
    );

    // A third batch with batch 1's data: its reference is both earlier batches
    // merged, so it lies about half as far from it as batch 2 lay from batch 1.
    let (_, again) = validate(dir.path(), "b1", "2026-12-01");
    let same = check(&again, "amount-distribution");
    assert_eq!(same["observed"]["batches"], json!(["2026-11-30", "2026-11-29"]));
    let ks_merged = same["observed"]["ks"].as_f64().unwrap();
    assert!(
        ks_merged < exact,
        "b1 against b1+b2 merged ({ks_merged}) is closer than against b2 alone"
    );
}

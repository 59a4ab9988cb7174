//! Check evaluation: pure functions from a check, the merged metrics the scan
//! produced for it, and the history, to a [`CheckResult`]. No I/O.

mod sketched;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::history::{self, AnomalyVerdict, Current, MetricsRecord};
use crate::profile::ColumnAccumulator;
use crate::result::{CheckOutcome, CheckResult, CheckStatus};
use crate::rowcheck::RowCheckAccumulator;
use crate::scalar::Scalar;
use crate::schema::{self, SchemaField};
use ade_api::v1alpha1::{Check, CheckKind, HistoryMetric, Seasonality};

/// What the scan produced for one check.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// Rows in the check's view (after `where`).
    pub rows: u64,
    pub column: Option<&'a ColumnAccumulator>,
    pub row_check: Option<&'a RowCheckAccumulator>,
    /// The dataset's columns (for schema checks).
    pub schema: &'a [SchemaField],
    /// The format says which columns are required (Parquet).
    pub declares_nullability: bool,
}

/// History and clock for history and freshness checks.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub records: &'a [MetricsRecord],
    pub current: Current<'a>,
    /// Used for freshness when the batch has no window end.
    pub now: Timestamp,
}

/// A metric of the current batch.
pub fn metric_value(metric: HistoryMetric, observed: Observed<'_>) -> Option<f64> {
    let c = observed.column;
    match metric {
        HistoryMetric::RowCount => Some(observed.rows as f64),
        HistoryMetric::NullRatio => c.map(ColumnAccumulator::null_ratio),
        HistoryMetric::DistinctCount => c.map(|c| c.distinct() as f64),
        HistoryMetric::Mean => c.and_then(|c| c.moments.mean()),
        HistoryMetric::Min => c.and_then(|c| c.min.as_ref()).and_then(Scalar::as_f64),
        HistoryMetric::Max => c.and_then(|c| c.max.as_ref()).and_then(Scalar::as_f64),
    }
}

pub(crate) struct Verdict {
    status: CheckStatus,
    observed: Value,
    expected: Value,
    message: String,
}

pub(crate) fn verdict(pass: bool, observed: Value, expected: Value, message: String) -> Verdict {
    Verdict {
        status: if pass { CheckStatus::Passed } else { CheckStatus::Failed },
        observed,
        expected,
        message,
    }
}

/// Evaluates one check. Also returns the value a history check compared, to record in history.
pub fn evaluate(check: &Check, observed: Observed<'_>, ctx: Context<'_>) -> (CheckResult, Option<f64>) {
    let mut recorded = None;
    let row = observed.row_check;
    let mostly = check.mostly.unwrap_or(1.0);
    let v = match check.kind() {
        None => verdict(false, Value::Null, Value::Null, "check has no single kind".into()),
        Some(CheckKind::RowCount(r)) => {
            let n = observed.rows as i64;
            let pass = r.min.is_none_or(|m| n >= m) && r.max.is_none_or(|m| n <= m);
            verdict(pass, json!(n), json!({"min": r.min, "max": r.max}), format!("{n} rows"))
        }
        Some(CheckKind::NotNull(nn)) => {
            let (rows, nulls, nans) = observed
                .column
                .map_or((observed.rows, 0, 0), |c| (c.rows, c.nulls, c.nans));
            let missing = nulls + if nn.nan_is_null { nans } else { 0 };
            let ratio = if rows == 0 {
                1.0
            } else {
                (rows - missing) as f64 / rows as f64
            };
            let nan_note = match (nans, nn.nan_is_null) {
                (0, _) => String::new(),
                (n, true) => format!(" and {n} are NaN (counted as null)"),
                (n, false) => format!(" ({n} NaN values count as present: nanIsNull is false)"),
            };
            verdict(
                ratio >= nn.min_ratio,
                json!(ratio),
                json!({"minRatio": nn.min_ratio, "nanIsNull": nn.nan_is_null}),
                format!("{nulls} of {rows} rows are null{nan_note}"),
            )
        }
        Some(CheckKind::Unique(u)) => {
            let what = if u.columns.is_empty() {
                "values".to_owned()
            } else {
                format!("keys ({})", u.columns.join(", "))
            };
            match row {
                Some(r) if r.cap_exceeded => Verdict {
                    status: CheckStatus::Inconclusive,
                    observed: Value::Null,
                    expected: json!({"duplicates": 0}),
                    message: format!("too many distinct {what} to check exactly within the memory cap (--unique-cap)"),
                },
                Some(r) => verdict(
                    r.failed == 0,
                    json!({"duplicates": r.failed}),
                    json!({"duplicates": 0, "columns": u.columns}),
                    format!("{} repeated {what} among {} rows without nulls", r.failed, r.evaluated),
                ),
                None => verdict(false, Value::Null, Value::Null, "no data".into()),
            }
        }
        Some(CheckKind::Reference(re)) => {
            let expected = json!({"mostly": mostly, "dataset": re.dataset.uri, "columns": re.columns});
            match row {
                Some(r) if r.cap_exceeded => Verdict {
                    status: CheckStatus::Inconclusive,
                    observed: Value::Null,
                    expected,
                    message: format!(
                        "{} has too many distinct keys to hold within the memory cap (--unique-cap)",
                        re.dataset.uri
                    ),
                },
                Some(r) => {
                    let ratio = r.passing_ratio();
                    verdict(
                        ratio >= mostly,
                        json!({"passingRatio": ratio, "orphans": r.failed}),
                        expected,
                        format!(
                            "{} of {} rows have no match in {} ({})",
                            r.failed,
                            r.evaluated,
                            re.dataset.uri,
                            re.columns.join(", ")
                        ),
                    )
                }
                None => verdict(false, Value::Null, expected, "no data".into()),
            }
        }
        Some(CheckKind::Schema(sc)) => {
            let previous = sc.drift_from.and_then(|_| {
                history::comparable(ctx.records, ctx.current, Seasonality::None)
                    .into_iter()
                    .find(|r| !r.schema.is_empty())
                    .map(|r| schema::Previous {
                        batch_id: &r.batch_id,
                        fields: &r.schema,
                    })
            });
            let v = schema::evaluate(sc, observed.schema, previous, observed.declares_nullability);
            let only_drift = sc.columns.is_empty();
            if only_drift && !v.drift_compared {
                Verdict {
                    status: CheckStatus::InsufficientHistory,
                    observed: v.observed,
                    expected: v.expected,
                    message: "no previous batch with a recorded schema to compare with".into(),
                }
            } else {
                let message = match (v.problems.is_empty(), v.drift_compared || sc.drift_from.is_none()) {
                    (true, true) => format!("{} columns as expected", observed.schema.len()),
                    (true, false) => format!(
                        "{} columns as expected; no previous schema to compare with for drift",
                        observed.schema.len()
                    ),
                    (false, _) => v.problems.join("; "),
                };
                verdict(v.problems.is_empty(), v.observed, v.expected, message)
            }
        }
        Some(CheckKind::Distribution(d)) => sketched::distribution(check, d, observed, ctx),
        Some(CheckKind::Distinct(d)) => sketched::distinct(check, d, observed, ctx),
        Some(CheckKind::InSet(_) | CheckKind::Range(_) | CheckKind::Regex(_) | CheckKind::Sql(_)) => {
            let (evaluated, failed) = row.map_or((0, 0), |r| (r.evaluated, r.failed));
            let ratio = row.map_or(1.0, RowCheckAccumulator::passing_ratio);
            let expected = match check.kind() {
                Some(CheckKind::InSet(s)) => json!({"values": s.values}),
                Some(CheckKind::Range(r)) => {
                    json!({"min": r.min, "max": r.max, "allowNaN": r.allow_nan, "allowInfinity": r.allow_infinity})
                }
                Some(CheckKind::Regex(r)) => json!({"pattern": r.pattern}),
                Some(CheckKind::Sql(s)) => json!({"predicate": s.predicate}),
                _ => Value::Null,
            };
            verdict(
                ratio >= mostly,
                json!({"passingRatio": ratio}),
                json!({"mostly": mostly, "rule": expected}),
                format!("{failed} of {evaluated} rows fail"),
            )
        }
        Some(CheckKind::Freshness(f)) => {
            let newest = observed.column.and_then(|c| c.max.clone());
            let reference = ctx.current.window_end.unwrap_or(ctx.now);
            let max_age = f.max_age.to_std().unwrap_or_default();
            match newest {
                Some(Scalar::Time(us)) => {
                    let age_s = (reference.as_microsecond() - us) as f64 / 1e6;
                    verdict(
                        age_s <= max_age.as_secs_f64(),
                        json!({"newest": Scalar::format_time(us), "ageSeconds": age_s}),
                        json!({"maxAge": f.max_age, "reference": reference.to_string()}),
                        format!("newest value is {age_s:.0}s older than {reference}"),
                    )
                }
                _ => verdict(
                    false,
                    Value::Null,
                    json!({"maxAge": f.max_age}),
                    "the column has no values".into(),
                ),
            }
        }
        Some(CheckKind::Anomaly(a)) => {
            let value = metric_value(a.metric, observed);
            recorded = value;
            let past: Vec<f64> = history::comparable(ctx.records, ctx.current, a.seasonality)
                .into_iter()
                .filter_map(|r| r.value(&check.name, a.metric, check.column.as_deref()))
                .take(a.history.max(0) as usize)
                .collect();
            match value {
                None => verdict(
                    false,
                    Value::Null,
                    Value::Null,
                    "the metric has no value for this batch".into(),
                ),
                Some(value) => match history::anomaly(value, &past, a.stddevs, a.min_history.max(0) as usize) {
                    AnomalyVerdict::InsufficientHistory { have, need } => Verdict {
                        status: CheckStatus::InsufficientHistory,
                        observed: json!(value),
                        expected: json!({"minHistory": need, "comparableBatches": have}),
                        message: format!("{have} comparable past batches, {need} needed"),
                    },
                    AnomalyVerdict::Decided {
                        mean,
                        stddev,
                        lower,
                        upper,
                        within,
                    } => verdict(
                        within,
                        json!(value),
                        json!({"mean": mean, "stddev": stddev, "lower": lower, "upper": upper, "batches": past.len()}),
                        format!(
                            "{value} vs {mean:.3} ± {}·{stddev:.3} over {} batches",
                            a.stddevs,
                            past.len()
                        ),
                    ),
                },
            }
        }
        Some(CheckKind::Change(c)) => {
            let value = metric_value(c.metric, observed);
            recorded = value;
            let previous = history::comparable(ctx.records, ctx.current, c.seasonality)
                .into_iter()
                .find_map(|r| {
                    r.value(&check.name, c.metric, check.column.as_deref())
                        .map(|v| (r.batch_id.clone(), v))
                });
            match (value, previous) {
                (None, _) => verdict(
                    false,
                    Value::Null,
                    Value::Null,
                    "the metric has no value for this batch".into(),
                ),
                (Some(value), None) => Verdict {
                    status: CheckStatus::InsufficientHistory,
                    observed: json!(value),
                    expected: json!({"maxRelative": c.max_relative}),
                    message: "no comparable past batch".into(),
                },
                (Some(value), Some((batch, prev))) => {
                    let change = history::relative_change(value, prev);
                    verdict(
                        change <= c.max_relative,
                        json!({"value": value, "relativeChange": if change.is_finite() { json!(change) } else { json!("inf") }}),
                        json!({"maxRelative": c.max_relative, "previous": prev, "previousBatch": batch}),
                        format!("{value} vs {prev} in batch {batch}"),
                    )
                }
            }
        }
    };
    let row_level = matches!(
        check.kind(),
        Some(
            CheckKind::InSet(_)
                | CheckKind::Range(_)
                | CheckKind::Regex(_)
                | CheckKind::Sql(_)
                | CheckKind::Unique(_)
                | CheckKind::Reference(_)
        )
    );
    let result = CheckResult {
        name: check.name.clone(),
        kind: check.kind().map_or("invalid", CheckKind::name),
        column: check.column.clone(),
        severity: check.severity,
        where_: check.where_.clone(),
        status: v.status,
        outcome: CheckOutcome::of(v.status, check.severity),
        observed: v.observed,
        expected: v.expected,
        evaluated_rows: row.filter(|_| row_level).map(|r| r.evaluated),
        failing_rows: row.filter(|_| row_level).map(|r| r.failed),
        mostly: check.mostly,
        failing_sample: row.map(|r| r.sample.clone()).unwrap_or_default(),
        message: v.message,
    };
    (result, recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ColumnOptions;
    use crate::result::Outcome;
    use crate::scalar::ColumnKind;
    use ade_api::v1alpha1::Severity;
    use std::collections::BTreeMap;

    fn check(json: serde_json::Value) -> Check {
        serde_json::from_value(json).unwrap()
    }

    fn ctx(records: &[MetricsRecord]) -> Context<'_> {
        Context {
            records,
            current: Current {
                batch_id: "now",
                window_start: Some("2026-11-22T00:00:00Z".parse().unwrap()),
                window_end: Some("2026-11-23T00:00:00Z".parse().unwrap()),
            },
            now: "2026-11-30T00:00:00Z".parse().unwrap(),
        }
    }

    fn rows(n: u64) -> Observed<'static> {
        Observed {
            rows: n,
            column: None,
            row_check: None,
            schema: &[],
            declares_nullability: true,
        }
    }

    fn past(rows: &[u64]) -> Vec<MetricsRecord> {
        rows.iter()
            .enumerate()
            .map(|(i, &n)| MetricsRecord {
                api_version: "v".into(),
                suite: "s".into(),
                batch_id: format!("b{i}"),
                window_start: Some(Timestamp::from_second(1_790_000_000 + i as i64 * 86_400).unwrap()),
                window_end: None,
                recorded_at: Timestamp::UNIX_EPOCH,
                outcome: Outcome::Passed,
                row_count: n,
                columns: BTreeMap::new(),
                checks: BTreeMap::new(),
                schema: Vec::new(),
                sketches: BTreeMap::new(),
            })
            .collect()
    }

    #[test]
    fn table() {
        let history = past(&[100, 102, 98, 101, 99]);
        let short = past(&[100]);
        let mut col = ColumnAccumulator::new(ColumnKind::Integer, ColumnOptions::FULL);
        col.update(&(std::sync::Arc::new(arrow::array::Int64Array::from(vec![Some(1), None, None, Some(4)])) as _))
            .unwrap();
        let with_col = Observed {
            rows: 4,
            column: Some(&col),
            row_check: None,
            schema: &[],
            declares_nullability: true,
        };
        let failing = RowCheckAccumulator {
            evaluated: 1000,
            failed: 2,
            ..Default::default()
        };
        let with_rows = Observed {
            rows: 1000,
            column: None,
            row_check: Some(&failing),
            schema: &[],
            declares_nullability: true,
        };
        let cases: Vec<(&str, serde_json::Value, Observed<'_>, &[MetricsRecord], CheckStatus)> = vec![
            (
                "rows in bounds",
                json!({"name": "a", "rowCount": {"min": 1, "max": 10}}),
                rows(5),
                &[],
                CheckStatus::Passed,
            ),
            (
                "too few rows",
                json!({"name": "a", "rowCount": {"min": 1}}),
                rows(0),
                &[],
                CheckStatus::Failed,
            ),
            (
                "half null",
                json!({"name": "a", "column": "x", "notNull": {"minRatio": 0.6}}),
                with_col,
                &[],
                CheckStatus::Failed,
            ),
            (
                "half null ok",
                json!({"name": "a", "column": "x", "notNull": {"minRatio": 0.5}}),
                with_col,
                &[],
                CheckStatus::Passed,
            ),
            (
                "2 of 1000 fail",
                json!({"name": "a", "column": "x", "range": {"min": 0}}),
                with_rows,
                &[],
                CheckStatus::Failed,
            ),
            (
                "mostly",
                json!({"name": "a", "column": "x", "range": {"min": 0}, "mostly": 0.998}),
                with_rows,
                &[],
                CheckStatus::Passed,
            ),
            (
                "mostly too strict",
                json!({"name": "a", "column": "x", "range": {"min": 0}, "mostly": 0.999}),
                with_rows,
                &[],
                CheckStatus::Failed,
            ),
            (
                "anomaly within",
                json!({"name": "a", "anomaly": {"metric": "rowCount", "stddevs": 2}}),
                rows(100),
                &history,
                CheckStatus::Passed,
            ),
            (
                "anomaly outside",
                json!({"name": "a", "anomaly": {"metric": "rowCount", "stddevs": 2}}),
                rows(120),
                &history,
                CheckStatus::Failed,
            ),
            (
                "anomaly short",
                json!({"name": "a", "anomaly": {"metric": "rowCount"}}),
                rows(100),
                &short,
                CheckStatus::InsufficientHistory,
            ),
            (
                "anomaly last 2 only",
                json!({"name": "a", "anomaly": {"metric": "rowCount", "history": 2, "minHistory": 2, "stddevs": 1}}),
                rows(100),
                &history,
                CheckStatus::Passed,
            ),
            (
                "change ok",
                json!({"name": "a", "change": {"metric": "rowCount", "maxRelative": 0.1}}),
                rows(105),
                &history,
                CheckStatus::Passed,
            ),
            (
                "change too big",
                json!({"name": "a", "change": {"metric": "rowCount", "maxRelative": 0.1}}),
                rows(200),
                &history,
                CheckStatus::Failed,
            ),
            (
                "change no history",
                json!({"name": "a", "change": {"metric": "rowCount", "maxRelative": 0.1}}),
                rows(200),
                &[],
                CheckStatus::InsufficientHistory,
            ),
            (
                "mean metric",
                json!({"name": "a", "column": "x", "change": {"metric": "mean", "maxRelative": 0.1}}),
                with_col,
                &[],
                CheckStatus::InsufficientHistory,
            ),
        ];
        for (name, spec, observed, records, want) in cases {
            let (result, _) = evaluate(&check(spec), observed, ctx(records));
            assert_eq!(result.status, want, "{name}: {}", result.message);
        }
    }

    #[test]
    fn freshness_is_measured_from_the_window_end() {
        let mut col = ColumnAccumulator::new(ColumnKind::Temporal, ColumnOptions::FULL);
        let newest = "2026-11-22T23:00:00Z".parse::<Timestamp>().unwrap().as_microsecond();
        col.update(&(std::sync::Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![newest])) as _))
            .unwrap();
        let observed = Observed {
            rows: 1,
            column: Some(&col),
            row_check: None,
            schema: &[],
            declares_nullability: true,
        };
        for (max_age, want) in [("2h", CheckStatus::Passed), ("30m", CheckStatus::Failed)] {
            let c = check(json!({"name": "f", "column": "t", "freshness": {"maxAge": max_age}, "severity": "warn"}));
            let (result, _) = evaluate(&c, observed, ctx(&[]));
            assert_eq!(result.status, want, "{max_age}");
            assert_eq!(result.severity, Severity::Warn);
        }
    }

    #[test]
    fn unique_over_cap_is_inconclusive() {
        let acc = RowCheckAccumulator {
            cap_exceeded: true,
            ..Default::default()
        };
        let observed = Observed {
            rows: 1,
            column: None,
            row_check: Some(&acc),
            schema: &[],
            declares_nullability: true,
        };
        let (result, _) = evaluate(
            &check(json!({"name": "u", "column": "x", "unique": {}})),
            observed,
            ctx(&[]),
        );
        assert_eq!(
            (result.status, result.outcome),
            (CheckStatus::Inconclusive, CheckOutcome::Warned)
        );
    }

    /// Unit table: the new kinds' verdicts from accumulators and history, without a scan.
    #[test]
    fn nan_distinct_distribution_reference_and_schema_table() {
        use crate::history::CheckSketch;
        use arrow::array::{Float64Array, Int64Array};
        let floats = |values: Vec<Option<f64>>| {
            let mut c = ColumnAccumulator::new(ColumnKind::Float, ColumnOptions::FULL);
            c.update(&(std::sync::Arc::new(Float64Array::from(values)) as _))
                .unwrap();
            c
        };
        let ints = |range: std::ops::Range<i64>| {
            let mut c = ColumnAccumulator::new(ColumnKind::Integer, ColumnOptions::FULL);
            c.update(&(std::sync::Arc::new(Int64Array::from_iter_values(range)) as _))
                .unwrap();
            c
        };
        let nan = floats(vec![Some(1.0), Some(f64::NAN), None, Some(2.0)]);
        let users = ints(0..1000);
        let shifted = ints(500..1500);
        // History: two batches whose distinct-check sketch held ids 0..1000 and 1000..2000,
        // and whose distribution-check sketch held ids 0..1000.
        let mut history = past(&[10, 10]);
        for (i, r) in history.iter_mut().enumerate() {
            let ids = ints(i as i64 * 1000..(i as i64 + 1) * 1000);
            r.sketches.insert(
                "d".into(),
                CheckSketch {
                    kll: Some(users.kll.to_state()),
                    hll: Some(ids.hll.to_state()),
                },
            );
            r.schema = vec![SchemaField {
                name: "id".into(),
                type_: "int32".into(),
                nullable: false,
            }];
        }
        let capped = RowCheckAccumulator {
            cap_exceeded: true,
            ..Default::default()
        };
        let schema = [SchemaField {
            name: "id".into(),
            type_: "int64".into(),
            nullable: false,
        }];
        let observe = |column: Option<&'static ColumnAccumulator>| Observed {
            rows: 4,
            column,
            row_check: None,
            schema: &[],
            declares_nullability: true,
        };
        let nan: &'static ColumnAccumulator = Box::leak(Box::new(nan));
        let users: &'static ColumnAccumulator = Box::leak(Box::new(users));
        let shifted: &'static ColumnAccumulator = Box::leak(Box::new(shifted));
        let cases: Vec<(&str, Value, Observed<'_>, &[MetricsRecord], CheckStatus)> = vec![
            (
                "NaN is missing by default: 2 of 4",
                json!({"name": "n", "column": "x", "notNull": {"minRatio": 0.75}}),
                observe(Some(nan)),
                &[],
                CheckStatus::Failed,
            ),
            (
                "NaN present when told",
                json!({"name": "n", "column": "x", "notNull": {"minRatio": 0.75, "nanIsNull": false}}),
                observe(Some(nan)),
                &[],
                CheckStatus::Passed,
            ),
            (
                "distinct in one batch (HyperLogLog past 128 values)",
                json!({"name": "d", "column": "x", "distinct": {"min": 970, "max": 1030}}),
                observe(Some(users)),
                &[],
                CheckStatus::Passed,
            ),
            (
                "distinct over 3 batches: 0..1000 twice and 1000..2000",
                json!({"name": "d", "column": "x", "distinct": {"min": 1950, "max": 2050, "window": 3}}),
                observe(Some(users)),
                &history,
                CheckStatus::Passed,
            ),
            (
                "distinct window longer than history",
                json!({"name": "d", "column": "x", "distinct": {"min": 1, "window": 4}}),
                observe(Some(users)),
                &history,
                CheckStatus::InsufficientHistory,
            ),
            (
                "same distribution",
                json!({"name": "d", "column": "x", "distribution": {"threshold": 0.05}}),
                observe(Some(users)),
                &history,
                CheckStatus::Passed,
            ),
            (
                "half shifted: KS 0.5",
                json!({"name": "d", "column": "x", "distribution": {"threshold": 0.4}}),
                observe(Some(shifted)),
                &history,
                CheckStatus::Failed,
            ),
            (
                "distribution without history",
                json!({"name": "d", "column": "x", "distribution": {"threshold": 0.4}}),
                observe(Some(shifted)),
                &[],
                CheckStatus::InsufficientHistory,
            ),
            (
                "reference beyond the cap",
                json!({"name": "r", "column": "x", "reference": {"dataset": {"uri": "d"}, "columns": ["id"]}}),
                Observed {
                    row_check: Some(&capped),
                    ..observe(None)
                },
                &[],
                CheckStatus::Inconclusive,
            ),
            (
                "drift only, no history",
                json!({"name": "s", "schema": {"driftFrom": "previous"}}),
                Observed {
                    schema: &schema,
                    ..observe(None)
                },
                &[],
                CheckStatus::InsufficientHistory,
            ),
            (
                "retyped since the previous batch",
                json!({"name": "s", "schema": {"driftFrom": "previous"}}),
                Observed {
                    schema: &schema,
                    ..observe(None)
                },
                &history,
                CheckStatus::Failed,
            ),
            (
                "contract holds",
                json!({"name": "s", "schema": {"columns": [{"name": "id", "type": "int64", "nullable": false}]}}),
                Observed {
                    schema: &schema,
                    ..observe(None)
                },
                &history,
                CheckStatus::Passed,
            ),
        ];
        for (name, spec, observed, records, want) in cases {
            let (result, _) = evaluate(&check(spec), observed, ctx(records));
            assert_eq!(result.status, want, "{name}: {} {}", result.message, result.observed);
        }
    }
}

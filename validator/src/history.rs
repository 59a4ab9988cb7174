//! The metrics history: one record per (suite, batch), stored at
//! `<history>/suite=<name>/batch=<id>/metrics.json`, so a rerun of a batch
//! overwrites exactly its own record. Records keep the scalar metrics history
//! checks compare and the sketch states (HyperLogLog, KLL) so history can be
//! re-aggregated. The pure half selects comparable batches (seasonality) and
//! decides anomaly and change checks; the I/O half reads and writes records.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::profile::stored::TopState;
use crate::result::Outcome;
use crate::schema::SchemaField;
use crate::sketch::hll::HllState;
use crate::sketch::kll::KllState;
use crate::store::{Location, StoreError};
use ade_api::v1alpha1::{HistoryMetric, Seasonality};

/// Version tag of a history record.
pub const METRICS_API_VERSION: &str = "ade.dev/validation-metrics/v1";
/// Newest records read for history checks.
pub const MAX_RECORDS_READ: usize = 2000;

/// One batch's metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsRecord {
    pub api_version: String,
    pub suite: String,
    pub batch_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub outcome: Outcome,
    pub row_count: u64,
    /// Per column, over all rows.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnMetrics>,
    /// Per history check (anomaly, change), the value it compared, by check name.
    #[serde(default)]
    pub checks: BTreeMap<String, f64>,
    /// The dataset's columns: name, logical type, nullable (for schema drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<SchemaField>,
    /// Per distribution or distinct check, the sketch of the rows it looked at
    /// (its `where` view), by check name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sketches: BTreeMap<String, CheckSketch>,
}

/// The sketch a history check keeps of its own rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckSketch {
    /// Quantiles (distribution checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kll: Option<KllState>,
    /// Distinct values (distinct checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hll: Option<HllState>,
}

/// A column's metrics and sketch states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMetrics {
    pub rows: u64,
    pub nulls: u64,
    pub null_ratio: f64,
    pub distinct_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    pub hll: HllState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kll: Option<KllState>,
    /// Frequent values (integer and text columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<TopState>,
}

impl MetricsRecord {
    /// The value a history check named `check` compares, as this batch recorded it:
    /// the check's own value, else the column metric (for checks added later).
    pub fn value(&self, check: &str, metric: HistoryMetric, column: Option<&str>) -> Option<f64> {
        if let Some(v) = self.checks.get(check) {
            return Some(*v);
        }
        if metric == HistoryMetric::RowCount {
            return Some(self.row_count as f64);
        }
        let c = self.columns.get(column?)?;
        match metric {
            HistoryMetric::RowCount => Some(self.row_count as f64),
            HistoryMetric::NullRatio => Some(c.null_ratio),
            HistoryMetric::DistinctCount => Some(c.distinct_count as f64),
            HistoryMetric::Mean => c.mean,
            HistoryMetric::Min => c.min,
            HistoryMetric::Max => c.max,
        }
    }
}

/// The current batch, as history checks see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Current<'a> {
    pub batch_id: &'a str,
    pub window_start: Option<Timestamp>,
    pub window_end: Option<Timestamp>,
}

/// Past records comparable with the current batch, newest first: other batches
/// that started earlier (any batch, if the current one has no window), filtered by
/// seasonality — `daily`: same UTC hour of window start; `weekly`: same weekday,
/// and also the same hour when batches are shorter than a day.
pub fn comparable<'r>(
    records: &'r [MetricsRecord],
    current: Current<'_>,
    seasonality: Seasonality,
) -> Vec<&'r MetricsRecord> {
    let sub_daily = match (current.window_start, current.window_end) {
        (Some(s), Some(e)) => e.duration_since(s) < jiff::SignedDuration::from_hours(24),
        _ => false,
    };
    let mut out: Vec<&MetricsRecord> = records
        .iter()
        .filter(|r| r.batch_id != current.batch_id)
        .filter(|r| match (current.window_start, r.window_start) {
            (Some(now), Some(then)) => then < now,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|r| {
            let (Some(now), Some(then)) = (current.window_start, r.window_start) else {
                return seasonality == Seasonality::None;
            };
            let (now, then) = (
                now.to_zoned(jiff::tz::TimeZone::UTC),
                then.to_zoned(jiff::tz::TimeZone::UTC),
            );
            match seasonality {
                Seasonality::None => true,
                Seasonality::Daily => now.hour() == then.hour(),
                Seasonality::Weekly => now.weekday() == then.weekday() && (!sub_daily || now.hour() == then.hour()),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.window_start
            .cmp(&a.window_start)
            .then_with(|| b.batch_id.cmp(&a.batch_id))
    });
    out
}

/// What an anomaly check decided.
#[derive(Clone, Debug, PartialEq)]
pub enum AnomalyVerdict {
    /// Fewer comparable batches than required.
    InsufficientHistory { have: usize, need: usize },
    /// Mean and standard deviation of the past values, and whether the value lies within k·σ.
    Decided {
        mean: f64,
        stddev: f64,
        lower: f64,
        upper: f64,
        within: bool,
    },
}

/// `value` against the mean ± k·σ (sample standard deviation) of `past`.
pub fn anomaly(value: f64, past: &[f64], stddevs: f64, min_history: usize) -> AnomalyVerdict {
    if past.len() < min_history.max(1) || past.len() < 2 {
        return AnomalyVerdict::InsufficientHistory {
            have: past.len(),
            need: min_history.max(2),
        };
    }
    let n = past.len() as f64;
    let mean = past.iter().sum::<f64>() / n;
    let stddev = (past.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let (lower, upper) = (mean - stddevs * stddev, mean + stddevs * stddev);
    // A tolerance for float noise when the history is constant.
    let eps = 1e-9 * mean.abs().max(1.0);
    AnomalyVerdict::Decided {
        mean,
        stddev,
        lower,
        upper,
        within: value >= lower - eps && value <= upper + eps,
    }
}

/// Relative change from `previous` to `value`: |value − previous| / |previous|
/// (0 when both are 0, infinite when only the previous is 0).
pub fn relative_change(value: f64, previous: f64) -> f64 {
    if previous == 0.0 {
        if value == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (value - previous).abs() / previous.abs()
    }
}

/// Why history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("history record {uri} is not valid JSON: {source}")]
    Decode { uri: String, source: serde_json::Error },
}

/// Where a suite's history lives.
pub fn suite_location(history: &Location, suite: &str) -> Location {
    history.child(&format!("suite={suite}"))
}

/// The record's own object.
pub fn record_location(history: &Location, suite: &str, batch: &str) -> Location {
    history.child(&format!("suite={suite}/batch={batch}/metrics.json"))
}

/// Reads the suite's records (newest batch ids first, at most [`MAX_RECORDS_READ`]).
pub async fn read_records(history: &Location, suite: &str) -> Result<Vec<MetricsRecord>, HistoryError> {
    let base = suite_location(history, suite);
    let mut objects: Vec<_> = base
        .list()
        .await?
        .into_iter()
        .filter(|o| o.location.as_ref().ends_with("/metrics.json"))
        .collect();
    objects.sort_by(|a, b| b.location.cmp(&a.location));
    objects.truncate(MAX_RECORDS_READ);
    futures::stream::iter(objects)
        .map(|o| {
            let location = Location {
                path: o.location.clone(),
                uri: base.uri_of(&o.location),
                ..base.clone()
            };
            async move {
                let Some(bytes) = location.get().await? else {
                    return Ok(None);
                };
                serde_json::from_slice::<MetricsRecord>(&bytes)
                    .map(Some)
                    .map_err(|source| HistoryError::Decode {
                        uri: location.uri.clone(),
                        source,
                    })
            }
        })
        .buffered(16)
        .try_filter_map(|r| async move { Ok(r) })
        .try_collect()
        .await
}

/// Writes (or overwrites) the record of its batch.
pub async fn write_record(history: &Location, record: &MetricsRecord) -> Result<String, HistoryError> {
    let location = record_location(history, &record.suite, &record.batch_id);
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| HistoryError::Decode {
        uri: location.uri.clone(),
        source,
    })?;
    location.put(bytes).await?;
    Ok(location.uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(batch: &str, start: &str, rows: u64) -> MetricsRecord {
        MetricsRecord {
            api_version: METRICS_API_VERSION.into(),
            suite: "s".into(),
            batch_id: batch.into(),
            window_start: Some(start.parse().unwrap()),
            window_end: None,
            recorded_at: start.parse().unwrap(),
            outcome: Outcome::Passed,
            row_count: rows,
            columns: BTreeMap::new(),
            checks: BTreeMap::new(),
            schema: Vec::new(),
            sketches: BTreeMap::new(),
        }
    }

    #[test]
    fn seasonality_table() {
        // 2026-11-01 is a Sunday. Daily batches over three weeks, plus hourly ones on one day.
        let mut records: Vec<MetricsRecord> = (1..=21)
            .map(|d| record(&format!("d{d:02}"), &format!("2026-11-{d:02}T00:00:00Z"), 100))
            .collect();
        records.push(record("h-sun-13", "2026-11-15T13:00:00Z", 5));
        let daily_now = Current {
            batch_id: "d22",
            window_start: Some("2026-11-22T00:00:00Z".parse().unwrap()),
            window_end: Some("2026-11-23T00:00:00Z".parse().unwrap()),
        };
        let hourly_now = Current {
            batch_id: "h",
            window_start: Some("2026-11-22T13:00:00Z".parse().unwrap()),
            window_end: Some("2026-11-22T14:00:00Z".parse().unwrap()),
        };
        let ids = |c: Current<'_>, s| {
            comparable(&records, c, s)
                .iter()
                .map(|r| r.batch_id.clone())
                .collect::<Vec<_>>()
        };
        // A day-long batch matches on weekday only, so the Sunday-13:00 batch counts too.
        assert_eq!(
            ids(daily_now, Seasonality::Weekly),
            vec!["h-sun-13", "d15", "d08", "d01"]
        );
        assert_eq!(ids(daily_now, Seasonality::Daily).len(), 21);
        assert_eq!(ids(daily_now, Seasonality::None).len(), 22);
        assert_eq!(ids(hourly_now, Seasonality::Weekly), vec!["h-sun-13"]);
        assert_eq!(ids(hourly_now, Seasonality::Daily), vec!["h-sun-13"]);
        // The current batch and later batches never count (a rerun or a backfill).
        let rerun = Current {
            batch_id: "d15",
            window_start: records[14].window_start,
            window_end: None,
        };
        assert_eq!(ids(rerun, Seasonality::Weekly), vec!["d08", "d01"]);
    }

    #[test]
    fn anomaly_table() {
        let past = [100.0, 102.0, 98.0, 101.0, 99.0];
        let cases = [
            (100.0, &past[..], 2.0, 3, Some(true)),
            (104.0, &past[..], 2.0, 3, false.into()),
            (104.0, &past[..], 3.0, 3, Some(true)),
            (100.0, &past[..2], 2.0, 3, None),
            (100.0, &[][..], 2.0, 2, None),
            (7.0, &[7.0, 7.0, 7.0][..], 2.0, 3, Some(true)),
            (8.0, &[7.0, 7.0, 7.0][..], 2.0, 3, Some(false)),
        ];
        for (value, past, k, min, want) in cases {
            let got = match anomaly(value, past, k, min) {
                AnomalyVerdict::InsufficientHistory { .. } => None,
                AnomalyVerdict::Decided { within, .. } => Some(within),
            };
            assert_eq!(got, want, "{value} vs {past:?} k={k}");
        }
        let AnomalyVerdict::Decided { mean, stddev, .. } = anomaly(0.0, &past, 1.0, 2) else {
            panic!()
        };
        assert_eq!(mean, 100.0);
        assert!((stddev - 1.5811).abs() < 1e-3);
    }

    #[test]
    fn relative_change_table() {
        let cases = [
            (110.0, 100.0, 0.1),
            (90.0, 100.0, 0.1),
            (0.0, 0.0, 0.0),
            (1.0, 0.0, f64::INFINITY),
            (-5.0, -10.0, 0.5),
        ];
        for (v, p, want) in cases {
            assert!(
                (relative_change(v, p) - want).abs() < 1e-12 || relative_change(v, p) == want,
                "{v} {p}"
            );
        }
    }

    #[test]
    fn record_values_fall_back_to_column_metrics() {
        let mut r = record("b", "2026-11-01T00:00:00Z", 42);
        r.checks.insert("c".into(), 7.0);
        assert_eq!(r.value("c", HistoryMetric::RowCount, None), Some(7.0));
        assert_eq!(r.value("other", HistoryMetric::RowCount, None), Some(42.0));
        assert_eq!(r.value("other", HistoryMetric::Mean, Some("x")), None);
    }
}

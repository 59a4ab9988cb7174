//! The ValidationSuite `.spec` as the validator reads it.
//!
//! These serde types deserialize exactly the JSON the API server stores for a
//! `ValidationSuite` (`operator/src/api/v1alpha1/validation_suite.rs`): the same
//! camelCase names, the same defaults. They are a copy rather than a dependency,
//! so the validator does not pull in kube. A test loads the sample manifest's spec
//! to prove the shapes match. Fields the validator does not use (`trigger`) are
//! accepted and ignored. Nothing here does I/O.

use serde::{Deserialize, Serialize};

/// The suite spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteSpec {
    /// The data to profile and check.
    pub dataset: Dataset,
    /// When the suite runs (the controller's business; kept for round trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<serde_json::Value>,
    /// What to profile.
    #[serde(default)]
    pub profile: Profile,
    /// The checks.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Where results are published.
    #[serde(default)]
    pub publish: Publish,
    /// Who is told when the suite's health changes.
    #[serde(default)]
    pub alerts: Alerts,
}

/// A dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// A file, glob or partition folder, local or `s3://`.
    pub uri: String,
    /// File format.
    #[serde(default)]
    pub format: DatasetFormat,
}

/// File format of a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// Apache Parquet.
    #[default]
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON lines.
    Json,
}

/// What to profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Columns to profile; empty means all.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Quantiles for numeric columns.
    #[serde(default = "default_quantiles")]
    pub quantiles: Vec<f64>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            quantiles: default_quantiles(),
        }
    }
}

fn default_quantiles() -> Vec<f64> {
    vec![0.5, 0.9, 0.99]
}

/// One check; exactly one kind field is set (the API server enforces it, [`Check::kind`] re-checks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Unique name.
    pub name: String,
    /// The column the check is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `error` (default) or `warn`.
    #[serde(default)]
    pub severity: Severity,
    /// Fraction of rows that must pass a row-level check; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mostly: Option<f64>,
    /// SQL filter: only matching rows are checked.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "where")]
    pub where_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<RowCountCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null: Option<NotNullCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<UniqueCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_set: Option<InSetCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<RegexCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeCheck>,
}

/// The one kind a check has, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CheckKind<'a> {
    RowCount(&'a RowCountCheck),
    NotNull(&'a NotNullCheck),
    Unique,
    InSet(&'a InSetCheck),
    Range(&'a RangeCheck),
    Regex(&'a RegexCheck),
    Sql(&'a SqlCheck),
    Freshness(&'a FreshnessCheck),
    Anomaly(&'a AnomalyCheck),
    Change(&'a ChangeCheck),
}

impl Check {
    /// The check's kind, or `None` unless exactly one kind field is set.
    pub fn kind(&self) -> Option<CheckKind<'_>> {
        let kinds = [
            self.row_count.as_ref().map(CheckKind::RowCount),
            self.not_null.as_ref().map(CheckKind::NotNull),
            self.unique.as_ref().map(|_| CheckKind::Unique),
            self.in_set.as_ref().map(CheckKind::InSet),
            self.range.as_ref().map(CheckKind::Range),
            self.regex.as_ref().map(CheckKind::Regex),
            self.sql.as_ref().map(CheckKind::Sql),
            self.freshness.as_ref().map(CheckKind::Freshness),
            self.anomaly.as_ref().map(CheckKind::Anomaly),
            self.change.as_ref().map(CheckKind::Change),
        ];
        let mut set = kinds.into_iter().flatten();
        match (set.next(), set.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    }
}

/// How much a failed check matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowCountCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotNullCheck {
    #[serde(default = "one")]
    pub min_ratio: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UniqueCheck {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InSetCheck {
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegexCheck {
    pub pattern: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SqlCheck {
    pub predicate: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessCheck {
    /// `90s`, `15m`, `2h`, `1h30m` (units ms, s, m, h), as the operator's Duration.
    pub max_age: String,
}

/// Metrics that history checks compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HistoryMetric {
    RowCount,
    NullRatio,
    DistinctCount,
    Mean,
    Min,
    Max,
}

/// Which past batches are comparable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seasonality {
    #[default]
    None,
    Daily,
    Weekly,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyCheck {
    pub metric: HistoryMetric,
    #[serde(default = "default_stddevs")]
    pub stddevs: f64,
    #[serde(default = "default_history_len")]
    pub history: i32,
    #[serde(default = "default_min_history")]
    pub min_history: i32,
    #[serde(default)]
    pub seasonality: Seasonality,
}

fn default_stddevs() -> f64 {
    3.0
}

fn default_history_len() -> i32 {
    10
}

fn default_min_history() -> i32 {
    3
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCheck {
    pub metric: HistoryMetric,
    pub max_relative: f64,
    #[serde(default)]
    pub seasonality: Seasonality,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Publish>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opensearch: Option<OpenSearchPublish>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct S3Publish {
    pub uri: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenSearchPublish {
    pub url: String,
    pub index: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretKeyRef>,
}

/// A Secret key; the validator never reads Secrets itself (the controller mounts them as files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackAlert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsAlert>,
    #[serde(default)]
    pub notify_on: AlertOn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackAlert {
    pub webhook_secret_ref: SecretKeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsAlert {
    pub topic_arn: String,
}

/// When alerts are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertOn {
    #[default]
    Failure,
    Warning,
    Always,
}

/// Parses a duration written like the operator's `Duration` (`90s`, `15m`, `2h`, `1h30m`, `500ms`).
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total = total.checked_add(std::time::Duration::from_millis(value.checked_mul(unit_ms)?))?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_operator() {
        let cases = [
            ("90s", Some(90_000)),
            ("15m", Some(900_000)),
            ("2h", Some(7_200_000)),
            ("1h30m", Some(5_400_000)),
            ("500ms", Some(500)),
            ("", None),
            ("h", None),
            ("10d", None),
            ("5", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input).map(|d| d.as_millis() as u64), want, "{input}");
        }
    }

    #[test]
    fn defaults_match_the_crd() {
        let check: Check = serde_json::from_value(serde_json::json!({
            "name": "a", "anomaly": {"metric": "rowCount"}
        }))
        .unwrap();
        let Some(CheckKind::Anomaly(a)) = check.kind() else {
            panic!("not an anomaly check")
        };
        assert_eq!(
            (a.stddevs, a.history, a.min_history, a.seasonality),
            (3.0, 10, 3, Seasonality::None)
        );
        assert_eq!(check.severity, Severity::Error);
        let nn: NotNullCheck = serde_json::from_str("{}").unwrap();
        assert_eq!(nn.min_ratio, 1.0);
        let spec: SuiteSpec = serde_json::from_str(r#"{"dataset":{"uri":"x"}}"#).unwrap();
        assert_eq!(spec.profile.quantiles, vec![0.5, 0.9, 0.99]);
        assert_eq!(spec.dataset.format, DatasetFormat::Parquet);
        assert_eq!(spec.alerts.notify_on, AlertOn::Failure);
    }

    #[test]
    fn a_check_with_two_kinds_has_no_kind() {
        let check: Check = serde_json::from_value(serde_json::json!({
            "name": "a", "unique": {}, "rowCount": {"min": 1}
        }))
        .unwrap();
        assert_eq!(check.kind(), None);
    }
}

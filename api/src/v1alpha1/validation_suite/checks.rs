//! The checks of a ValidationSuite: one struct per check kind.

#[cfg(feature = "kube")]
use kube::KubeSchema;
#[cfg(feature = "kube")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1alpha1::Duration;

/// One check. Exactly one check kind is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(
    validation = Rule::new("[has(self.rowCount), has(self.notNull), has(self.unique), has(self.inSet), has(self.range), has(self.regex), has(self.sql), has(self.freshness), has(self.anomaly), has(self.change)].filter(x, x).size() == 1").message("set exactly one check kind: rowCount, notNull, unique, inSet, range, regex, sql, freshness, anomaly or change"),
    validation = Rule::new("has(self.column) || !(has(self.notNull) || has(self.unique) || has(self.inSet) || has(self.range) || has(self.regex) || has(self.freshness))").message("notNull, unique, inSet, range, regex and freshness checks need a column")
))]
pub struct Check {
    /// Name of the check, unique within the suite.
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([a-z0-9\-_.]*[a-z0-9])?$"))
    )]
    pub name: String,

    /// The column the check is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub column: Option<String>,

    /// `error` (the default: a failure fails the suite) or `warn`.
    #[serde(default)]
    pub severity: Severity,

    /// Fraction of rows (0 to 1) that must pass a row-level check (inSet, range,
    /// regex, sql); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0, max = 1.0)))]
    pub mostly: Option<f64>,

    /// SQL filter: only rows matching it are checked, e.g. `country = 'DE'`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "where")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 4096)))]
    pub where_: Option<String>,

    /// Bounds on the number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<RowCountCheck>,

    /// The column is mostly not null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null: Option<NotNullCheck>,

    /// Every non-null value of the column is unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<UniqueCheck>,

    /// Every value is one of a set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_set: Option<InSetCheck>,

    /// Every value lies in a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeCheck>,

    /// Every value matches a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<RegexCheck>,

    /// Every row satisfies a SQL predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlCheck>,

    /// The newest timestamp in the column is recent enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessCheck>,

    /// A metric stays within k standard deviations of its history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyCheck>,

    /// A metric changes by at most a fraction since the previous comparable batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeCheck>,
}

/// How much a failed check matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure fails the suite.
    #[default]
    Error,
    /// A failure only warns.
    Warn,
}

/// Bounds on the number of rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("rowCount.min must not exceed rowCount.max")))]
pub struct RowCountCheck {
    /// Fewest rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0)))]
    pub min: Option<i64>,
    /// Most rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0)))]
    pub max: Option<i64>,
}

/// The column is mostly not null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotNullCheck {
    /// Fraction of rows that must be non-null (default 1).
    #[serde(default = "one")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0, max = 1.0)))]
    pub min_ratio: f64,
}

fn one() -> f64 {
    1.0
}

/// Every non-null value is unique.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UniqueCheck {}

/// Every value is one of a set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InSetCheck {
    /// The allowed values, as strings.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 1000)))]
    pub values: Vec<String>,
}

/// Every value lies in a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(
    validation = Rule::new("has(self.min) || has(self.max)").message("range needs min, max or both"),
    validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("range.min must not exceed range.max")
))]
pub struct RangeCheck {
    /// Smallest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// Every value matches a regular expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegexCheck {
    /// The expression (Rust `regex` syntax), anchored by the user, e.g. `^[A-Z]{3}-\d+$`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 1024)))]
    pub pattern: String,
}

/// Every row satisfies a SQL predicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SqlCheck {
    /// A boolean SQL expression over the row, e.g. `total = subtotal + tax`.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 4096)))]
    pub predicate: String,
}

/// The newest timestamp is recent enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FreshnessCheck {
    /// Largest allowed age of the newest value, measured from the batch's window end.
    pub max_age: Duration,
}

/// Metrics that history checks compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum HistoryMetric {
    /// Rows in the batch.
    RowCount,
    /// Null fraction of the column.
    NullRatio,
    /// Approximate distinct values of the column.
    DistinctCount,
    /// Mean of the column.
    Mean,
    /// Minimum of the column.
    Min,
    /// Maximum of the column.
    Max,
}

/// Which past batches are comparable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Seasonality {
    /// Every past batch.
    #[default]
    None,
    /// Batches at the same hour of day.
    Daily,
    /// Batches on the same weekday (and hour, for hourly batches).
    Weekly,
}

/// A metric stays within `stddevs` standard deviations of the mean of the last
/// `history` comparable batches: "rows loaded yesterday within 2σ of the last 10 Sundays".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.minHistory <= self.history").message("anomaly.minHistory must not exceed anomaly.history")))]
pub struct AnomalyCheck {
    /// The metric compared.
    pub metric: HistoryMetric,
    /// Allowed distance from the mean, in standard deviations.
    #[serde(default = "default_stddevs")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0, max = 100.0)))]
    pub stddevs: f64,
    /// Number of comparable past batches used.
    #[serde(default = "default_history_len")]
    #[cfg_attr(feature = "kube", schemars(range(min = 2, max = 1000)))]
    pub history: i32,
    /// Fewest comparable batches needed; with fewer the check reports
    /// `InsufficientHistory` instead of passing or failing.
    #[serde(default = "default_min_history")]
    #[cfg_attr(feature = "kube", schemars(range(min = 2, max = 1000)))]
    pub min_history: i32,
    /// `none`, `daily` or `weekly`: which past batches are comparable.
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

/// A metric changes by at most `maxRelative` since the previous comparable batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChangeCheck {
    /// The metric compared.
    pub metric: HistoryMetric,
    /// Largest allowed relative change, e.g. 0.5 for ±50%.
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0)))]
    pub max_relative: f64,
    /// `none`, `daily` or `weekly`: which past batch is comparable.
    #[serde(default)]
    pub seasonality: Seasonality,
}

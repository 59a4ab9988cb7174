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
    validation = Rule::new("[has(self.rowCount), has(self.notNull), has(self.unique), has(self.inSet), has(self.range), has(self.regex), has(self.sql), has(self.freshness), has(self.anomaly), has(self.change), has(self.schema), has(self.reference), has(self.distribution), has(self.distinct)].filter(x, x).size() == 1").message("set exactly one check kind: rowCount, notNull, unique, inSet, range, regex, sql, freshness, anomaly, change, schema, reference, distribution or distinct"),
    validation = Rule::new("has(self.column) || !(has(self.notNull) || has(self.inSet) || has(self.range) || has(self.regex) || has(self.freshness) || has(self.distribution) || has(self.distinct))").message("notNull, inSet, range, regex, freshness, distribution and distinct checks need a column"),
    validation = Rule::new("!has(self.unique) || (has(self.column) != (has(self.unique.columns) && size(self.unique.columns) > 0))").message("a unique check needs a column, or unique.columns for a compound key, not both"),
    validation = Rule::new("!has(self.reference) || (has(self.column) != (has(self.reference.keys) && size(self.reference.keys) > 0))").message("a reference check needs a column, or reference.keys for a compound key, not both"),
    validation = Rule::new("!has(self.reference) || size(self.reference.columns) == (has(self.column) ? 1 : size(self.reference.keys))").message("reference.columns names one column of the reference dataset per key column"),
    validation = Rule::new("!has(self.schema) || !(has(self.column) || has(self.where) || has(self.mostly))").message("a schema check is about the dataset's columns, not its rows: it takes no column, where or mostly")
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

    /// The dataset's columns and types match a contract, and have not drifted
    /// since the previous batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaCheck>,

    /// Every non-null value (or key) exists in another dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceCheck>,

    /// A numeric column's distribution stays close to that of past batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<DistributionCheck>,

    /// The column's distinct values, in this batch or over a window of
    /// batches, are within bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<DistinctCheck>,
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
    /// Whether a floating-point NaN counts as missing, like a null (default
    /// true: a NaN is usually a division by zero upstream). No effect on other types.
    #[serde(default = "yes", rename = "nanIsNull")]
    pub nan_is_null: bool,
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

/// Every non-null value is unique; or, with `columns`, every compound key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UniqueCheck {
    /// The columns of a compound key, e.g. `[user_id, day]` (instead of the
    /// check's `column`). A row with a null in any of them is not evaluated,
    /// as in a SQL UNIQUE constraint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), inner(length(min = 1, max = 256))))]
    pub columns: Vec<String>,
}

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
    /// Let NaN values pass (default false: a NaN lies in no range).
    #[serde(default, rename = "allowNaN", skip_serializing_if = "std::ops::Not::not")]
    pub allow_nan: bool,
    /// Let +infinity and -infinity pass (default false, even without `max` or `min`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_infinity: bool,
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

/// The dataset's columns and their types match a contract; with `driftFrom:
/// previous`, they also match the previous comparable batch's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("(has(self.columns) && size(self.columns) > 0) || has(self.driftFrom)").message("schema needs columns, driftFrom or both")))]
pub struct SchemaCheck {
    /// The expected columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 1000)))]
    #[cfg_attr(feature = "kube", x_kube(merge_strategy = ListMerge::Map(vec!["name".into()])))]
    pub columns: Vec<SchemaColumn>,
    /// `exact` (the default: these columns and no others), `superset` (at
    /// least these; more are fine) or `subset` (no columns but these; some may be missing).
    #[serde(default)]
    pub mode: SchemaMode,
    /// `previous`: also fail on columns added, removed or retyped since the
    /// previous comparable batch (its schema is in the metrics history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_from: Option<DriftFrom>,
}

/// The logical types a schema contract may name: the CRD's pattern, and what
/// ade-validate checks a spec against.
pub const LOGICAL_TYPE_PATTERN: &str = r"^(boolean|u?int(8|16|32|64)|float(16|32|64)|decimal\([0-9]+,-?[0-9]+\)|string|binary|date|timestamp|timestamptz|time|duration|interval|list|struct|map|union|null)$";

/// An expected column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchemaColumn {
    /// Column name.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub name: String,
    /// Logical type: `boolean`, `int8`…`int64`, `uint8`…`uint64`, `float16`,
    /// `float32`, `float64`, `decimal(p,s)`, `string`, `binary`, `date`,
    /// `timestamp` (no time zone), `timestamptz`, `time`, `duration`,
    /// `interval`, `list`, `struct`, `map`, `union` or `null`. String and binary
    /// layouts (e.g. Arrow `Utf8View`) and time units do not matter. Omit to
    /// check only that the column exists.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = LOGICAL_TYPE_PATTERN)))]
    pub type_: Option<String>,
    /// `false`: the format must declare the column required (Parquet
    /// `REQUIRED`). CSV and JSON declare nothing, so only Parquet is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
}

/// How the dataset's columns must relate to the expected ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SchemaMode {
    /// The expected columns and no others.
    #[default]
    Exact,
    /// At least the expected columns.
    Superset,
    /// Only expected columns (some may be missing).
    Subset,
}

/// What a schema is compared with for drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DriftFrom {
    /// The previous comparable batch (by window start).
    Previous,
}

/// Every non-null value of the column (or every key of `keys`) exists in
/// `columns` of another dataset, read in full before the scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("!has(self.dataset.fromJob)").message("a reference dataset is read as written, one for every batch: give it a uri, not fromJob").field_path(".dataset")))]
pub struct ReferenceCheck {
    /// The reference dataset, e.g. `s3://lake/dim/customers/` (no templates).
    pub dataset: super::Dataset,
    /// Its columns the values must be found in, one per key column.
    #[cfg_attr(
        feature = "kube",
        schemars(length(min = 1, max = 16), inner(length(min = 1, max = 256)))
    )]
    pub columns: Vec<String>,
    /// This dataset's key columns, for a compound key (instead of the check's `column`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), inner(length(min = 1, max = 256))))]
    pub keys: Vec<String>,
}

/// How two distributions are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DistributionStatistic {
    /// Kolmogorov–Smirnov distance: the largest gap between the two
    /// cumulative distributions, 0 (same) to 1 (disjoint).
    #[default]
    Ks,
    /// Population stability index over the history's deciles: 0 is stable;
    /// by convention above 0.1 is a moderate and above 0.25 a major shift.
    Psi,
}

/// A numeric column's distribution (its quantile sketch) stays within
/// `threshold` of the merged sketches of the last `history` comparable batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(validation = Rule::new("self.minHistory <= self.history").message("distribution.minHistory must not exceed distribution.history")))]
pub struct DistributionCheck {
    /// `ks` (the default) or `psi`.
    #[serde(default)]
    pub statistic: DistributionStatistic,
    /// Largest allowed value of the statistic, e.g. 0.1 for KS or 0.25 for PSI.
    #[cfg_attr(feature = "kube", schemars(range(min = 0.0)))]
    pub threshold: f64,
    /// Number of comparable past batches merged into the reference distribution.
    #[serde(default = "default_history_len")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub history: i32,
    /// Fewest comparable batches needed; with fewer the check reports
    /// `InsufficientHistory` instead of passing or failing.
    #[serde(default = "default_distribution_min_history")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub min_history: i32,
    /// `none`, `daily` or `weekly`: which past batches are comparable.
    #[serde(default)]
    pub seasonality: Seasonality,
}

fn default_distribution_min_history() -> i32 {
    1
}

/// The column's distinct count — over this batch and the previous `window − 1`
/// comparable batches, from their merged HyperLogLogs — lies within bounds:
/// "at least 10,000 distinct users over the last 7 days".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(KubeSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "kube", x_kube(
    validation = Rule::new("has(self.min) || has(self.max)").message("distinct needs min, max or both"),
    validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("distinct.min must not exceed distinct.max")
))]
pub struct DistinctCheck {
    /// Fewest distinct values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0)))]
    pub min: Option<i64>,
    /// Most distinct values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(range(min = 0)))]
    pub max: Option<i64>,
    /// Batches counted together, this one included (default 1). With fewer
    /// comparable past batches in history the check reports `InsufficientHistory`.
    #[serde(default = "one_batch")]
    #[cfg_attr(feature = "kube", schemars(range(min = 1, max = 1000)))]
    pub window: i32,
    /// `none`, `daily` or `weekly`: which past batches are comparable.
    #[serde(default)]
    pub seasonality: Seasonality,
}

fn one_batch() -> i32 {
    1
}

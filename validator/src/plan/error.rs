//! What can be wrong with a suite spec for a dataset, found before any data is read.

use ade_api::v1alpha1::Seasonality;

/// A problem with the spec for this dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{check}: unknown column {column:?}; the dataset has: {available}")]
    UnknownColumn {
        check: String,
        column: String,
        available: String,
    },
    #[error("check {check}: set exactly one check kind")]
    NoSingleKind { check: String },
    #[error("check {check}: a {kind} check needs a column")]
    MissingColumn { check: String, kind: &'static str },
    #[error("check {check}: {kind} needs {expected}, but column {column:?} is {data_type}")]
    TypeMismatch {
        check: String,
        kind: &'static str,
        column: String,
        data_type: String,
        expected: &'static str,
    },
    #[error("check {check}: invalid regex {pattern:?}: {message}")]
    InvalidRegex {
        check: String,
        pattern: String,
        message: String,
    },
    #[error("check {check}: invalid SQL {what} {sql:?}: {message}")]
    InvalidSql {
        check: String,
        what: &'static str,
        sql: String,
        message: String,
    },
    #[error("check {check}: SQL {what} {sql:?} is {data_type}, not boolean")]
    NotBoolean {
        check: String,
        what: &'static str,
        sql: String,
        data_type: String,
    },
    #[error("check {check}: {message}")]
    InvalidValue { check: String, message: String },
    #[error("check {check}: seasonality {seasonality:?} needs the batch window (--window-start and --window-end)")]
    NeedsWindow { check: String, seasonality: Seasonality },
    #[error("duplicate check name {check:?}")]
    DuplicateName { check: String },
}

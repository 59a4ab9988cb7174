//! Rules of the newer check kinds beyond their column lookups: a reference
//! check's other dataset, a schema contract's shape and types, the bounds and
//! history of distinct and distribution checks.

use arrow::datatypes::DataType;

use super::PlanError;
use crate::scalar::ColumnKind;
use crate::schema;
use ade_api::v1alpha1::{Check, DistinctCheck, DistributionCheck, ReferenceCheck, SchemaCheck, Seasonality};

fn invalid(check: &str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidValue {
        check: check.into(),
        message: message.into(),
    }
}

/// A schema check: about columns, so no column, `where` or `mostly`; something
/// to compare; logical type names only.
pub(super) fn schema_problems(name: &str, check: &Check, s: &SchemaCheck) -> Vec<PlanError> {
    let mut out = Vec::new();
    if check.where_.is_some() || check.mostly.is_some() || check.column.is_some() {
        out.push(invalid(
            name,
            "a schema check is about the dataset's columns, not its rows: it takes no column, where or mostly",
        ));
    }
    if s.columns.is_empty() && s.drift_from.is_none() {
        out.push(invalid(name, "schema needs columns, driftFrom or both"));
    }
    for c in &s.columns {
        if let Some(t) = c.type_.as_deref().filter(|t| !schema::is_logical_type(t)) {
            out.push(invalid(
                name,
                format!(
                    "column {:?}: {t:?} is not a logical type (int64, float64, string, decimal(12,2), timestamp, …)",
                    c.name
                ),
            ));
        }
    }
    out
}

/// A distinct check: bounds in order; a seasonal window needs the batch's window.
pub(super) fn distinct_problems(name: &str, d: &DistinctCheck, has_window: bool) -> Vec<PlanError> {
    let mut out = Vec::new();
    if d.min.zip(d.max).is_some_and(|(a, b)| a > b) || (d.min.is_none() && d.max.is_none()) {
        out.push(invalid(name, "distinct needs min, max or both, min not above max"));
    }
    if d.window > 1 && d.seasonality != Seasonality::None && !has_window {
        out.push(PlanError::NeedsWindow {
            check: name.into(),
            seasonality: d.seasonality,
        });
    }
    out
}

/// A distribution check: a threshold and history lengths in order; seasonality needs the window.
pub(super) fn distribution_problems(name: &str, d: &DistributionCheck, has_window: bool) -> Vec<PlanError> {
    let mut out = Vec::new();
    if d.threshold < 0.0 || d.min_history < 1 || d.history < d.min_history {
        out.push(invalid(
            name,
            "distribution needs threshold ≥ 0 and 1 ≤ minHistory ≤ history",
        ));
    }
    if d.seasonality != Seasonality::None && !has_window {
        out.push(PlanError::NeedsWindow {
            check: name.into(),
            seasonality: d.seasonality,
        });
    }
    out
}

/// What is wrong with a reference check's reference side: its columns must
/// exist in the reference dataset, one per key column, of the same kinds.
pub(super) fn reference_problems(
    check: &str,
    reference: &ReferenceCheck,
    key_kinds: &[ColumnKind],
    fields: Option<&Vec<(String, DataType)>>,
    errors: &mut Vec<PlanError>,
) {
    let uri = &reference.dataset.uri;
    let Some(fields) = fields else {
        errors.push(PlanError::InvalidValue {
            check: check.into(),
            message: format!("the reference dataset {uri} was not read"),
        });
        return;
    };
    if reference.columns.len() != key_kinds.len() {
        errors.push(PlanError::InvalidValue {
            check: check.into(),
            message: format!(
                "{} key columns but {} reference.columns: name one column of {uri} per key column",
                key_kinds.len(),
                reference.columns.len()
            ),
        });
        return;
    }
    for (column, kind) in reference.columns.iter().zip(key_kinds) {
        match fields.iter().find(|f| &f.0 == column) {
            None => errors.push(PlanError::UnknownColumn {
                check: format!("check {check}: reference dataset {uri}"),
                column: column.clone(),
                available: fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", "),
            }),
            Some((_, data_type)) if ColumnKind::of(data_type) != *kind => errors.push(PlanError::InvalidValue {
                check: check.into(),
                message: format!(
                    "reference column {column:?} of {uri} is {data_type}, which cannot equal a {kind:?} key column"
                ),
            }),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: serde_json::Value) -> Check {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn each_rule_names_what_is_wrong() {
        // (check, has a batch window, problems expected)
        let cases = [
            (
                json!({"name": "s", "schema": {"columns": [{"name": "id", "type": "int64"}]}}),
                false,
                0,
            ),
            (
                json!({"name": "s", "where": "x > 1", "schema": {"driftFrom": "previous"}}),
                false,
                1,
            ),
            (json!({"name": "s", "schema": {}}), false, 1),
            (
                json!({"name": "s", "schema": {"columns": [{"name": "id", "type": "varchar"}]}}),
                false,
                1,
            ),
            (
                json!({"name": "d", "column": "u", "distinct": {"min": 5, "max": 2}}),
                true,
                1,
            ),
            (
                json!({"name": "d", "column": "u", "distinct": {"min": 5, "window": 7, "seasonality": "weekly"}}),
                false,
                1,
            ),
            (
                json!({"name": "d", "column": "u", "distinct": {"min": 5, "window": 7, "seasonality": "weekly"}}),
                true,
                0,
            ),
            (
                json!({"name": "p", "column": "a", "distribution": {"threshold": -1, "history": 2, "minHistory": 3}}),
                true,
                1,
            ),
            (
                json!({"name": "p", "column": "a", "distribution": {"threshold": 0.1, "seasonality": "daily"}}),
                false,
                1,
            ),
        ];
        for (spec, has_window, want) in cases {
            let c = check(spec.clone());
            let got = match (&c.schema, &c.distinct, &c.distribution) {
                (Some(s), _, _) => schema_problems(&c.name, &c, s),
                (_, Some(d), _) => distinct_problems(&c.name, d, has_window),
                (_, _, Some(d)) => distribution_problems(&c.name, d, has_window),
                _ => unreachable!(),
            };
            assert_eq!(got.len(), want, "{spec}: {got:?}");
        }
    }
}

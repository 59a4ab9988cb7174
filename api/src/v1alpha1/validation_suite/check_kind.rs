//! The one kind a [`Check`] has. The API server enforces "exactly one kind
//! field is set" with a CEL rule; [`Check::kind`] is the same rule for the
//! readers of a spec (ade-validate), which never trust it blindly.

use super::checks::{
    AnomalyCheck, ChangeCheck, Check, DistinctCheck, DistributionCheck, FreshnessCheck, InSetCheck, NotNullCheck,
    RangeCheck, ReferenceCheck, RegexCheck, RowCountCheck, SchemaCheck, SqlCheck, UniqueCheck,
};

/// The one kind a check has, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CheckKind<'a> {
    RowCount(&'a RowCountCheck),
    NotNull(&'a NotNullCheck),
    Unique(&'a UniqueCheck),
    InSet(&'a InSetCheck),
    Range(&'a RangeCheck),
    Regex(&'a RegexCheck),
    Sql(&'a SqlCheck),
    Freshness(&'a FreshnessCheck),
    Anomaly(&'a AnomalyCheck),
    Change(&'a ChangeCheck),
    Schema(&'a SchemaCheck),
    Reference(&'a ReferenceCheck),
    Distribution(&'a DistributionCheck),
    Distinct(&'a DistinctCheck),
}

impl CheckKind<'_> {
    /// The kind's field name in the spec, e.g. `rowCount`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RowCount(_) => "rowCount",
            Self::NotNull(_) => "notNull",
            Self::Unique(_) => "unique",
            Self::InSet(_) => "inSet",
            Self::Range(_) => "range",
            Self::Regex(_) => "regex",
            Self::Sql(_) => "sql",
            Self::Freshness(_) => "freshness",
            Self::Anomaly(_) => "anomaly",
            Self::Change(_) => "change",
            Self::Schema(_) => "schema",
            Self::Reference(_) => "reference",
            Self::Distribution(_) => "distribution",
            Self::Distinct(_) => "distinct",
        }
    }
}

impl Check {
    /// The check's kind, or `None` unless exactly one kind field is set.
    pub fn kind(&self) -> Option<CheckKind<'_>> {
        let kinds = [
            self.row_count.as_ref().map(CheckKind::RowCount),
            self.not_null.as_ref().map(CheckKind::NotNull),
            self.unique.as_ref().map(CheckKind::Unique),
            self.in_set.as_ref().map(CheckKind::InSet),
            self.range.as_ref().map(CheckKind::Range),
            self.regex.as_ref().map(CheckKind::Regex),
            self.sql.as_ref().map(CheckKind::Sql),
            self.freshness.as_ref().map(CheckKind::Freshness),
            self.anomaly.as_ref().map(CheckKind::Anomaly),
            self.change.as_ref().map(CheckKind::Change),
            self.schema.as_ref().map(CheckKind::Schema),
            self.reference.as_ref().map(CheckKind::Reference),
            self.distribution.as_ref().map(CheckKind::Distribution),
            self.distinct.as_ref().map(CheckKind::Distinct),
        ];
        let mut set = kinds.into_iter().flatten();
        match (set.next(), set.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::v1alpha1::{AlertOn, DatasetFormat, NotNullCheck, Seasonality, Severity, ValidationSuiteSpec};

    use super::*;

    fn check(value: serde_json::Value) -> Check {
        serde_json::from_value(value).expect("a check")
    }

    #[test]
    fn defaults_are_the_crds() {
        let check = check(json!({"name": "a", "anomaly": {"metric": "rowCount"}}));
        let Some(CheckKind::Anomaly(a)) = check.kind() else {
            panic!("not an anomaly check")
        };
        assert_eq!(
            (a.stddevs, a.history, a.min_history, a.seasonality),
            (3.0, 10, 3, Seasonality::None)
        );
        assert_eq!(check.severity, Severity::Error);
        let nn: NotNullCheck = serde_json::from_str("{}").expect("notNull");
        assert_eq!(nn.min_ratio, 1.0);
        let spec: ValidationSuiteSpec =
            serde_json::from_str(r#"{"dataset":{"uri":"x"},"trigger":{"schedule":"@daily"}}"#).expect("spec");
        assert_eq!(spec.profile.quantiles, vec![0.5, 0.9, 0.99]);
        assert_eq!(spec.dataset.format, DatasetFormat::Parquet);
        assert_eq!(spec.alerts.notify_on, AlertOn::Failure);
    }

    #[test]
    fn a_check_with_two_kinds_has_no_kind() {
        assert_eq!(
            check(json!({"name": "a", "unique": {}, "rowCount": {"min": 1}})).kind(),
            None
        );
        assert_eq!(check(json!({"name": "a"})).kind(), None);
    }

    #[test]
    fn a_kind_is_named_like_its_field() {
        let c = check(json!({"name": "a", "column": "c", "inSet": {"values": ["x"]}}));
        let kind = c.kind().expect("one kind");
        assert_eq!(kind.name(), "inSet");
        let field = serde_json::to_value(&c).expect("json");
        assert!(field.get(kind.name()).is_some(), "{field}");
    }
}

//! The suite types (ade-api's, as ade-validate reads them) read the JSON of the
//! sample manifest's spec (converted from
//! manifests/samples/validationsuite-sessions.yaml) exactly.

use ade_api::v1alpha1::{
    AlertOn, CheckKind, DatasetFormat, DistributionStatistic, DriftFrom, HistoryMetric, SchemaMode, Seasonality,
    Severity, ValidationSuiteSpec as SuiteSpec,
};

#[test]
fn sample_manifest_spec_deserializes() {
    let text = include_str!("fixtures/validationsuite-sessions.spec.json");
    let spec: SuiteSpec = serde_json::from_str(text).unwrap();
    assert_eq!(spec.dataset.uri, "s3://acme-lake/model/sessions/dt={{batch.id}}/");
    assert_eq!(spec.dataset.format, DatasetFormat::Parquet);
    assert_eq!(spec.profile.quantiles, vec![0.5, 0.9, 0.99]);
    let kinds: Vec<&str> = spec.checks.iter().map(|c| c.kind().unwrap().name()).collect();
    assert_eq!(
        kinds,
        [
            "rowCount",
            "notNull",
            "unique",
            "inSet",
            "range",
            "regex",
            "sql",
            "anomaly",
            "unique",
            "reference",
            "schema",
            "distinct",
            "distribution"
        ]
    );
    assert_eq!(spec.checks[1].severity, Severity::Warn);
    assert_eq!(spec.checks[5].mostly, Some(0.999));
    let Some(CheckKind::Anomaly(a)) = spec.checks[7].kind() else {
        panic!()
    };
    assert_eq!(
        (a.metric, a.stddevs, a.history, a.min_history, a.seasonality),
        (HistoryMetric::RowCount, 2.0, 10, 3, Seasonality::Weekly)
    );
    let Some(CheckKind::Regex(r)) = spec.checks[5].kind() else {
        panic!()
    };
    assert_eq!(r.pattern, r"^[A-Z]{3}-\d+$");
    let Some(CheckKind::Unique(u)) = spec.checks[8].kind() else {
        panic!()
    };
    assert_eq!(u.columns, ["user_id", "started_at"]);
    let Some(CheckKind::Schema(s)) = spec.checks[10].kind() else {
        panic!()
    };
    assert_eq!(
        (s.mode, s.drift_from),
        (SchemaMode::Superset, Some(DriftFrom::Previous))
    );
    assert_eq!(s.columns[0].nullable, Some(false));
    let Some(CheckKind::Distinct(w)) = spec.checks[11].kind() else {
        panic!()
    };
    assert_eq!((w.min, w.max, w.window), (Some(10000), None, 7));
    let Some(CheckKind::Distribution(d)) = spec.checks[12].kind() else {
        panic!()
    };
    assert_eq!(
        (d.statistic, d.threshold, d.history, d.min_history),
        (DistributionStatistic::Ks, 0.1, 7, 1)
    );
    let Some(CheckKind::NotNull(n)) = spec.checks[1].kind() else {
        panic!()
    };
    assert!(n.nan_is_null, "NaN is missing data by default");
    assert_eq!(spec.publish.s3.unwrap().uri, "s3://acme-quality/results/");
    assert_eq!(
        spec.alerts.sns.unwrap().topic_arn,
        "arn:aws:sns:us-east-1:123456789012:data-quality"
    );
    assert_eq!(spec.alerts.notify_on, AlertOn::Failure);
    // Serializing and reading back is lossless.
    let again: SuiteSpec = serde_json::from_str(text).unwrap();
    let round: SuiteSpec = serde_json::from_value(serde_json::to_value(&again).unwrap()).unwrap();
    assert_eq!(round, again);
}

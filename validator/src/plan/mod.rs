//! Compiles a suite spec against the dataset's schema into one scan: the
//! projection DataFusion evaluates (needed columns, then one boolean column per
//! distinct SQL predicate or `where` filter), the [`ScanPlan`] the accumulators
//! follow, and for each check where its numbers will be. Every problem a spec can
//! have against this dataset (unknown column, wrong type, bad regex or SQL, bad
//! duration, …) is found here, before any data is read; all of them are reported.
//! Parses SQL with DataFusion but does no I/O.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use crate::footer::FooterStats;
use crate::profile::ColumnOptions;
use crate::rowcheck::RowTest;
use crate::scalar::{ColumnKind, Scalar};
use crate::scan::ScanPlan;

mod draft;
mod error;
mod rules;

use ade_api::v1alpha1::{CheckKind, HistoryMetric, Seasonality, ValidationSuiteSpec};
use draft::{COUNTS_ONLY, DraftCheck, DraftView};
pub use error::PlanError;
use rules::reference_problems;

/// Where a check's numbers are after the scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    pub view: usize,
    /// Index into the view's columns.
    pub column: Option<usize>,
    /// Index into the view's row checks.
    pub row_check: Option<usize>,
}

/// The compiled suite.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// What to select from the dataset, in batch order.
    pub projection: Vec<Expr>,
    pub scan: ScanPlan,
    /// Profiled columns: name, Arrow type and index into view 0's columns.
    pub profile: Vec<(String, DataType, usize)>,
    /// One per spec check, in order.
    pub bindings: Vec<Binding>,
    /// The reference checks' sets to load before the scan.
    pub references: Vec<ReferenceLoad>,
}

/// A reference check's set, read from its dataset before the scan and put into
/// the row check at `scan.views[view].row_checks[row_check]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceLoad {
    /// Index of the check in the spec.
    pub check: usize,
    pub view: usize,
    pub row_check: usize,
    /// The reference dataset's key columns, in key order.
    pub columns: Vec<String>,
}

/// Inputs to [`compile`].
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    pub spec: &'a ValidationSuiteSpec,
    pub schema: &'a DFSchema,
    /// Columns whose min and max Parquet footers answer (view 0 then skips computing them).
    pub footer: Option<&'a FooterStats>,
    pub has_window: bool,
    pub unique_cap: usize,
    /// Each reference check's dataset columns (name and type), by check name.
    pub references: &'a HashMap<String, Vec<(String, DataType)>>,
}

/// Compiles the spec; `Err` lists every problem found.
pub fn compile(input: PlanInput<'_>, ctx: &SessionContext) -> Result<Compiled, Vec<PlanError>> {
    let mut errors = Vec::new();
    let fields: Vec<(String, DataType)> = input
        .schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let available = fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", ");
    let lookup = |check: &str, column: &str, errors: &mut Vec<PlanError>| -> Option<(DataType, ColumnKind)> {
        let found = fields
            .iter()
            .find(|f| f.0 == column)
            .map(|f| (f.1.clone(), ColumnKind::of(&f.1)));
        if found.is_none() {
            errors.push(PlanError::UnknownColumn {
                check: check.to_owned(),
                column: column.to_owned(),
                available: available.clone(),
            });
        }
        found
    };
    let footer_answers = |column: &str| {
        input
            .footer
            .and_then(|f| f.columns.get(column))
            // A footer's float statistics may hold infinities (and, from some writers, NaN);
            // the profile's exclude them, so only finite bounds answer.
            .is_some_and(|c| {
                c.min.as_ref().is_some_and(Scalar::is_finite) && c.max.as_ref().is_some_and(Scalar::is_finite)
            })
    };

    // Computed boolean columns, by SQL text.
    let mut computed: Vec<(String, Expr)> = Vec::new();
    let mut sql_column = |check: &str, what: &'static str, sql: &str, errors: &mut Vec<PlanError>| {
        if let Some(i) = computed.iter().position(|c| c.0 == sql) {
            return Some((format!("__ade_expr_{i}"), column_refs(&computed[i].1)));
        }
        let expr = match ctx.parse_sql_expr(sql, input.schema) {
            Ok(expr) => expr,
            Err(e) => {
                errors.push(PlanError::InvalidSql {
                    check: check.to_owned(),
                    what,
                    sql: sql.to_owned(),
                    message: e.to_string(),
                });
                return None;
            }
        };
        match expr.get_type(input.schema) {
            Ok(DataType::Boolean) => {}
            Ok(other) => {
                errors.push(PlanError::NotBoolean {
                    check: check.to_owned(),
                    what,
                    sql: sql.to_owned(),
                    data_type: other.to_string(),
                });
                return None;
            }
            Err(e) => {
                errors.push(PlanError::InvalidSql {
                    check: check.to_owned(),
                    what,
                    sql: sql.to_owned(),
                    message: e.to_string(),
                });
                return None;
            }
        }
        let refs = column_refs(&expr);
        let name = format!("__ade_expr_{}", computed.len());
        computed.push((sql.to_owned(), expr.alias(name.clone())));
        Some((name, refs))
    };

    // View 0: every row; the profile lives there.
    let mut views: Vec<DraftView> = vec![DraftView::default()];
    let mut profile = Vec::new();
    let profiled: Vec<String> = if input.spec.profile.columns.is_empty() {
        fields.iter().map(|f| f.0.clone()).collect()
    } else {
        input.spec.profile.columns.clone()
    };
    for q in &input.spec.profile.quantiles {
        if !(0.0..=1.0).contains(q) {
            errors.push(PlanError::InvalidValue {
                check: "profile".into(),
                message: format!("quantile {q} is not between 0 and 1"),
            });
        }
    }
    for name in &profiled {
        if let Some((data_type, kind)) = lookup("profile", name, &mut errors) {
            let options = ColumnOptions {
                min_max: !footer_answers(name),
                ..ColumnOptions::FULL
            };
            let index = views[0].column(name, kind, options);
            profile.push((name.clone(), data_type, index));
        }
    }

    let mut bindings = Vec::new();
    let mut references = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, check) in input.spec.checks.iter().enumerate() {
        let name = check.name.as_str();
        let mut binding = Binding::default();
        if !names.insert(name) {
            errors.push(PlanError::DuplicateName { check: name.to_owned() });
        }
        let Some(kind) = check.kind() else {
            errors.push(PlanError::NoSingleKind { check: name.to_owned() });
            bindings.push(binding);
            continue;
        };
        if let Some(mostly) = check.mostly
            && !(0.0..=1.0).contains(&mostly)
        {
            errors.push(PlanError::InvalidValue {
                check: name.to_owned(),
                message: format!("mostly {mostly} is not between 0 and 1"),
            });
        }
        let kind_name = kind.name();
        // The view: all rows, or the rows the where filter keeps.
        if let Some(filter) = &check.where_ {
            match sql_column(name, "where filter", filter, &mut errors) {
                Some((column, _)) => {
                    binding.view = match views.iter().position(|v| v.filter.as_deref() == Some(column.as_str())) {
                        Some(i) => i,
                        None => {
                            views.push(DraftView {
                                filter: Some(column),
                                ..Default::default()
                            });
                            views.len() - 1
                        }
                    };
                }
                None => {
                    bindings.push(binding);
                    continue;
                }
            }
        }
        let compound = match kind {
            CheckKind::Unique(u) if !u.columns.is_empty() => Some(&u.columns),
            CheckKind::Reference(r) if !r.keys.is_empty() => Some(&r.keys),
            _ => None,
        };
        let needs_column = !matches!(
            kind,
            CheckKind::RowCount(_)
                | CheckKind::Sql(_)
                | CheckKind::Anomaly(_)
                | CheckKind::Change(_)
                | CheckKind::Schema(_)
        ) && compound.is_none();
        if compound.is_some() && check.column.is_some() {
            errors.push(PlanError::InvalidValue {
                check: name.into(),
                message: format!("set column or {kind_name}'s key columns, not both"),
            });
        }
        let metric = match kind {
            CheckKind::Anomaly(a) => Some(a.metric),
            CheckKind::Change(c) => Some(c.metric),
            _ => None,
        };
        let needs_column = needs_column || metric.is_some_and(|m| m != HistoryMetric::RowCount);
        let column = match (&check.column, needs_column) {
            (Some(c), true) => match lookup(name, c, &mut errors) {
                Some((data_type, kind)) => Some((c.clone(), data_type, kind)),
                None => {
                    bindings.push(binding);
                    continue;
                }
            },
            (None, true) => {
                errors.push(PlanError::MissingColumn {
                    check: name.to_owned(),
                    kind: kind_name,
                });
                bindings.push(binding);
                continue;
            }
            (_, false) => None,
        };
        let mismatch = |expected: &'static str| {
            let (column, data_type, _) = column.clone().unwrap_or_default_column();
            PlanError::TypeMismatch {
                check: name.to_owned(),
                kind: kind_name,
                column,
                data_type: data_type.to_string(),
                expected,
            }
        };
        let view = binding.view;
        let in_view0 = view == 0;
        let col_kind = column.as_ref().map(|c| c.2);
        let row_check = |views: &mut Vec<DraftView>, test: RowTest, column: String, sample: Vec<String>| {
            let key = match &test {
                RowTest::Unique { .. } | RowTest::Reference { .. } => sample.clone(),
                _ => Vec::new(),
            };
            views[view].checks.push(DraftCheck {
                column,
                test,
                sample,
                key,
            });
            Some(views[view].checks.len() - 1)
        };
        match kind {
            CheckKind::RowCount(r) => {
                if let (Some(min), Some(max)) = (r.min, r.max)
                    && min > max
                {
                    errors.push(PlanError::InvalidValue {
                        check: name.into(),
                        message: "rowCount.min exceeds max".into(),
                    });
                }
            }
            CheckKind::NotNull(n) => {
                if !(0.0..=1.0).contains(&n.min_ratio) {
                    errors.push(PlanError::InvalidValue {
                        check: name.into(),
                        message: format!("notNull.minRatio {} is not between 0 and 1", n.min_ratio),
                    });
                }
                if let Some((c, _, k)) = &column {
                    binding.column = Some(views[view].column(c, *k, COUNTS_ONLY));
                }
            }
            CheckKind::InSet(s) => {
                if col_kind == Some(ColumnKind::Other) {
                    errors.push(mismatch("a column of scalar values"));
                } else if let Some((c, _, _)) = &column {
                    let test = RowTest::InSet(s.values.iter().cloned().collect());
                    binding.row_check = row_check(&mut views, test, c.clone(), vec![c.clone()]);
                }
            }
            CheckKind::Unique(_) | CheckKind::Reference(_) => {
                // The key: the check's column, or the compound key's columns.
                let mut key = Vec::new();
                let mut kinds = Vec::new();
                for c in compound.map_or_else(|| column.iter().map(|c| c.0.clone()).collect(), Clone::clone) {
                    if let Some((data_type, k)) = lookup(name, &c, &mut errors) {
                        if k == ColumnKind::Other {
                            errors.push(PlanError::TypeMismatch {
                                check: name.to_owned(),
                                kind: kind_name,
                                column: c.clone(),
                                data_type: data_type.to_string(),
                                expected: "a column of scalar values",
                            });
                        }
                        kinds.push(k);
                        key.push(c);
                    }
                }
                if key.is_empty() || kinds.len() != key.len() {
                    bindings.push(binding);
                    continue;
                }
                let test = match kind {
                    CheckKind::Reference(r) => {
                        reference_problems(name, r, &kinds, input.references.get(name), &mut errors);
                        RowTest::Reference {
                            key: Vec::new(),
                            set: Default::default(),
                        }
                    }
                    _ => RowTest::Unique {
                        cap: input.unique_cap,
                        key: Vec::new(),
                    },
                };
                binding.row_check = row_check(&mut views, test, key[0].clone(), key);
                if let CheckKind::Reference(r) = kind {
                    references.push(ReferenceLoad {
                        check: index,
                        view,
                        row_check: binding.row_check.unwrap_or_default(),
                        columns: r.columns.clone(),
                    });
                }
            }
            CheckKind::Schema(s) => errors.extend(rules::schema_problems(name, check, s)),
            CheckKind::Distinct(d) => {
                errors.extend(rules::distinct_problems(name, d, input.has_window));
                if col_kind == Some(ColumnKind::Other) {
                    errors.push(mismatch("a column of scalar values"));
                } else if let Some((c, _, k)) = &column {
                    binding.column = Some(views[view].column(c, *k, COUNTS_ONLY));
                }
            }
            CheckKind::Distribution(d) => {
                errors.extend(rules::distribution_problems(name, d, input.has_window));
                if !col_kind.is_some_and(ColumnKind::is_numeric) {
                    errors.push(mismatch("a numeric column"));
                } else if let Some((c, _, k)) = &column {
                    let options = ColumnOptions {
                        numeric: true,
                        ..COUNTS_ONLY
                    };
                    binding.column = Some(views[view].column(c, *k, options));
                }
            }
            CheckKind::Range(r) => {
                if !col_kind.is_some_and(ColumnKind::is_numeric) {
                    errors.push(mismatch("a numeric column"));
                } else if r.min.is_none() && r.max.is_none() {
                    errors.push(PlanError::InvalidValue {
                        check: name.into(),
                        message: "range needs min, max or both".into(),
                    });
                } else if let (Some((c, _, _)), min, max) = (&column, r.min, r.max) {
                    if min.zip(max).is_some_and(|(a, b)| a > b) {
                        errors.push(PlanError::InvalidValue {
                            check: name.into(),
                            message: "range.min exceeds max".into(),
                        });
                    }
                    let test = RowTest::Range {
                        min,
                        max,
                        allow_nan: r.allow_nan,
                        allow_infinity: r.allow_infinity,
                    };
                    binding.row_check = row_check(&mut views, test, c.clone(), vec![c.clone()]);
                }
            }
            CheckKind::Regex(r) => {
                if col_kind != Some(ColumnKind::Text) {
                    errors.push(mismatch("a text column"));
                } else {
                    match regex::Regex::new(&r.pattern) {
                        Ok(re) => {
                            if let Some((c, _, _)) = &column {
                                binding.row_check =
                                    row_check(&mut views, RowTest::Regex(re), c.clone(), vec![c.clone()]);
                            }
                        }
                        Err(e) => errors.push(PlanError::InvalidRegex {
                            check: name.into(),
                            pattern: r.pattern.clone(),
                            message: e.to_string(),
                        }),
                    }
                }
            }
            CheckKind::Sql(s) => {
                if let Some((computed_name, refs)) = sql_column(name, "predicate", &s.predicate, &mut errors) {
                    binding.row_check = row_check(&mut views, RowTest::Predicate, computed_name, refs);
                }
            }
            CheckKind::Freshness(f) => {
                if let Err(e) = f.max_age.to_std() {
                    errors.push(PlanError::InvalidValue {
                        check: name.into(),
                        message: format!("maxAge: {e}"),
                    });
                }
                if col_kind != Some(ColumnKind::Temporal) {
                    errors.push(mismatch("a timestamp or date column"));
                } else if let Some((c, _, k)) = &column {
                    let options = ColumnOptions {
                        min_max: !(in_view0 && footer_answers(c)),
                        ..COUNTS_ONLY
                    };
                    binding.column = Some(views[view].column(c, *k, options));
                }
            }
            CheckKind::Anomaly(_) | CheckKind::Change(_) => {
                let (seasonality, metric) = match kind {
                    CheckKind::Anomaly(a) => {
                        if a.min_history < 1 || a.history < a.min_history || a.stddevs < 0.0 {
                            errors.push(PlanError::InvalidValue {
                                check: name.into(),
                                message: "anomaly needs 1 ≤ minHistory ≤ history and stddevs ≥ 0".into(),
                            });
                        }
                        (a.seasonality, a.metric)
                    }
                    CheckKind::Change(c) => {
                        if c.max_relative < 0.0 {
                            errors.push(PlanError::InvalidValue {
                                check: name.into(),
                                message: "maxRelative must be ≥ 0".into(),
                            });
                        }
                        (c.seasonality, c.metric)
                    }
                    _ => (Seasonality::None, HistoryMetric::RowCount),
                };
                if seasonality != Seasonality::None && !input.has_window {
                    errors.push(PlanError::NeedsWindow {
                        check: name.into(),
                        seasonality,
                    });
                }
                if let Some((c, _, k)) = &column {
                    let options = match metric {
                        HistoryMetric::Mean if !k.is_numeric() => {
                            errors.push(mismatch("a numeric column for metric mean"));
                            COUNTS_ONLY
                        }
                        HistoryMetric::Min | HistoryMetric::Max if !(k.is_numeric() || *k == ColumnKind::Temporal) => {
                            errors.push(mismatch("a numeric or timestamp column for metric min/max"));
                            COUNTS_ONLY
                        }
                        HistoryMetric::Mean => ColumnOptions {
                            numeric: true,
                            ..COUNTS_ONLY
                        },
                        HistoryMetric::Min | HistoryMetric::Max => ColumnOptions {
                            min_max: !(in_view0 && footer_answers(c)),
                            ..COUNTS_ONLY
                        },
                        _ => COUNTS_ONLY,
                    };
                    binding.column = Some(views[view].column(c, *k, options));
                }
            }
        }
        bindings.push(binding);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let (projection, scan) = draft::lay_out(&fields, &views, computed);
    Ok(Compiled {
        projection,
        scan,
        profile,
        bindings,
        references,
    })
}

trait DefaultColumn {
    fn unwrap_or_default_column(self) -> (String, DataType, ColumnKind);
}

impl DefaultColumn for Option<(String, DataType, ColumnKind)> {
    fn unwrap_or_default_column(self) -> (String, DataType, ColumnKind) {
        self.unwrap_or_else(|| (String::new(), DataType::Null, ColumnKind::Other))
    }
}

/// Names of the columns an expression reads, sorted.
fn column_refs(expr: &Expr) -> Vec<String> {
    let mut refs: Vec<String> = expr.column_refs().into_iter().map(|c| c.name.clone()).collect();
    refs.sort();
    refs.dedup();
    refs
}

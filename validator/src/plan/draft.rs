//! The plan while it is being compiled (views with their columns and row checks,
//! named by column) and how it becomes the scan's layout (named by index).

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion::logical_expr::Expr;
use datafusion::prelude::ident;

use crate::profile::ColumnOptions;
use crate::rowcheck::{RowCheck, RowTest};
use crate::scalar::ColumnKind;
use crate::scan::{ColumnPlan, ScanPlan, ViewPlan};

pub(super) struct DraftCheck {
    pub(super) column: String,
    pub(super) test: RowTest,
    pub(super) sample: Vec<String>,
    /// Key columns of a unique or reference check (their indexes go into the test).
    pub(super) key: Vec<String>,
}

#[derive(Default)]
pub(super) struct DraftView {
    pub(super) filter: Option<String>,
    pub(super) columns: Vec<(String, ColumnKind, ColumnOptions)>,
    pub(super) checks: Vec<DraftCheck>,
}

impl DraftView {
    pub(super) fn column(&mut self, name: &str, kind: ColumnKind, options: ColumnOptions) -> usize {
        if let Some(i) = self.columns.iter().position(|c| c.0 == name) {
            let o = &mut self.columns[i].2;
            o.min_max |= options.min_max;
            o.numeric |= options.numeric;
            o.top |= options.top;
            return i;
        }
        self.columns.push((name.to_owned(), kind, options));
        self.columns.len() - 1
    }
}

pub(super) const COUNTS_ONLY: ColumnOptions = ColumnOptions {
    min_max: false,
    numeric: false,
    top: false,
};

/// The batch layout — needed dataset columns in schema order, then the computed
/// columns — and the scan plan with every column named by its index in it.
pub(super) fn lay_out(
    fields: &[(String, DataType)],
    views: &[DraftView],
    computed: Vec<(String, Expr)>,
) -> (Vec<Expr>, ScanPlan) {
    let mut needed: Vec<&str> = Vec::new();
    for v in views {
        needed.extend(v.columns.iter().map(|c| c.0.as_str()));
        for c in &v.checks {
            needed.push(c.column.as_str());
            needed.extend(c.sample.iter().map(String::as_str));
        }
    }
    let mut layout: Vec<String> = fields
        .iter()
        .filter(|f| needed.contains(&f.0.as_str()))
        .map(|f| f.0.clone())
        .collect();
    let mut projection: Vec<Expr> = layout.iter().map(|n| ident(n.as_str())).collect();
    for (i, (_, expr)) in computed.into_iter().enumerate() {
        layout.push(format!("__ade_expr_{i}"));
        projection.push(expr);
    }
    let index: HashMap<&str, usize> = layout.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let at = |n: &str| index.get(n).copied().unwrap_or_default();
    let scan = ScanPlan {
        views: views
            .iter()
            .map(|v| ViewPlan {
                filter: v.filter.as_deref().map(at),
                columns: v
                    .columns
                    .iter()
                    .map(|(n, kind, options)| ColumnPlan {
                        name: n.clone(),
                        index: at(n),
                        kind: *kind,
                        options: *options,
                    })
                    .collect(),
                row_checks: v
                    .checks
                    .iter()
                    .map(|c| RowCheck {
                        column: at(&c.column),
                        test: match &c.test {
                            RowTest::Unique { cap, .. } => RowTest::Unique {
                                cap: *cap,
                                key: c.key.iter().map(|k| at(k)).collect(),
                            },
                            RowTest::Reference { set, .. } => RowTest::Reference {
                                key: c.key.iter().map(|k| at(k)).collect(),
                                set: set.clone(),
                            },
                            other => other.clone(),
                        },
                        sample_columns: c.sample.iter().map(|s| (at(s), s.clone())).collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    (projection, scan)
}

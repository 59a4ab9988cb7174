//! The single pass: a [`ScanPlan`] says which columns and row-level checks each
//! "view" of the data feeds (view 0 is every row; each other view is the rows a
//! `where` filter keeps), and a [`ScanAccumulator`] folds record batches into it.
//! One accumulator per partition; they merge at the end. Pure: no I/O.

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::error::ArrowError;

use crate::profile::{ColumnAccumulator, ColumnOptions};
use crate::rowcheck::{RowCheck, RowCheckAccumulator, RowTest};
use crate::scalar::ColumnKind;

/// A column a view summarizes.
#[derive(Clone, Debug)]
pub struct ColumnPlan {
    pub name: String,
    /// Index in the scanned batch.
    pub index: usize,
    pub kind: ColumnKind,
    pub options: ColumnOptions,
}

/// The rows a view sees and what it computes over them.
#[derive(Clone, Debug, Default)]
pub struct ViewPlan {
    /// Index of the boolean `where` column in the scanned batch; `None` for all rows.
    pub filter: Option<usize>,
    pub columns: Vec<ColumnPlan>,
    pub row_checks: Vec<RowCheck>,
}

/// Everything one scan computes.
#[derive(Clone, Debug, Default)]
pub struct ScanPlan {
    pub views: Vec<ViewPlan>,
}

/// Running state of one view.
#[derive(Clone, Debug)]
pub struct ViewAccumulator {
    pub rows: u64,
    pub columns: Vec<ColumnAccumulator>,
    pub checks: Vec<RowCheckAccumulator>,
}

/// Running state of a scan.
#[derive(Clone, Debug)]
pub struct ScanAccumulator {
    pub views: Vec<ViewAccumulator>,
}

impl ScanAccumulator {
    /// Empty state for a plan.
    pub fn new(plan: &ScanPlan) -> Self {
        Self {
            views: plan
                .views
                .iter()
                .map(|v| ViewAccumulator {
                    rows: 0,
                    columns: v
                        .columns
                        .iter()
                        .map(|c| ColumnAccumulator::new(c.kind, c.options))
                        .collect(),
                    checks: v.row_checks.iter().map(|_| RowCheckAccumulator::default()).collect(),
                })
                .collect(),
        }
    }

    /// Folds one batch in.
    pub fn update(&mut self, plan: &ScanPlan, batch: &RecordBatch) -> Result<(), ArrowError> {
        for (view, acc) in plan.views.iter().zip(&mut self.views) {
            let filtered;
            let rows = match view.filter {
                Some(i) => {
                    filtered = filter_record_batch(batch, batch.column(i).as_boolean())?;
                    &filtered
                }
                None => batch,
            };
            acc.rows += rows.num_rows() as u64;
            for (column, state) in view.columns.iter().zip(&mut acc.columns) {
                state.update(rows.column(column.index))?;
            }
            for (check, state) in view.row_checks.iter().zip(&mut acc.checks) {
                state.update(check, rows)?;
            }
        }
        Ok(())
    }

    /// Folds in another partition's state for the same plan.
    pub fn merge(&mut self, plan: &ScanPlan, other: Self) {
        for ((view, acc), other) in plan.views.iter().zip(&mut self.views).zip(other.views) {
            acc.rows += other.rows;
            for (state, other) in acc.columns.iter_mut().zip(&other.columns) {
                state.merge(other);
            }
            for ((check, state), other) in view.row_checks.iter().zip(&mut acc.checks).zip(other.checks) {
                let cap = match check.test {
                    RowTest::Unique { cap, .. } => Some(cap),
                    _ => None,
                };
                state.merge(other, cap);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, BooleanArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn views_filter_rows_and_partitions_merge() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("w", DataType::Boolean, true),
        ]));
        let batch = |xs: Vec<i64>, ws: Vec<Option<bool>>| {
            let cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(xs)), Arc::new(BooleanArray::from(ws))];
            RecordBatch::try_new(schema.clone(), cols).unwrap()
        };
        let column = ColumnPlan {
            name: "x".into(),
            index: 0,
            kind: ColumnKind::Integer,
            options: ColumnOptions::FULL,
        };
        let range = RowCheck {
            column: 0,
            test: RowTest::Range {
                min: Some(2.0),
                max: None,
                allow_nan: false,
                allow_infinity: false,
            },
            sample_columns: vec![(0, "x".into())],
        };
        let plan = ScanPlan {
            views: vec![
                ViewPlan {
                    filter: None,
                    columns: vec![column.clone()],
                    row_checks: vec![range.clone()],
                },
                ViewPlan {
                    filter: Some(1),
                    columns: vec![column],
                    row_checks: vec![range],
                },
            ],
        };
        let mut a = ScanAccumulator::new(&plan);
        a.update(&plan, &batch(vec![1, 2, 3], vec![Some(true), Some(false), None]))
            .unwrap();
        let mut b = ScanAccumulator::new(&plan);
        b.update(&plan, &batch(vec![4, 0], vec![Some(true), Some(true)]))
            .unwrap();
        a.merge(&plan, b);
        assert_eq!((a.views[0].rows, a.views[1].rows), (5, 3));
        assert_eq!((a.views[0].checks[0].failed, a.views[1].checks[0].failed), (2, 2));
        assert!((a.views[1].columns[0].moments.mean().unwrap() - 5.0 / 3.0).abs() < 1e-12);
    }
}

//! Row-level checks (inSet, range, regex, sql predicate, unique) as accumulators
//! over Arrow arrays: each counts the rows it evaluated and the rows that failed,
//! and keeps a bounded sample of failing rows. Mergeable across partitions. Null
//! values are not evaluated by column checks (notNull covers them); a SQL predicate
//! fails a row only when it is false (NULL passes, as in a SQL CHECK constraint).
//! Pure apart from Arrow kernels: no I/O.

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use regex::Regex;
use serde_json::{Map, Value};

use crate::profile::normalize;
use crate::scalar::ColumnKind;
use crate::sketch::hash::{IdentityBuild, hash_bytes, hash_f64, hash_u64};

/// Failing rows kept per check.
pub const SAMPLE_SIZE: usize = 10;

/// What a row-level check tests; the column is an index into the scanned batch.
#[derive(Clone, Debug)]
pub enum RowTest {
    /// The value's text is one of these.
    InSet(HashSet<String>),
    /// The value (as a number) lies within the bounds, inclusive.
    Range { min: Option<f64>, max: Option<f64> },
    /// The text matches.
    Regex(Regex),
    /// The boolean column (a computed SQL predicate) is not false.
    Predicate,
    /// No value repeats. Exact, on 64-bit hashes, up to `cap` distinct values.
    Unique { cap: usize },
}

/// A row-level check bound to the scanned batch's layout.
#[derive(Clone, Debug)]
pub struct RowCheck {
    /// Index of the tested column in the scanned batch.
    pub column: usize,
    pub test: RowTest,
    /// Columns shown in failing-row samples (indexes into the scanned batch, with names).
    pub sample_columns: Vec<(usize, String)>,
}

/// The running outcome of one row-level check.
#[derive(Clone, Debug, Default)]
pub struct RowCheckAccumulator {
    pub evaluated: u64,
    pub failed: u64,
    pub sample: Vec<Map<String, Value>>,
    pub(crate) seen: HashSet<u64, IdentityBuild>,
    /// The exact uniqueness set hit its cap; the check cannot decide.
    pub cap_exceeded: bool,
}

impl RowCheckAccumulator {
    /// Evaluates the check on one batch.
    pub fn update(&mut self, check: &RowCheck, batch: &RecordBatch) -> Result<(), ArrowError> {
        let array = batch.column(check.column);
        let failing: Vec<usize> = match &check.test {
            RowTest::InSet(values) => {
                let text = as_text(array)?;
                let a = text.as_string_view();
                (0..a.len())
                    .filter(|&i| a.is_valid(i) && !values.contains(a.value(i)))
                    .collect()
            }
            RowTest::Range { min, max } => {
                let numbers = cast(array, &DataType::Float64)?;
                let a = numbers.as_primitive::<Float64Type>();
                let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
                (0..a.len())
                    .filter(|&i| a.is_valid(i) && !(lo..=hi).contains(&a.value(i)))
                    .collect()
            }
            RowTest::Regex(re) => {
                let text = as_text(array)?;
                let a = text.as_string_view();
                (0..a.len())
                    .filter(|&i| a.is_valid(i) && !re.is_match(a.value(i)))
                    .collect()
            }
            RowTest::Predicate => {
                let a = array.as_boolean();
                (0..a.len()).filter(|&i| a.is_valid(i) && !a.value(i)).collect()
            }
            RowTest::Unique { cap } => self.update_unique(array, *cap)?,
        };
        self.evaluated += match &check.test {
            RowTest::Predicate => array.len(),
            _ => array.len() - array.null_count(),
        } as u64;
        self.failed += failing.len() as u64;
        if self.sample.len() < SAMPLE_SIZE {
            let formatters: Vec<(&String, ArrayFormatter<'_>)> = check
                .sample_columns
                .iter()
                .map(|(i, name)| {
                    Ok((
                        name,
                        ArrayFormatter::try_new(batch.column(*i), &FormatOptions::default())?,
                    ))
                })
                .collect::<Result<_, ArrowError>>()?;
            for &row in failing.iter().take(SAMPLE_SIZE - self.sample.len()) {
                let mut object = Map::new();
                for (name, f) in &formatters {
                    object.insert((*name).clone(), Value::String(f.value(row).to_string()));
                }
                self.sample.push(object);
            }
        }
        Ok(())
    }

    fn update_unique(&mut self, array: &ArrayRef, cap: usize) -> Result<Vec<usize>, ArrowError> {
        let mut failing = Vec::new();
        if self.cap_exceeded {
            return Ok(failing);
        }
        let mut check = |i: usize, h: u64| {
            if !self.seen.insert(h) {
                failing.push(i);
            }
        };
        let kind = ColumnKind::of(array.data_type());
        let values = normalize(array, kind)?;
        match kind {
            ColumnKind::Integer => {
                let a = values.as_primitive::<Int64Type>();
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .for_each(|i| check(i, hash_u64(a.value(i) as u64)));
            }
            ColumnKind::Float => {
                let a = values.as_primitive::<Float64Type>();
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .for_each(|i| check(i, hash_f64(a.value(i))));
            }
            ColumnKind::Temporal => {
                let a = values.as_primitive::<TimestampMicrosecondType>();
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .for_each(|i| check(i, hash_u64(a.value(i) as u64)));
            }
            _ => {
                let text = as_text(array)?;
                let a = text.as_string_view();
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .for_each(|i| check(i, hash_bytes(a.value(i).as_bytes())));
            }
        }
        if self.seen.len() > cap {
            self.cap_exceeded = true;
            self.seen = HashSet::default();
        }
        Ok(failing)
    }

    /// Folds in the same check's accumulator from another partition. Values repeated
    /// across partitions count as failures too (without a sample row).
    pub fn merge(&mut self, mut other: Self, cap: Option<usize>) {
        self.evaluated += other.evaluated;
        self.failed += other.failed;
        let room = SAMPLE_SIZE.saturating_sub(self.sample.len());
        self.sample.extend(other.sample.drain(..).take(room));
        self.cap_exceeded |= other.cap_exceeded;
        if let Some(cap) = cap {
            if self.cap_exceeded {
                self.seen = HashSet::default();
                return;
            }
            let (mut big, small) = if self.seen.len() >= other.seen.len() {
                (std::mem::take(&mut self.seen), other.seen)
            } else {
                (other.seen, std::mem::take(&mut self.seen))
            };
            for h in small {
                if !big.insert(h) {
                    self.failed += 1;
                }
            }
            if big.len() > cap {
                self.cap_exceeded = true;
            } else {
                self.seen = big;
            }
        }
    }
}

/// Any column as text in one layout (numbers formatted as Arrow casts them).
fn as_text(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    if array.data_type() == &DataType::Utf8View {
        Ok(array.clone())
    } else {
        cast(array, &DataType::Utf8View)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(column: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("c", column.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![column]).unwrap()
    }

    fn run(test: RowTest, batches: &[ArrayRef]) -> RowCheckAccumulator {
        let check = RowCheck {
            column: 0,
            test: test.clone(),
            sample_columns: vec![(0, "c".into())],
        };
        let cap = matches!(test, RowTest::Unique { .. }).then_some(100);
        let mut total = RowCheckAccumulator::default();
        for b in batches {
            let mut part = RowCheckAccumulator::default();
            part.update(&check, &batch(b.clone())).unwrap();
            total.merge(part, cap);
        }
        total
    }

    #[test]
    fn table() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec![Some("new"), Some("odd"), None, Some("paid")]));
        let numbers: ArrayRef = Arc::new(Float64Array::from(vec![Some(-1.0), Some(0.0), None, Some(5.0)]));
        let skus: ArrayRef = Arc::new(StringArray::from(vec!["ABC-1", "abc-2", "XYZ-33"]));
        let predicate: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(2), None]));
        let set = |v: &[&str]| RowTest::InSet(v.iter().map(|s| s.to_string()).collect());
        // (name, test, batches, evaluated, failed, sample)
        type Case<'a> = (&'a str, RowTest, Vec<ArrayRef>, u64, u64, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("inSet", set(&["new", "paid"]), vec![strings.clone()], 3, 1, vec!["odd"]),
            (
                "inSet numbers as text",
                set(&["0", "5"]),
                vec![ids.clone()],
                3,
                3,
                vec!["1", "2", "2"],
            ),
            (
                "range min",
                RowTest::Range {
                    min: Some(0.0),
                    max: None,
                },
                vec![numbers.clone()],
                3,
                1,
                vec!["-1.0"],
            ),
            (
                "range both",
                RowTest::Range {
                    min: Some(0.0),
                    max: Some(1.0),
                },
                vec![numbers],
                3,
                2,
                vec!["-1.0", "5.0"],
            ),
            (
                "regex",
                RowTest::Regex(Regex::new(r"^[A-Z]{3}-\d+$").unwrap()),
                vec![skus],
                3,
                1,
                vec!["abc-2"],
            ),
            (
                "predicate: null passes",
                RowTest::Predicate,
                vec![predicate],
                3,
                1,
                vec!["false"],
            ),
            (
                "unique within a batch",
                RowTest::Unique { cap: 100 },
                vec![ids.clone()],
                3,
                1,
                vec!["2"],
            ),
            (
                "unique across partitions",
                RowTest::Unique { cap: 100 },
                vec![ids.clone(), ids],
                6,
                4,
                vec!["2", "2"],
            ),
        ];
        for (name, test, batches, evaluated, failed, sample) in cases {
            let acc = run(test, &batches);
            assert_eq!((acc.evaluated, acc.failed), (evaluated, failed), "{name}");
            let got: Vec<&str> = acc.sample.iter().map(|row| row["c"].as_str().unwrap()).collect();
            assert_eq!(got, sample, "{name}");
        }
    }

    #[test]
    fn samples_are_bounded_and_unique_has_a_cap() {
        let many: ArrayRef = Arc::new(Int64Array::from((0..100).map(|i| i % 3).collect::<Vec<i64>>()));
        let acc = run(
            RowTest::Range {
                min: Some(10.0),
                max: None,
            },
            &[many],
        );
        assert_eq!((acc.failed, acc.sample.len()), (100, SAMPLE_SIZE));
        let distinct: ArrayRef = Arc::new(Int64Array::from((0..500).collect::<Vec<i64>>()));
        let acc = run(RowTest::Unique { cap: 100 }, &[distinct]);
        assert!(acc.cap_exceeded);
    }
}

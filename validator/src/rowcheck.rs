//! Row-level checks (inSet, range, regex, sql predicate, unique) as accumulators
//! over Arrow arrays: each counts the rows it evaluated and the rows that failed,
//! and keeps a bounded sample of failing rows. Mergeable across partitions. Null
//! values are not evaluated by column checks (notNull covers them); a SQL predicate
//! fails a row only when it is false (NULL passes, as in a SQL CHECK constraint).
//! Pure apart from Arrow kernels: no I/O.

use std::collections::HashSet;
use std::sync::Arc;

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
    /// The value (as a number) lies within the bounds, inclusive. NaN and
    /// ±infinity fail unless allowed (an open bound does not admit infinity).
    Range {
        min: Option<f64>,
        max: Option<f64>,
        allow_nan: bool,
        allow_infinity: bool,
    },
    /// The text matches.
    Regex(Regex),
    /// The boolean column (a computed SQL predicate) is not false.
    Predicate,
    /// No key (the values of the `key` columns, indexes into the scanned batch)
    /// repeats. Exact, on 64-bit hashes, up to `cap` distinct keys.
    Unique { cap: usize, key: Vec<usize> },
    /// Every key is in the reference dataset's set of keys.
    Reference { key: Vec<usize>, set: Arc<ReferenceSet> },
}

/// The keys of a reference dataset, hashed as [`key_hashes`] hashes them.
#[derive(Clone, Debug, Default)]
pub struct ReferenceSet {
    pub keys: HashSet<u64, IdentityBuild>,
    /// Rows read from the reference dataset.
    pub rows: u64,
    /// More than the cap of distinct keys: the check cannot decide.
    pub cap_exceeded: bool,
}

impl ReferenceSet {
    /// Adds the non-null keys of one batch of the reference's key columns;
    /// past `cap` distinct keys, drops them all and marks the set exceeded.
    pub fn extend(&mut self, columns: &[&ArrayRef], cap: usize) -> Result<(), ArrowError> {
        self.rows += columns.first().map_or(0, |c| c.len()) as u64;
        if self.cap_exceeded {
            return Ok(());
        }
        let (keys, valid) = key_hashes(columns)?;
        self.keys
            .extend(keys.iter().zip(&valid).filter(|(_, v)| **v).map(|(k, _)| *k));
        if self.keys.len() > cap {
            self.cap_exceeded = true;
            self.keys = HashSet::default();
        }
        Ok(())
    }
}

/// A row-level check bound to the scanned batch's layout.
#[derive(Clone, Debug)]
pub struct RowCheck {
    /// Index of the tested column in the scanned batch (the first key column
    /// of a unique or reference check).
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
    /// The exact set (of a unique check, or the reference's) hit its cap; the check cannot decide.
    pub cap_exceeded: bool,
}

impl RowCheckAccumulator {
    /// Evaluates the check on one batch.
    pub fn update(&mut self, check: &RowCheck, batch: &RecordBatch) -> Result<(), ArrowError> {
        let array = batch.column(check.column);
        let non_null = (array.len() - array.null_count()) as u64;
        let (evaluated, failing): (u64, Vec<usize>) = match &check.test {
            RowTest::InSet(values) => {
                let text = as_text(array)?;
                let a = text.as_string_view();
                let failing = (0..a.len())
                    .filter(|&i| a.is_valid(i) && !values.contains(a.value(i)))
                    .collect();
                (non_null, failing)
            }
            RowTest::Range {
                min,
                max,
                allow_nan,
                allow_infinity,
            } => {
                let numbers = cast(array, &DataType::Float64)?;
                let a = numbers.as_primitive::<Float64Type>();
                let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
                let passes = |v: f64| {
                    if v.is_nan() {
                        *allow_nan
                    } else if v.is_infinite() {
                        *allow_infinity
                    } else {
                        (lo..=hi).contains(&v)
                    }
                };
                let failing = (0..a.len()).filter(|&i| a.is_valid(i) && !passes(a.value(i))).collect();
                (non_null, failing)
            }
            RowTest::Regex(re) => {
                let text = as_text(array)?;
                let a = text.as_string_view();
                let failing = (0..a.len())
                    .filter(|&i| a.is_valid(i) && !re.is_match(a.value(i)))
                    .collect();
                (non_null, failing)
            }
            RowTest::Predicate => {
                let a = array.as_boolean();
                let failing = (0..a.len()).filter(|&i| a.is_valid(i) && !a.value(i)).collect();
                (array.len() as u64, failing)
            }
            RowTest::Unique { cap, key } if key.len() <= 1 => (non_null, self.update_unique(array, *cap)?),
            RowTest::Unique { cap, key } => self.update_unique_key(&columns(batch, key), *cap)?,
            RowTest::Reference { key, set } => {
                if set.cap_exceeded {
                    self.cap_exceeded = true;
                    (0, Vec::new())
                } else {
                    let (keys, valid) = key_hashes(&columns(batch, key))?;
                    let evaluated = valid.iter().filter(|v| **v).count() as u64;
                    let failing = (0..keys.len())
                        .filter(|&i| valid[i] && !set.keys.contains(&keys[i]))
                        .collect();
                    (evaluated, failing)
                }
            }
        };
        self.evaluated += evaluated;
        self.failed += failing.len() as u64;
        if self.sample.len() < SAMPLE_SIZE && !failing.is_empty() {
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

    /// The fraction of evaluated rows that passed (1 when none was evaluated).
    pub fn passing_ratio(&self) -> f64 {
        if self.evaluated == 0 {
            1.0
        } else {
            (self.evaluated - self.failed) as f64 / self.evaluated as f64
        }
    }

    fn update_unique(&mut self, array: &ArrayRef, cap: usize) -> Result<Vec<usize>, ArrowError> {
        let mut failing = Vec::new();
        if self.cap_exceeded {
            return Ok(failing);
        }
        let seen = &mut self.seen;
        for_each_hash(array, |i, h| {
            if !seen.insert(h) {
                failing.push(i);
            }
        })?;
        self.check_cap(cap);
        Ok(failing)
    }

    /// A compound key: rows with a null in any key column are not evaluated.
    fn update_unique_key(&mut self, columns: &[&ArrayRef], cap: usize) -> Result<(u64, Vec<usize>), ArrowError> {
        let (keys, valid) = key_hashes(columns)?;
        let evaluated = valid.iter().filter(|v| **v).count() as u64;
        let mut failing = Vec::new();
        if self.cap_exceeded {
            return Ok((evaluated, failing));
        }
        for (i, key) in keys.into_iter().enumerate() {
            if valid[i] && !self.seen.insert(key) {
                failing.push(i);
            }
        }
        self.check_cap(cap);
        Ok((evaluated, failing))
    }

    fn check_cap(&mut self, cap: usize) {
        if self.seen.len() > cap {
            self.cap_exceeded = true;
            self.seen = HashSet::default();
        }
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

fn columns<'b>(batch: &'b RecordBatch, key: &[usize]) -> Vec<&'b ArrayRef> {
    key.iter().map(|&i| batch.column(i)).collect()
}

/// Calls `f(row, hash)` for each non-null value, hashed by the column's kind
/// (integers of any width alike, timestamps and dates in microseconds, other
/// values by their text), so equal values in columns of different layouts match.
fn for_each_hash(array: &ArrayRef, mut f: impl FnMut(usize, u64)) -> Result<(), ArrowError> {
    let kind = ColumnKind::of(array.data_type());
    let values = normalize(array, kind)?;
    match kind {
        ColumnKind::Integer => {
            let a = values.as_primitive::<Int64Type>();
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .for_each(|i| f(i, hash_u64(a.value(i) as u64)));
        }
        ColumnKind::Float => {
            let a = values.as_primitive::<Float64Type>();
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .for_each(|i| f(i, hash_f64(a.value(i))));
        }
        ColumnKind::Temporal => {
            let a = values.as_primitive::<TimestampMicrosecondType>();
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .for_each(|i| f(i, hash_u64(a.value(i) as u64)));
        }
        _ => {
            let text = as_text(array)?;
            let a = text.as_string_view();
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .for_each(|i| f(i, hash_bytes(a.value(i).as_bytes())));
        }
    }
    Ok(())
}

/// One 64-bit hash per row for the key made of `columns` (in order), and
/// whether the row has a value in every key column.
pub fn key_hashes(columns: &[&ArrayRef]) -> Result<(Vec<u64>, Vec<bool>), ArrowError> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut keys = vec![0u64; rows];
    let mut valid = vec![true; rows];
    for array in columns {
        if let Some(nulls) = array.logical_nulls() {
            for (v, present) in valid.iter_mut().zip(nulls.iter()) {
                *v &= present;
            }
        }
        for_each_hash(array, |i, h| keys[i] = hash_u64(keys[i].rotate_left(29) ^ h))?;
    }
    Ok((keys, valid))
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

    fn range(min: Option<f64>, max: Option<f64>) -> RowTest {
        RowTest::Range {
            min,
            max,
            allow_nan: false,
            allow_infinity: false,
        }
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
                range(Some(0.0), None),
                vec![numbers.clone()],
                3,
                1,
                vec!["-1.0"],
            ),
            (
                "range both",
                range(Some(0.0), Some(1.0)),
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
                RowTest::Unique { cap: 100, key: vec![0] },
                vec![ids.clone()],
                3,
                1,
                vec!["2"],
            ),
            (
                "unique across partitions",
                RowTest::Unique { cap: 100, key: vec![0] },
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
        let acc = run(range(Some(10.0), None), &[many]);
        assert_eq!((acc.failed, acc.sample.len()), (100, SAMPLE_SIZE));
        let distinct: ArrayRef = Arc::new(Int64Array::from((0..500).collect::<Vec<i64>>()));
        let acc = run(RowTest::Unique { cap: 100, key: vec![0] }, &[distinct]);
        assert!(acc.cap_exceeded);
    }

    #[test]
    fn range_fails_nan_and_infinity_unless_allowed() {
        let odd: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            None,
        ]));
        // (min, allow_nan, allow_infinity, failed): an open max does not admit +inf.
        let cases = [
            (None, false, false, 3),
            (Some(0.0), false, false, 3),
            (Some(0.0), true, false, 2),
            (Some(0.0), false, true, 1),
            (Some(0.0), true, true, 0),
        ];
        for (min, allow_nan, allow_infinity, failed) in cases {
            let test = RowTest::Range {
                min,
                max: None,
                allow_nan,
                allow_infinity,
            };
            let acc = run(test, std::slice::from_ref(&odd));
            assert_eq!(
                (acc.evaluated, acc.failed),
                (4, failed),
                "{min:?} {allow_nan} {allow_infinity}"
            );
        }
    }

    fn two_columns(users: Vec<Option<i64>>, days: Vec<Option<&str>>) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("user", DataType::Int64, true),
            Field::new("day", DataType::Utf8, true),
        ]);
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(users)), Arc::new(StringArray::from(days))];
        RecordBatch::try_new(Arc::new(schema), columns).unwrap()
    }

    #[test]
    fn compound_keys_repeat_only_as_a_whole_and_rows_with_a_null_are_not_evaluated() {
        let check = RowCheck {
            column: 0,
            test: RowTest::Unique {
                cap: 100,
                key: vec![0, 1],
            },
            sample_columns: vec![(0, "user".into()), (1, "day".into())],
        };
        let first = two_columns(
            vec![Some(1), Some(1), Some(2), Some(1), None, Some(3)],
            vec![Some("mon"), Some("tue"), Some("mon"), Some("mon"), Some("mon"), None],
        );
        let second = two_columns(vec![Some(2), Some(2)], vec![Some("mon"), Some("tue")]);
        let mut a = RowCheckAccumulator::default();
        a.update(&check, &first).unwrap();
        let mut b = RowCheckAccumulator::default();
        b.update(&check, &second).unwrap();
        a.merge(b, Some(100));
        // (1, mon) repeats within the batch, (2, mon) across partitions.
        assert_eq!((a.evaluated, a.failed), (6, 2));
        assert_eq!(a.sample.len(), 1);
        assert_eq!(
            (a.sample[0]["user"].as_str(), a.sample[0]["day"].as_str()),
            (Some("1"), Some("mon"))
        );
    }

    #[test]
    fn references_find_orphans_across_layouts_and_give_up_past_the_cap() {
        // The reference's ids are Int32 and its days dictionary-free Utf8View; the keys still match.
        let ref_users: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![1, 2]));
        let ref_days: ArrayRef = Arc::new(arrow::array::StringViewArray::from(vec!["mon", "mon"]));
        let mut set = ReferenceSet::default();
        set.extend(&[&ref_users, &ref_days], 10).unwrap();
        let check = RowCheck {
            column: 0,
            test: RowTest::Reference {
                key: vec![0, 1],
                set: Arc::new(set),
            },
            sample_columns: vec![(0, "user".into()), (1, "day".into())],
        };
        let batch = two_columns(
            vec![Some(1), Some(1), Some(2), None],
            vec![Some("mon"), Some("tue"), Some("mon"), Some("mon")],
        );
        let mut acc = RowCheckAccumulator::default();
        acc.update(&check, &batch).unwrap();
        assert_eq!((acc.evaluated, acc.failed, acc.cap_exceeded), (3, 1, false));
        assert_eq!(acc.sample[0]["day"].as_str(), Some("tue"));

        let many: ArrayRef = Arc::new(Int64Array::from((0..50).collect::<Vec<i64>>()));
        let mut big = ReferenceSet::default();
        big.extend(&[&many], 10).unwrap();
        assert!(big.cap_exceeded && big.keys.is_empty());
        let check = RowCheck {
            column: 0,
            test: RowTest::Reference {
                key: vec![0],
                set: Arc::new(big),
            },
            sample_columns: vec![],
        };
        let mut acc = RowCheckAccumulator::default();
        acc.update(&check, &batch).unwrap();
        assert!(acc.cap_exceeded);
    }
}

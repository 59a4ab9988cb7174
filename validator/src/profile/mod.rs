//! The per-column profile: a mergeable accumulator fed one Arrow array at a time,
//! and the profile it finishes into. Every metric merges across batches, row groups
//! and partitions, so a column is summarized in one pass without holding it.
//! Pure apart from Arrow compute kernels: no I/O.

pub mod few;
pub mod infer;
pub mod stored;
mod text;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::NullBuffer;
use arrow::compute::{self, cast};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use arrow::error::ArrowError;
use serde::Serialize;

use crate::scalar::{ColumnKind, Scalar};
use crate::sketch::frequent::FrequentItems;
use crate::sketch::hash::{hash_bytes, hash_f64, hash_u64};
use crate::sketch::hll::{HllState, HyperLogLog};
use crate::sketch::kll::{Kll, KllState};
use crate::sketch::moments::Moments;
use crate::sketch::wide;
use few::{FewValues, char_len};
use infer::TypeInference;
use text::AsciiBuffers;

/// How many frequent values a profile reports.
pub const TOP_VALUES: usize = 10;

/// Casts an array to the one layout the accumulator reads for its kind.
pub fn normalize(array: &ArrayRef, kind: ColumnKind) -> Result<ArrayRef, ArrowError> {
    let target = match (kind, array.data_type()) {
        (ColumnKind::Integer, _) => DataType::Int64,
        (ColumnKind::Float, _) => DataType::Float64,
        (ColumnKind::Text, _) => DataType::Utf8View,
        (ColumnKind::Temporal, DataType::Timestamp(_, tz)) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        (ColumnKind::Temporal, _) => DataType::Timestamp(TimeUnit::Microsecond, None),
        (ColumnKind::Boolean | ColumnKind::Other, _) => return Ok(array.clone()),
    };
    if array.data_type() == &target {
        Ok(array.clone())
    } else {
        cast(array, &target)
    }
}

/// Smallest and largest non-null value of an array of the given kind (any layout).
pub fn min_max(array: &ArrayRef, kind: ColumnKind) -> Result<(Option<Scalar>, Option<Scalar>), ArrowError> {
    let array = normalize(array, kind)?;
    Ok(match kind {
        ColumnKind::Integer => {
            let a = array.as_primitive::<Int64Type>();
            (compute::min(a).map(Scalar::Int), compute::max(a).map(Scalar::Int))
        }
        ColumnKind::Float => {
            let a = array.as_primitive::<Float64Type>();
            (compute::min(a).map(Scalar::Float), compute::max(a).map(Scalar::Float))
        }
        ColumnKind::Text => {
            let a = array.as_string_view();
            let text = |s: &str| Scalar::Text(s.to_owned());
            (
                compute::min_string_view(a).map(text),
                compute::max_string_view(a).map(text),
            )
        }
        ColumnKind::Temporal => {
            let a = array.as_primitive::<TimestampMicrosecondType>();
            (compute::min(a).map(Scalar::Time), compute::max(a).map(Scalar::Time))
        }
        ColumnKind::Boolean => {
            let a = array.as_boolean();
            (
                compute::min_boolean(a).map(Scalar::Bool),
                compute::max_boolean(a).map(Scalar::Bool),
            )
        }
        ColumnKind::Other => (None, None),
    })
}

/// What a column accumulator computes besides counts and distinct values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnOptions {
    /// Min and max from the data (off when Parquet footers answer them).
    pub min_max: bool,
    /// Quantile sketch, mean and standard deviation (numeric columns).
    pub numeric: bool,
    /// Frequent values (integer, text and boolean columns).
    pub top: bool,
}

impl ColumnOptions {
    /// Everything.
    pub const FULL: Self = Self {
        min_max: true,
        numeric: true,
        top: true,
    };
}

/// Running summary of one column.
#[derive(Clone, Debug)]
pub struct ColumnAccumulator {
    kind: ColumnKind,
    options: ColumnOptions,
    pub rows: u64,
    pub nulls: u64,
    /// Float columns: NaN values (not null, not in any statistic).
    pub nans: u64,
    /// Float columns: +infinity and -infinity values (counted as distinct
    /// values, not in min, max, mean, stddev or quantiles).
    pub infinities: u64,
    pub hll: HyperLogLog,
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
    pub moments: Moments,
    pub kll: Kll,
    top: FrequentItems<Scalar>,
    length_min: Option<u64>,
    length_max: u64,
    length_sum: u64,
    inference: TypeInference,
    true_count: u64,
    /// Per-batch scratch: the non-null values as `f64` (numeric columns), their
    /// hashes, and the non-null rows when the batch has nulls.
    scratch: Vec<f64>,
    hashes: Vec<u64>,
    /// Per-batch scratch: the non-null values of an integer or temporal batch with nulls.
    ints: Vec<i64>,
    rows_of_batch: Option<Vec<u32>>,
    few: Option<Box<FewValues>>,
    /// Text columns: data buffers already found to be ASCII.
    ascii: AsciiBuffers,
}

impl ColumnAccumulator {
    /// An empty accumulator for a column of this kind.
    pub fn new(kind: ColumnKind, options: ColumnOptions) -> Self {
        Self {
            kind,
            options,
            rows: 0,
            nulls: 0,
            nans: 0,
            infinities: 0,
            hll: HyperLogLog::new(),
            min: None,
            max: None,
            moments: Moments::default(),
            kll: Kll::default(),
            top: FrequentItems::default(),
            length_min: None,
            length_max: 0,
            length_sum: 0,
            inference: TypeInference::default(),
            true_count: 0,
            scratch: Vec::new(),
            hashes: Vec::new(),
            ints: Vec::new(),
            rows_of_batch: None,
            few: None,
            ascii: AsciiBuffers::default(),
        }
    }

    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        self.kind
    }

    /// Folds one array of the column in.
    pub fn update(&mut self, array: &ArrayRef) -> Result<(), ArrowError> {
        self.rows += array.len() as u64;
        self.nulls += array.null_count() as u64;
        let array = normalize(array, self.kind)?;
        match self.kind {
            ColumnKind::Integer => self.update_integer(&array),
            ColumnKind::Float => self.update_float(&array),
            ColumnKind::Text => self.update_text(&array),
            ColumnKind::Temporal => self.update_temporal(&array),
            ColumnKind::Boolean => self.update_boolean(&array),
            ColumnKind::Other => {}
        }
        Ok(())
    }

    /// Whether the frequent-values summary still holds every distinct value seen. While
    /// it does, the HyperLogLog is fed the summary's keys once per batch instead of every
    /// value (the same registers: an insert is idempotent), see [`Self::feed_hll_from_summary`].
    fn few_distinct(&self) -> bool {
        self.options.top && self.top.exact_distinct().is_some()
    }

    /// After a batch counted with [`Self::few_distinct`] true: feeds the HyperLogLog the
    /// summary's keys if the summary is still exact and says so; `false` means the
    /// batch's own values must be fed instead (the summary stopped being exact in it).
    fn feed_hll_from_summary(&mut self) -> bool {
        if self.top.exact_distinct().is_none() {
            return false;
        }
        for h in self.top.hashes() {
            self.hll.insert_hash(h);
        }
        true
    }

    fn update_integer(&mut self, array: &ArrayRef) {
        let a = array.as_primitive::<Int64Type>();
        if self.options.min_max {
            self.min = Scalar::min_of(self.min.take(), compute::min(a).map(Scalar::Int));
            self.max = Scalar::max_of(self.max.take(), compute::max(a).map(Scalar::Int));
        }
        let (numeric, top) = (self.options.numeric, self.options.top);
        let few = self.few_distinct();
        // One pass per sketch over the batch's non-null values: tight loops, no calls.
        self.valid_rows(a.nulls());
        let ints = gather(a.values(), self.rows_of_batch.as_deref(), &mut self.ints);
        wide::hash_i64s(ints, &mut self.hashes);
        if numeric {
            wide::i64s_as_f64s(ints, &mut self.scratch);
            self.kll.insert_numbers(&self.scratch);
            self.moments.insert_slice(&self.scratch);
        }
        if top {
            self.insert_top_hashes();
            self.top.seal(|row| Scalar::Int(a.value(row as usize)));
        }
        if !(few && self.feed_hll_from_summary()) {
            self.hll.insert_hashes(&self.hashes);
        }
    }

    /// Min, max, mean, stddev and quantiles over the finite values only; NaN and
    /// ±infinity are counted (in `nans`, `infinities`) instead.
    fn update_float(&mut self, array: &ArrayRef) {
        let a = array.as_primitive::<Float64Type>();
        let (numeric, min_max) = (self.options.numeric, self.options.min_max);
        let values = a.values();
        self.valid_rows(a.nulls());
        let (hashes, scratch) = (&mut self.hashes, &mut self.scratch);
        match &self.rows_of_batch {
            None => scratch.extend_from_slice(values),
            Some(rows) => scratch.extend(rows.iter().map(|&row| values[row as usize])),
        }
        if scratch.iter().all(|v| v.is_finite()) {
            // The common case, in loops that vectorize: every value is a statistic.
            wide::hash_finite_f64s(scratch, hashes);
        } else {
            let (mut nans, mut infinities) = (0, 0);
            scratch.retain(|&v| {
                if !v.is_nan() {
                    hashes.push(hash_f64(v));
                }
                nans += u64::from(v.is_nan());
                infinities += u64::from(v.is_infinite());
                v.is_finite()
            });
            self.nans += nans;
            self.infinities += infinities;
        }
        self.hll.insert_hashes(hashes);
        if min_max {
            let (lo, hi) = lane_min_max(scratch);
            if lo <= hi {
                self.min = Scalar::min_of(self.min.take(), Some(Scalar::Float(lo)));
                self.max = Scalar::max_of(self.max.take(), Some(Scalar::Float(hi)));
            }
        }
        if numeric {
            self.kll.insert_numbers(scratch);
            self.moments.insert_slice(scratch);
        }
    }

    /// Counts the batch's hashes (one per non-null row, see [`Self::valid_rows`]) in
    /// the frequent-values summary.
    fn insert_top_hashes(&mut self) {
        self.top.insert_hashes(&self.hashes, self.rows_of_batch.as_deref());
    }

    /// Clears the per-batch scratch buffers and lists the non-null rows of a batch in
    /// `rows_of_batch` (`None`: every row is valid).
    fn valid_rows(&mut self, nulls: Option<&NullBuffer>) {
        self.hashes.clear();
        self.scratch.clear();
        self.rows_of_batch = match nulls.filter(|n| n.null_count() > 0) {
            None => None,
            Some(nulls) => {
                let mut rows = self.rows_of_batch.take().unwrap_or_default();
                rows.clear();
                rows.extend(nulls.valid_indices().map(|row| row as u32));
                Some(rows)
            }
        };
    }

    fn update_text(&mut self, array: &ArrayRef) {
        let a = array.as_string_view();
        if self.options.min_max {
            let min = compute::min_string_view(a).map(|s| Scalar::Text(s.to_owned()));
            let max = compute::max_string_view(a).map(|s| Scalar::Text(s.to_owned()));
            self.min = Scalar::min_of(self.min.take(), min);
            self.max = Scalar::max_of(self.max.take(), max);
        }
        let mut length_min = self.length_min.unwrap_or(u64::MAX);
        if self.few_distinct() {
            // Few distinct values so far: count the batch by view, then fold the counts in.
            let mut few = self.few.take().unwrap_or_default();
            let inference = &mut self.inference;
            let (top, length_max, length_sum) = (&mut self.top, &mut self.length_max, &mut self.length_sum);
            few.count(
                a,
                |s| {
                    if inference.open() {
                        inference.observe(s);
                    }
                },
                |c| {
                    top.insert_n(c.hash, c.row, c.count);
                    length_min = length_min.min(c.chars);
                    *length_max = (*length_max).max(c.chars);
                    *length_sum += c.chars * c.count;
                },
            );
            self.few = Some(few);
            if !self.feed_hll_from_summary() {
                for s in a.iter().flatten() {
                    self.hll.insert_hash(hash_bytes(s.as_bytes()));
                }
            }
        } else {
            let top = self.options.top;
            // An ASCII batch's lengths are its views' byte lengths: no pass over the strings.
            let ascii = self.ascii.all_ascii(a);
            if let Some((lo, hi, sum)) = ascii.then(|| text::view_lengths(a)).flatten() {
                length_min = length_min.min(lo);
                self.length_max = self.length_max.max(hi);
                self.length_sum += sum;
            }
            // One pass hashing the strings (lengths and type inference on the way), then
            // one per sketch over the hashes: the summary's probes do not wait on a hash.
            self.valid_rows(a.nulls());
            let (inference, hashes) = (&mut self.inference, &mut self.hashes);
            let mut visit = |row: usize| {
                let s = a.value(row);
                hashes.push(hash_bytes(s.as_bytes()));
                if !ascii {
                    let len = char_len(s);
                    length_min = length_min.min(len);
                    self.length_max = self.length_max.max(len);
                    self.length_sum += len;
                }
                if inference.open() {
                    inference.observe(s);
                }
            };
            match &self.rows_of_batch {
                None => (0..a.len()).for_each(&mut visit),
                Some(rows) => rows.iter().for_each(|&row| visit(row as usize)),
            }
            if top {
                self.insert_top_hashes();
            }
            self.hll.insert_hashes(&self.hashes);
        }
        if length_min != u64::MAX {
            self.length_min = Some(length_min);
        }
        if self.options.top {
            self.top.seal(|row| Scalar::Text(a.value(row as usize).to_owned()));
        }
    }

    fn update_temporal(&mut self, array: &ArrayRef) {
        let a = array.as_primitive::<TimestampMicrosecondType>();
        if self.options.min_max {
            self.min = Scalar::min_of(self.min.take(), compute::min(a).map(Scalar::Time));
            self.max = Scalar::max_of(self.max.take(), compute::max(a).map(Scalar::Time));
        }
        self.valid_rows(a.nulls());
        let ints = gather(a.values(), self.rows_of_batch.as_deref(), &mut self.ints);
        wide::hash_i64s(ints, &mut self.hashes);
        self.hll.insert_hashes(&self.hashes);
    }

    fn update_boolean(&mut self, array: &ArrayRef) {
        let a = array.as_boolean();
        let trues = a.true_count() as u64;
        let valid = (a.len() - a.null_count()) as u64;
        self.true_count += trues;
        if trues > 0 {
            self.hll.insert_hash(hash_u64(1));
        }
        if valid > trues {
            self.hll.insert_hash(hash_u64(0));
        }
        if self.options.min_max && valid > 0 {
            let (min, max) = (Scalar::Bool(trues == valid), Scalar::Bool(trues > 0));
            self.min = Scalar::min_of(self.min.take(), Some(min));
            self.max = Scalar::max_of(self.max.take(), Some(max));
        }
    }

    /// Folds in an accumulator of the same column built over other rows.
    pub fn merge(&mut self, other: &Self) {
        self.rows += other.rows;
        self.nulls += other.nulls;
        self.nans += other.nans;
        self.infinities += other.infinities;
        self.hll.merge(&other.hll);
        self.min = Scalar::min_of(self.min.take(), other.min.clone());
        self.max = Scalar::max_of(self.max.take(), other.max.clone());
        self.moments.merge(&other.moments);
        self.kll.merge(&other.kll);
        self.top.merge(&other.top);
        self.length_min = match (self.length_min, other.length_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.length_max = self.length_max.max(other.length_max);
        self.length_sum += other.length_sum;
        self.inference.merge(&other.inference);
        self.true_count += other.true_count;
        // Scratch, not state: let go of the last batch's buffers.
        self.ascii = AsciiBuffers::default();
    }

    /// Non-null values seen.
    pub fn non_null(&self) -> u64 {
        self.rows - self.nulls
    }

    /// Missing values: nulls, and NaN values when `nan_is_null`.
    pub fn missing(&self, nan_is_null: bool) -> u64 {
        self.nulls + if nan_is_null { self.nans } else { 0 }
    }

    /// Null fraction (0 for an empty column).
    pub fn null_ratio(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.nulls as f64 / self.rows as f64
        }
    }

    /// Distinct non-null values: exact while the frequent-values summary still holds
    /// every value (up to 128 distinct), else the HyperLogLog estimate (never above
    /// the non-null count).
    pub fn distinct(&self) -> u64 {
        let exact = self.options.top && matches!(self.kind, ColumnKind::Integer | ColumnKind::Text);
        match self.top.exact_distinct().filter(|_| exact) {
            Some(n) => n as u64,
            None => (self.hll.estimate().round() as u64).min(self.non_null()),
        }
    }

    /// The finished profile of the column.
    pub fn finish(&self, name: &str, data_type: &DataType, quantiles: &[f64]) -> ColumnProfile {
        let numeric = self.kind.is_numeric() && self.options.numeric;
        let text = self.kind == ColumnKind::Text;
        let float = self.kind == ColumnKind::Float;
        let valid = self.non_null();
        let top: Vec<TopValue> = if self.options.top && matches!(self.kind, ColumnKind::Integer | ColumnKind::Text) {
            self.top
                .top(TOP_VALUES)
                .into_iter()
                .map(|(value, count)| TopValue { value, count })
                .collect()
        } else {
            Vec::new()
        };
        ColumnProfile {
            name: name.to_owned(),
            arrow_type: data_type.to_string(),
            kind: self.kind,
            inferred_type: match self.kind {
                ColumnKind::Integer => "integer",
                ColumnKind::Float => "float",
                ColumnKind::Text => self.inference.inferred(),
                ColumnKind::Temporal => "timestamp",
                ColumnKind::Boolean => "boolean",
                ColumnKind::Other => "other",
            },
            rows: self.rows,
            nulls: self.nulls,
            nans: float.then_some(self.nans),
            infinities: float.then_some(self.infinities),
            statistics_exclude: if float { &["NaN", "Infinity"] } else { &[] },
            null_ratio: self.null_ratio(),
            distinct: self.distinct(),
            distinct_relative_error: HyperLogLog::standard_error(),
            min: self.min.clone(),
            max: self.max.clone(),
            min_max_from: if self.options.min_max { "scan" } else { "footer" },
            mean: if numeric { self.moments.mean() } else { None },
            stddev: if numeric { self.moments.stddev() } else { None },
            quantiles: if numeric {
                quantiles
                    .iter()
                    .filter_map(|&q| self.kll.quantile(q).map(|value| Quantile { q, value }))
                    .collect()
            } else {
                Vec::new()
            },
            mode: top.first().map(|t| t.value.clone()),
            top_max_error: (self.options.top && matches!(self.kind, ColumnKind::Integer | ColumnKind::Text))
                .then(|| self.top.max_error()),
            top,
            min_length: if text { self.length_min } else { None },
            max_length: (text && valid > 0).then_some(self.length_max),
            mean_length: (text && valid > 0).then(|| self.length_sum as f64 / valid as f64),
            true_ratio: (self.kind == ColumnKind::Boolean && valid > 0).then(|| self.true_count as f64 / valid as f64),
        }
    }

    /// The sketch states kept in the metrics history: distinct values, quantiles
    /// (numeric columns) and top values (integer and text columns).
    pub fn states(&self) -> (HllState, Option<KllState>, Option<stored::TopState>) {
        let kll = (self.kind.is_numeric() && self.options.numeric).then(|| self.kll.to_state());
        let top = (self.options.top && matches!(self.kind, ColumnKind::Integer | ColumnKind::Text)).then(|| {
            stored::TopState {
                max_error: self.top.max_error(),
                items: self.top.top(crate::sketch::frequent::DEFAULT_CAPACITY),
            }
        });
        (self.hll.to_state(), kll, top)
    }
}

/// The values at `rows` (copied into `buffer`), or every value when `rows` is `None`.
fn gather<'a>(values: &'a [i64], rows: Option<&[u32]>, buffer: &'a mut Vec<i64>) -> &'a [i64] {
    match rows {
        None => values,
        Some(rows) => {
            buffer.clear();
            buffer.extend(rows.iter().map(|&row| values[row as usize]));
            buffer
        }
    }
}

/// Smallest and largest of finite values (`(+inf, -inf)` for none), in eight lanes
/// so the comparisons vectorize instead of waiting on each other.
fn lane_min_max(xs: &[f64]) -> (f64, f64) {
    const LANES: usize = 8;
    let chunks = xs.chunks_exact(LANES);
    let (mut lo, mut hi) = chunks
        .remainder()
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (mut los, mut his) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
    for chunk in chunks {
        for ((l, h), &v) in los.iter_mut().zip(his.iter_mut()).zip(chunk) {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    for (l, h) in los.into_iter().zip(his) {
        (lo, hi) = (lo.min(l), hi.max(h));
    }
    (lo, hi)
}

/// The profile of one column, as published.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnProfile {
    pub name: String,
    pub arrow_type: String,
    pub kind: ColumnKind,
    pub inferred_type: &'static str,
    pub rows: u64,
    pub nulls: u64,
    /// Float columns: NaN values (not nulls; see `notNull.nanIsNull`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nans: Option<u64>,
    /// Float columns: +infinity and -infinity values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infinities: Option<u64>,
    /// Values left out of min, max, mean, stddev and quantiles besides nulls
    /// (float columns: `NaN` and `Infinity`, i.e. those are over finite values).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub statistics_exclude: &'static [&'static str],
    pub null_ratio: f64,
    /// HyperLogLog estimate.
    pub distinct: u64,
    /// Relative standard error of `distinct`.
    pub distinct_relative_error: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Scalar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Scalar>,
    /// `footer` when min and max came from Parquet statistics, else `scan`.
    pub min_max_from: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stddev: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<Quantile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Scalar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopValue>,
    /// Each `top` count may be low by up to this much.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_max_error: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_length: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_ratio: Option<f64>,
}

/// A quantile of a numeric column (from the KLL sketch).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quantile {
    pub q: f64,
    pub value: f64,
}

/// A frequent value with its count (a lower bound; see `topMaxError`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopValue {
    pub value: Scalar,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int32Array, StringArray, TimestampNanosecondArray};
    use std::sync::Arc;

    fn profile(arrays: Vec<ArrayRef>) -> ColumnProfile {
        let dt = arrays[0].data_type().clone();
        let mut halves = [
            ColumnAccumulator::new(ColumnKind::of(&dt), ColumnOptions::FULL),
            ColumnAccumulator::new(ColumnKind::of(&dt), ColumnOptions::FULL),
        ];
        for (i, a) in arrays.iter().enumerate() {
            halves[i % 2].update(a).unwrap();
        }
        let [mut a, b] = halves;
        a.merge(&b);
        a.finish("c", &dt, &[0.5])
    }

    #[test]
    fn integers() {
        let p = profile(vec![
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Int32Array::from(vec![Some(3), Some(5)])),
        ]);
        assert_eq!((p.rows, p.nulls, p.distinct), (5, 1, 3));
        assert_eq!((p.min, p.max), (Some(Scalar::Int(1)), Some(Scalar::Int(5))));
        assert_eq!(p.mean, Some(3.0));
        assert_eq!(p.mode, Some(Scalar::Int(3)));
        assert_eq!(p.quantiles, vec![Quantile { q: 0.5, value: 3.0 }]);
        assert_eq!(p.null_ratio, 0.2);
    }

    #[test]
    fn floats_count_nan_and_infinity_and_keep_them_out_of_the_statistics() {
        let p = profile(vec![
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN), Some(2.5)])),
            Arc::new(Float64Array::from(vec![
                Some(f64::INFINITY),
                Some(f64::NAN),
                Some(f64::NEG_INFINITY),
                Some(f64::INFINITY),
            ])),
        ]);
        assert_eq!((p.rows, p.nulls, p.nans, p.infinities), (8, 1, Some(2), Some(3)));
        // Distinct: 1.5, 2.5, +inf, -inf; NaN is not a value.
        assert_eq!((p.distinct, p.mean, p.stddev), (4, Some(2.0), Some((0.5f64).sqrt())));
        assert_eq!((p.min, p.max), (Some(Scalar::Float(1.5)), Some(Scalar::Float(2.5))));
        assert_eq!(p.quantiles, vec![Quantile { q: 0.5, value: 1.5 }]);
        assert_eq!(p.statistics_exclude, ["NaN", "Infinity"]);
        assert!(p.top.is_empty());
        let only_nan = profile(vec![Arc::new(Float64Array::from(vec![f64::NAN]))]);
        assert_eq!((only_nan.min, only_nan.mean, only_nan.nans), (None, None, Some(1)));
        let ints = profile(vec![Arc::new(Int32Array::from(vec![1]))]);
        assert_eq!((ints.nans, ints.statistics_exclude.len()), (None, 0));
    }

    /// Unit test: batches long enough for the lane loops (all finite, and with a NaN and
    /// an infinity among them) give the min, max, mean and stddev of a plain fold.
    #[test]
    fn long_float_batches_match_a_plain_fold() {
        let finite: Vec<Option<f64>> = (0..1_003)
            .map(|i| (i % 10 != 3).then(|| ((i * 7919) % 1_000) as f64 * 0.37 - 150.0))
            .collect();
        let mut odd = finite.clone();
        odd[500] = Some(f64::NAN);
        odd[17] = Some(f64::NEG_INFINITY);
        let p = profile(vec![
            Arc::new(Float64Array::from(finite.clone())),
            Arc::new(Float64Array::from(odd.clone())),
        ]);
        let values: Vec<f64> = finite
            .iter()
            .chain(&odd)
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let stddev = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert_eq!((p.min, p.max), (Some(Scalar::Float(lo)), Some(Scalar::Float(hi))));
        assert_eq!((p.nans, p.infinities), (Some(1), Some(1)));
        assert!((p.mean.unwrap() - mean).abs() < 1e-9 && (p.stddev.unwrap() - stddev).abs() < 1e-9);
        assert_eq!(lane_min_max(&[]), (f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn text() {
        let p = profile(vec![
            Arc::new(StringArray::from(vec![Some("ab"), Some("é"), None])),
            Arc::new(StringArray::from(vec![Some("ab"), Some("xyz1")])),
        ]);
        assert_eq!((p.distinct, p.min_length, p.max_length), (3, Some(1), Some(4)));
        assert_eq!(p.mean_length, Some(2.25));
        assert_eq!(p.mode, Some(Scalar::Text("ab".into())));
        assert_eq!(
            (p.min, p.max),
            (Some(Scalar::Text("ab".into())), Some(Scalar::Text("é".into())))
        );
        assert_eq!(p.inferred_type, "string");
        assert_eq!(p.mean, None);
    }

    /// Unit test: on many distinct values, lengths taken from the views of ASCII
    /// batches and counted per string on a batch with a non-ASCII value agree with a
    /// per-string count (short and long strings, nulls).
    #[test]
    fn text_lengths_of_ascii_and_other_batches_match_a_per_string_count() {
        let value = |i: usize| match i % 9 {
            0 => None,
            1 => Some(format!("a value longer than twelve bytes, number {i}")),
            _ => Some(format!("v{i}")),
        };
        let mut batches: Vec<Vec<Option<String>>> =
            (0..3).map(|b| (b * 400..(b + 1) * 400).map(value).collect()).collect();
        batches[1][7] = Some("naïve".into());
        let p = profile(
            batches
                .iter()
                .map(|b| Arc::new(StringArray::from(b.clone())) as ArrayRef)
                .collect(),
        );
        let chars: Vec<u64> = batches
            .iter()
            .flatten()
            .flatten()
            .map(|s| s.chars().count() as u64)
            .collect();
        assert_eq!(p.min_length, chars.iter().min().copied());
        assert_eq!(p.max_length, chars.iter().max().copied());
        let mean = chars.iter().sum::<u64>() as f64 / chars.len() as f64;
        assert!((p.mean_length.unwrap() - mean).abs() < 1e-12);
    }

    /// Unit test: the few-distinct-values paths (HyperLogLog fed from the summary's
    /// keys, text counted by view) give the same sketch and profile as feeding every
    /// value, across batches, partitions and the switch to many distinct values mid-batch.
    #[test]
    fn few_distinct_paths_match_per_value_feeding() {
        let text = |i: usize| {
            if i < 3_000 {
                format!("s{}", i % 7)
            } else {
                format!("long value {i}")
            }
        };
        let batches: Vec<Vec<usize>> = vec![(0..1000).collect(), (1000..3000).collect(), (3000..6000).collect()];
        let mut parts = [
            ColumnAccumulator::new(ColumnKind::Text, ColumnOptions::FULL),
            ColumnAccumulator::new(ColumnKind::Integer, ColumnOptions::FULL),
        ];
        let (mut text_hll, mut int_hll) = (HyperLogLog::new(), HyperLogLog::new());
        for batch in &batches {
            let strings: ArrayRef = Arc::new(StringArray::from_iter_values(batch.iter().map(|&i| text(i))));
            let ints: ArrayRef = Arc::new(arrow::array::Int64Array::from_iter_values(
                batch.iter().map(|&i| if i < 3_000 { (i % 5) as i64 } else { i as i64 }),
            ));
            parts[0].update(&strings).unwrap();
            parts[1].update(&ints).unwrap();
            for &i in batch {
                text_hll.insert_hash(hash_bytes(text(i).as_bytes()));
                int_hll.insert_hash(hash_u64(if i < 3_000 { (i % 5) as u64 } else { i as u64 }));
            }
        }
        let [t, n] = &parts;
        assert_eq!((t.hll.clone(), n.hll.clone()), (text_hll, int_hll));
        let p = t.finish("t", &DataType::Utf8, &[]);
        // "s0" occurs 429 times; the long tail made the summary purge, within its bound.
        let max_error = p.top_max_error.unwrap();
        assert!(max_error > 0 && max_error <= 6_000 / 64);
        assert!(p.top[0].count <= 429 && p.top[0].count + max_error >= 429);
        assert_eq!((p.min_length, p.max_length), (Some(2), Some(15)));
        let chars: u64 = (0..6_000).map(|i| text(i).len() as u64).sum();
        assert_eq!(p.mean_length, Some(chars as f64 / 6_000.0));

        // While few, distinct counts and top counts stay exact across merged partitions.
        let mut a = ColumnAccumulator::new(ColumnKind::Text, ColumnOptions::FULL);
        let mut b = a.clone();
        a.update(&(Arc::new(StringArray::from(vec!["x", "y", "x"])) as ArrayRef))
            .unwrap();
        b.update(&(Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])) as ArrayRef))
            .unwrap();
        a.merge(&b);
        let p = a.finish("t", &DataType::Utf8, &[]);
        assert_eq!((p.distinct, p.top_max_error), (3, Some(0)));
        assert_eq!(
            p.top[0],
            TopValue {
                value: Scalar::Text("x".into()),
                count: 3
            }
        );
    }

    #[test]
    fn temporal_and_boolean() {
        let p = profile(vec![Arc::new(TimestampNanosecondArray::from(vec![
            Some(2_000_000_000),
            Some(1_000),
        ]))]);
        assert_eq!((p.min, p.max), (Some(Scalar::Time(1)), Some(Scalar::Time(2_000_000))));
        let p = profile(vec![Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
        ]))]);
        assert_eq!((p.distinct, p.true_ratio), (2, Some(2.0 / 3.0)));
    }
}

//! Per-batch aggregation of a text column that (so far) has few distinct values.
//!
//! In a `Utf8View` array equal views mean equal strings (a short string is stored in
//! its view; a long one is named by buffer and offset, and Parquet dictionary pages
//! decode every occurrence of an entry to the same view), so a batch is counted by
//! view in a small direct-mapped table: a repeated value costs one 16-byte compare,
//! and hashing, length and type inference run once per distinct view instead of once
//! per row. Different views of the same string simply count under the same hash.
//! Pure.

use arrow::array::{Array, StringViewArray};

use crate::sketch::hash::hash_bytes;

const SLOTS: usize = 256;

/// One distinct view of the batch and how often it occurred.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewCount {
    /// Hash of the string (as [`hash_bytes`]).
    pub hash: u64,
    /// Length in characters.
    pub chars: u64,
    /// Occurrences in the batch.
    pub count: u64,
    /// First row holding it.
    pub row: u32,
}

/// Scratch table reused across batches.
#[derive(Clone, Debug)]
pub struct FewValues {
    views: Vec<u128>,
    counts: Vec<ViewCount>,
}

impl Default for FewValues {
    fn default() -> Self {
        Self {
            views: vec![0; SLOTS],
            counts: vec![ViewCount::default(); SLOTS],
        }
    }
}

#[inline]
fn slot(view: u128) -> usize {
    let folded = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

/// Character length of a string (byte length when ASCII).
#[inline]
pub fn char_len(s: &str) -> u64 {
    (if s.is_ascii() { s.len() } else { s.chars().count() }) as u64
}

impl FewValues {
    /// Counts the non-null values of `array` by view. `first` is called once per
    /// distinct view with its string, before it is counted; `flush` receives every
    /// distinct view's count (a view evicted from the table by a colliding one is
    /// flushed early and may be flushed again later).
    pub fn count(&mut self, array: &StringViewArray, mut first: impl FnMut(&str), mut flush: impl FnMut(ViewCount)) {
        self.counts.fill(ViewCount::default());
        let views = array.views();
        for (row, &view) in views.iter().enumerate() {
            if array.is_null(row) {
                continue;
            }
            let i = slot(view);
            let entry = &mut self.counts[i];
            if entry.count != 0 && self.views[i] == view {
                entry.count += 1;
                continue;
            }
            if entry.count != 0 {
                flush(*entry);
            }
            let s = array.value(row);
            first(s);
            self.views[i] = view;
            *entry = ViewCount {
                hash: hash_bytes(s.as_bytes()),
                chars: char_len(s),
                count: 1,
                row: row as u32,
            };
        }
        for entry in &self.counts {
            if entry.count != 0 {
                flush(*entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Unit test on in-memory arrays: per-hash totals equal a per-row count.
    #[test]
    fn counts_match_a_per_row_count() {
        let long = "a string longer than twelve bytes";
        let mut values: Vec<Option<String>> = Vec::new();
        for i in 0..5_000 {
            values.push(match i % 7 {
                0 => None,
                1 => Some(long.to_owned()),
                2 => Some("é".to_owned()),
                3 => Some(String::new()),
                _ => Some(format!("v{}", i % 400)),
            });
        }
        let array = StringViewArray::from_iter(values.iter().map(|v| v.as_deref()));
        let mut want: HashMap<u64, (u64, u64)> = HashMap::new();
        for s in values.iter().flatten() {
            let e = want.entry(hash_bytes(s.as_bytes())).or_insert((0, char_len(s)));
            e.0 += 1;
        }
        let mut got: HashMap<u64, (u64, u64)> = HashMap::new();
        let mut firsts = 0;
        let mut few = FewValues::default();
        few.count(
            &array,
            |_| firsts += 1,
            |c| {
                assert!(array.value(c.row as usize).len() as u64 >= c.chars);
                assert_eq!(hash_bytes(array.value(c.row as usize).as_bytes()), c.hash);
                let e = got.entry(c.hash).or_insert((0, c.chars));
                e.0 += c.count;
            },
        );
        assert_eq!(got, want);
        assert!(firsts >= want.len() && firsts < values.len());
        assert_eq!(char_len("é"), 1);
    }
}

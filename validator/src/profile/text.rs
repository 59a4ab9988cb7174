//! Character lengths of a text batch read from its views when the batch is ASCII.
//!
//! A `Utf8View` array keeps every string's byte length in its view, and an ASCII
//! string has as many characters as bytes: when every string of a batch is ASCII,
//! its lengths need no pass over the strings. A short string (up to 12 bytes) lives
//! in its view, so its bytes are checked there; a long one lives in a data buffer,
//! and the buffers are checked whole. Parquet's reader hands consecutive batches
//! the same page buffer, so a buffer found ASCII is remembered (a clone of it, so
//! its address cannot be reused by another buffer while remembered) and not checked
//! again. Pure.

use arrow::array::{Array, StringViewArray};
use arrow::buffer::Buffer;

/// Bytes 4..16 of a view: where a string of up to 12 bytes is stored.
const INLINE_HIGH_BITS: u128 = 0x8080_8080_8080_8080_8080_8080_0000_0000;

/// Data buffers found to be all ASCII, kept across batches.
#[derive(Clone, Debug, Default)]
pub struct AsciiBuffers {
    known: Vec<Buffer>,
}

impl AsciiBuffers {
    /// Whether every byte of every data buffer of `array` and of every short string
    /// in a view is ASCII (null rows included: a null's view is checked too).
    pub fn all_ascii(&mut self, array: &StringViewArray) -> bool {
        let inline_ascii = array
            .views()
            .iter()
            .all(|&view| view as u32 > 12 || view & INLINE_HIGH_BITS == 0);
        if !inline_ascii {
            return false;
        }
        let mut known = Vec::with_capacity(array.data_buffers().len());
        for buffer in array.data_buffers() {
            let seen = self
                .known
                .iter()
                .any(|k| k.as_ptr() == buffer.as_ptr() && k.len() == buffer.len());
            if !seen && !buffer.as_slice().is_ascii() {
                return false;
            }
            known.push(buffer.clone());
        }
        self.known = known;
        true
    }
}

/// Shortest, longest and total length of the non-null strings, from their views
/// (byte lengths: character lengths when [`AsciiBuffers::all_ascii`] holds).
/// `None` when every row is null.
pub fn view_lengths(array: &StringViewArray) -> Option<(u64, u64, u64)> {
    let views = array.views();
    let len = |view: u128| u64::from(view as u32);
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => extremes(views.iter().map(|&view| len(view))),
        Some(nulls) => extremes(nulls.valid_indices().map(|i| len(views[i]))),
    }
}

/// Smallest, largest and sum of `lengths`; `None` when there are none.
#[inline]
fn extremes(lengths: impl Iterator<Item = u64>) -> Option<(u64, u64, u64)> {
    let (min, max, sum) = lengths.fold((u64::MAX, 0, 0), |(min, max, sum), l| (min.min(l), max.max(l), sum + l));
    (min != u64::MAX).then_some((min, max, sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::few::char_len;

    /// Unit test on in-memory arrays: lengths from views equal per-string character
    /// counts on ASCII batches (short and long strings, nulls); a non-ASCII string,
    /// short or long, is detected; a buffer is remembered only while it is ASCII.
    #[test]
    fn view_lengths_match_character_counts_on_ascii_batches() {
        let values = [
            Some("a"),
            None,
            Some(""),
            Some("exactly twelve"),
            Some("a string longer than twelve bytes"),
        ];
        let array = StringViewArray::from_iter(values);
        let mut ascii = AsciiBuffers::default();
        assert!(ascii.all_ascii(&array));
        let strings: Vec<&str> = values.iter().flatten().copied().collect();
        let want = (
            strings.iter().map(|s| char_len(s)).min().unwrap(),
            strings.iter().map(|s| char_len(s)).max().unwrap(),
            strings.iter().map(|s| char_len(s)).sum(),
        );
        assert_eq!(view_lengths(&array), Some(want));
        // The same buffers again: remembered, still ASCII.
        assert!(ascii.all_ascii(&array.slice(1, 3)));

        for text in ["é", "a longer string with an é in it"] {
            let array = StringViewArray::from_iter_values(["plain", text]);
            assert!(!AsciiBuffers::default().all_ascii(&array), "{text}");
        }
        assert_eq!(view_lengths(&StringViewArray::from_iter([None::<&str>, None])), None);
    }
}

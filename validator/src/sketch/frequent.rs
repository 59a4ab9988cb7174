//! Frequent items (top-k and mode) in bounded memory: the Misra–Gries summary with
//! batch purges, as in Apache DataSketches' frequent-items sketch.
//!
//! Counters are keyed by 64-bit value hash. When more than 2·capacity counters
//! exist, the median counter value is subtracted from every counter and the ones
//! that drop to zero are removed; the total subtracted is the `max_error`: every
//! reported count is an underestimate by at most that much (≤ n / capacity), and any
//! value with true frequency above `max_error` is kept. Merging adds counters and purges.
//!
//! Values are materialized lazily: during a batch a new counter only remembers the
//! row it came from ([`Slot::Pending`]); [`FrequentItems::seal`] turns the survivors
//! into owned values at the end of the batch, so values purged mid-batch never allocate.

use std::collections::HashMap;

use super::hash::IdentityBuild;

/// Counters kept between purges: at most twice this many exist.
pub const DEFAULT_CAPACITY: usize = 64;

/// A counter's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot<V> {
    /// Row of the current batch the value came from.
    Pending(u32),
    /// The value.
    Ready(V),
}

/// A frequent-items summary.
#[derive(Clone, Debug)]
pub struct FrequentItems<V> {
    counters: HashMap<u64, (u64, Slot<V>), IdentityBuild>,
    capacity: usize,
    max_error: u64,
}

impl<V: Clone> Default for FrequentItems<V> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl<V: Clone> FrequentItems<V> {
    /// An empty summary keeping about `capacity` counters.
    pub fn new(capacity: usize) -> Self {
        Self {
            counters: HashMap::with_capacity_and_hasher(capacity * 2 + 1, IdentityBuild::default()),
            capacity: capacity.max(1),
            max_error: 0,
        }
    }

    /// Counts one occurrence of the value with this hash, found at `row` of the current batch.
    #[inline]
    pub fn insert(&mut self, hash: u64, row: u32) {
        match self.counters.get_mut(&hash) {
            Some(counter) => counter.0 += 1,
            None => {
                self.counters.insert(hash, (1, Slot::Pending(row)));
                if self.counters.len() > 2 * self.capacity {
                    self.purge();
                }
            }
        }
    }

    /// Counts a value that is already materialized.
    pub fn insert_value(&mut self, hash: u64, value: V, count: u64) {
        self.counters.entry(hash).or_insert((0, Slot::Ready(value))).0 += count;
        if self.counters.len() > 2 * self.capacity {
            self.purge();
        }
    }

    fn purge(&mut self) {
        let mut counts: Vec<u64> = self.counters.values().map(|c| c.0).collect();
        let cut_index = counts.len() - self.capacity;
        let (_, &mut cut, _) = counts.select_nth_unstable(cut_index.saturating_sub(1));
        self.counters.retain(|_, c| {
            c.0 = c.0.saturating_sub(cut);
            c.0 > 0
        });
        self.max_error += cut;
    }

    /// Materializes the values of counters created during the current batch.
    pub fn seal(&mut self, mut value_at: impl FnMut(u32) -> V) {
        for counter in self.counters.values_mut() {
            if let Slot::Pending(row) = counter.1 {
                counter.1 = Slot::Ready(value_at(row));
            }
        }
    }

    /// Folds another (sealed) summary in.
    pub fn merge(&mut self, other: &Self) {
        self.max_error += other.max_error;
        for (&hash, (count, slot)) in &other.counters {
            if let Slot::Ready(v) = slot {
                self.insert_value(hash, v.clone(), *count);
            }
        }
    }

    /// The exact number of distinct values, while no purge has happened (every value still has its counter).
    pub fn exact_distinct(&self) -> Option<usize> {
        (self.max_error == 0).then_some(self.counters.len())
    }

    /// Upper bound on how much any reported count underestimates.
    pub fn max_error(&self) -> u64 {
        self.max_error
    }

    /// The `n` most frequent values with their (lower-bound) counts, most frequent first.
    pub fn top(&self, n: usize) -> Vec<(V, u64)> {
        let mut items: Vec<(u64, u64, &V)> = self
            .counters
            .iter()
            .filter_map(|(&h, (c, slot))| match slot {
                Slot::Ready(v) => Some((*c, h, v)),
                Slot::Pending(_) => None,
            })
            .collect();
        // Ties broken by hash, so output is deterministic.
        items.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        items.into_iter().take(n).map(|(c, _, v)| (v.clone(), c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::hash_u64;
    use super::*;

    fn feed(values: &[u64], capacity: usize) -> FrequentItems<u64> {
        let mut f = FrequentItems::new(capacity);
        for (row, &v) in values.iter().enumerate() {
            f.insert(hash_u64(v), row as u32);
        }
        f.seal(|row| values[row as usize]);
        f
    }

    #[test]
    fn exact_when_few_distinct() {
        let values = [1, 2, 2, 3, 3, 3];
        let f = feed(&values, 8);
        assert_eq!(f.top(2), vec![(3, 3), (2, 2)]);
        assert_eq!(f.max_error(), 0);
    }

    #[test]
    fn heavy_hitters_survive_a_long_tail() {
        // 100k unique values plus two heavy hitters at 10% and 5%.
        let mut values: Vec<u64> = (1000..101_000).collect();
        values.extend(std::iter::repeat_n(7, 11_000));
        values.extend(std::iter::repeat_n(8, 5_500));
        fastrand::Rng::with_seed(1).shuffle(&mut values);
        let f = feed(&values, 64);
        let top = f.top(2);
        assert_eq!((top[0].0, top[1].0), (7, 8));
        assert!(top[0].1 <= 11_000 && top[0].1 + f.max_error() >= 11_000);
        assert!(f.max_error() <= values.len() as u64 / 64);
    }

    #[test]
    fn merge_adds_counts() {
        let a = [5u64, 5, 6];
        let b = [5u64, 6, 6, 6];
        let mut fa = feed(&a, 8);
        fa.merge(&feed(&b, 8));
        assert_eq!(fa.top(2), vec![(6, 4), (5, 3)]);
    }
}

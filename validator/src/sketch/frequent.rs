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
//! row it came from; [`FrequentItems::seal`] turns the survivors into owned values at
//! the end of the batch, so values purged mid-batch never allocate.
//!
//! The counters live in a flat open-addressing table (linear probing, at most an
//! eighth full) with a list of its occupied slots, so an update is one or two
//! cache-line probes and a purge of a high-cardinality stream (where every counter
//! is one) is a histogram pass over the counters and clearing them: a few nanoseconds
//! per value, with exactly the counters, counts and `max_error` of the textbook summary.

/// Counters kept between purges: at most twice this many exist.
pub const DEFAULT_CAPACITY: usize = 64;

/// Counts below this are located by a histogram during a purge (else by selection).
const SMALL_COUNT: usize = 16;

/// A frequent-items summary.
///
/// The table is struct-of-arrays so a purge's histogram reads only `counts`;
/// `counts[i] == 0` marks slot `i` empty, and `in_use` lists the others.
#[derive(Clone, Debug)]
pub struct FrequentItems<V> {
    hashes: Vec<u64>,
    counts: Vec<u64>,
    /// Row of the current batch a counter's value came from, while not materialized.
    rows: Vec<u32>,
    /// The value of a sealed counter (`None` while pending or empty).
    values: Vec<Option<V>>,
    /// How many `values` are `Some`.
    sealed: usize,
    /// The occupied slots, so a purge or a seal visits only them (`len` of them).
    in_use: Vec<u32>,
    /// Scratch for a purge: the counters that survive it.
    survivors: Vec<(u64, u64, u32, Option<V>)>,
    mask: usize,
    len: usize,
    capacity: usize,
    max_error: u64,
    /// How many counters are above one. While none is, a purge's cut is one and every
    /// counter dies in it, so the purge only clears them (the usual case on a column
    /// of (nearly) unique values, where no value repeats between two purges).
    heavy: usize,
}

impl<V: Clone> Default for FrequentItems<V> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl<V: Clone> FrequentItems<V> {
    /// An empty summary keeping about `capacity` counters.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // At most 2·capacity + 1 counters before a purge: the table stays at most an
        // eighth full, so a new value's first probe is almost always an empty slot (a
        // predictable branch; purges visit only occupied slots, so size costs no time).
        let size = (16 * capacity).next_power_of_two();
        Self {
            hashes: vec![0; size],
            counts: vec![0; size],
            rows: vec![0; size],
            values: vec![None; size],
            sealed: 0,
            in_use: Vec::with_capacity(2 * capacity + 1),
            survivors: Vec::new(),
            mask: size - 1,
            len: 0,
            capacity,
            max_error: 0,
            heavy: 0,
        }
    }

    /// Slot holding `hash`, or the empty slot where it would go.
    #[inline]
    fn find(&self, hash: u64) -> usize {
        probe(&self.hashes, &self.counts, self.mask, hash)
    }

    /// Counts one occurrence of the value with this hash, found at `row` of the current batch.
    #[inline]
    pub fn insert(&mut self, hash: u64, row: u32) {
        self.insert_n(hash, row, 1);
    }

    /// Counts `n` occurrences of the value with this hash, one of them found at `row`
    /// of the current batch. The bound on `max_error` holds for weighted updates too.
    #[inline(always)]
    pub fn insert_n(&mut self, hash: u64, row: u32, n: u64) {
        if n == 0 {
            return;
        }
        let i = self.find(hash);
        let old = self.counts[i];
        // Branches, not arithmetic, on `heavy`: both are predictable (a value repeating
        // between two purges is rare where it matters), and an update on every call
        // would chain the calls through memory.
        if old != 0 {
            if old == 1 {
                self.heavy += 1;
            }
            self.counts[i] = old + n;
            return;
        }
        if n > 1 {
            self.heavy += 1;
        }
        self.hashes[i] = hash;
        self.counts[i] = n;
        self.rows[i] = row;
        self.in_use.push(i as u32);
        self.len += 1;
        if self.len > 2 * self.capacity {
            self.purge();
        }
    }

    /// Counts one occurrence of each hash of a batch: the `k`-th value was found at
    /// row `rows[k]` of the batch, or row `k` when `rows` is `None`. The same summary
    /// as calling [`Self::insert`] for each, in a loop that keeps the table in registers.
    pub fn insert_hashes(&mut self, hashes: &[u64], rows: Option<&[u32]>) {
        let mut done = 0;
        while done < hashes.len() {
            let run = Run {
                hashes: &mut self.hashes[..=self.mask],
                counts: &mut self.counts[..=self.mask],
                rows: &mut self.rows[..=self.mask],
                in_use: &mut self.in_use,
                len: self.len,
                heavy: self.heavy,
                limit: 2 * self.capacity,
            };
            let (consumed, len, heavy) = match rows {
                None => run.insert(&hashes[done..], |k| (done + k) as u32),
                Some(rows) => run.insert(&hashes[done..], |k| rows[done + k]),
            };
            done += consumed;
            (self.len, self.heavy) = (len, heavy);
            if self.len > 2 * self.capacity {
                self.purge();
            }
        }
    }

    /// Counts a value that is already materialized, `count` times.
    pub fn insert_value(&mut self, hash: u64, value: V, count: u64) {
        if count == 0 {
            return;
        }
        let i = self.find(hash);
        if self.counts[i] == 0 {
            self.hashes[i] = hash;
            self.in_use.push(i as u32);
            self.len += 1;
        }
        let old = self.counts[i];
        self.counts[i] = old + count;
        self.heavy += usize::from(old <= 1 && old + count > 1);
        if self.values[i].is_none() {
            self.values[i] = Some(value);
            self.sealed += 1;
        }
        if self.len > 2 * self.capacity {
            self.purge();
        }
    }

    /// The value subtracted by a purge: the (len − capacity)-th smallest count, so at
    /// most `capacity` counters stay above it.
    fn cut(&self) -> u64 {
        let rank = self.len - self.capacity; // 1-based rank of the cut among the counts
        let mut histogram = [0usize; SMALL_COUNT];
        for &i in &self.in_use {
            histogram[(self.counts[i as usize] as usize).min(SMALL_COUNT - 1)] += 1;
        }
        // The last bin holds every count ≥ SMALL_COUNT - 1.
        let mut below = 0;
        for (count, &n) in histogram.iter().enumerate().take(SMALL_COUNT - 1).skip(1) {
            below += n;
            if below >= rank {
                return count as u64;
            }
        }
        let mut counts: Vec<u64> = self.in_use.iter().map(|&i| self.counts[i as usize]).collect();
        let (_, &mut cut, _) = counts.select_nth_unstable(rank - 1);
        cut
    }

    #[cold]
    #[inline(never)]
    fn purge(&mut self) {
        if self.heavy == 0 {
            // Every count is one: the cut is one and no counter survives it.
            for &i in &self.in_use {
                self.counts[i as usize] = 0;
            }
            if self.sealed > 0 {
                for &i in &self.in_use {
                    self.values[i as usize] = None;
                }
            }
            self.in_use.clear();
            self.len = 0;
            self.sealed = 0;
            self.max_error += 1;
            return;
        }
        let cut = self.cut();
        self.heavy = 0;
        let mut survivors = std::mem::take(&mut self.survivors);
        for &i in &self.in_use {
            let i = i as usize;
            let count = std::mem::take(&mut self.counts[i]);
            if count > cut {
                survivors.push((self.hashes[i], count - cut, self.rows[i], self.values[i].take()));
            } else if self.sealed > 0 {
                self.values[i] = None;
            }
        }
        self.in_use.clear();
        self.len = 0;
        self.sealed = 0;
        for (hash, count, row, value) in survivors.drain(..) {
            let i = self.find(hash);
            self.hashes[i] = hash;
            self.counts[i] = count;
            self.rows[i] = row;
            self.sealed += usize::from(value.is_some());
            self.values[i] = value;
            self.heavy += usize::from(count > 1);
            self.in_use.push(i as u32);
            self.len += 1;
        }
        self.survivors = survivors;
        self.max_error += cut;
    }

    /// Materializes the values of counters created during the current batch.
    pub fn seal(&mut self, mut value_at: impl FnMut(u32) -> V) {
        if self.sealed == self.len {
            return;
        }
        for &i in &self.in_use {
            let i = i as usize;
            if self.values[i].is_none() {
                self.values[i] = Some(value_at(self.rows[i]));
                self.sealed += 1;
            }
        }
    }

    fn occupied(&self) -> impl Iterator<Item = usize> + '_ {
        self.in_use.iter().map(|&i| i as usize)
    }

    /// Hashes of every value that currently has a counter.
    pub fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.occupied().map(|i| self.hashes[i])
    }

    /// Folds another (sealed) summary in.
    pub fn merge(&mut self, other: &Self) {
        self.max_error += other.max_error;
        for i in other.occupied() {
            if let Some(v) = &other.values[i] {
                self.insert_value(other.hashes[i], v.clone(), other.counts[i]);
            }
        }
    }

    /// The exact number of distinct values, while no purge has happened (every value still has its counter).
    pub fn exact_distinct(&self) -> Option<usize> {
        (self.max_error == 0).then_some(self.len)
    }

    /// Upper bound on how much any reported count underestimates.
    pub fn max_error(&self) -> u64 {
        self.max_error
    }

    /// The `n` most frequent values with their (lower-bound) counts, most frequent first.
    pub fn top(&self, n: usize) -> Vec<(V, u64)> {
        let mut items: Vec<(u64, u64, &V)> = self
            .occupied()
            .filter_map(|i| self.values[i].as_ref().map(|v| (self.counts[i], self.hashes[i], v)))
            .collect();
        // Ties broken by hash, so output is deterministic.
        items.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        items.into_iter().take(n).map(|(c, _, v)| (v.clone(), c)).collect()
    }
}

/// Slot of the table (`hashes`, `counts`, size `mask + 1`) holding `hash`, or the
/// empty slot where it would go: linear probing from the hash's low bits.
#[inline(always)]
fn probe(hashes: &[u64], counts: &[u64], mask: usize, hash: u64) -> usize {
    let mut i = (hash as usize) & mask;
    while counts[i] != 0 && hashes[i] != hash {
        i = (i + 1) & mask;
    }
    i
}

/// The table's arrays borrowed apart, for [`FrequentItems::insert_hashes`]: a store
/// through one does not make the loop reload the others.
struct Run<'a> {
    hashes: &'a mut [u64],
    counts: &'a mut [u64],
    rows: &'a mut [u32],
    in_use: &'a mut Vec<u32>,
    len: usize,
    heavy: usize,
    limit: usize,
}

impl Run<'_> {
    /// Counts values (as [`FrequentItems::insert_n`] with `n = 1`) until one more
    /// counter than `limit` exists; how many were counted, and the new `len` and `heavy`.
    #[inline(always)]
    fn insert(self, values: &[u64], row_at: impl Fn(usize) -> u32) -> (usize, usize, usize) {
        let mask = self.counts.len() - 1;
        let (mut len, mut heavy) = (self.len, self.heavy);
        for (k, &hash) in values.iter().enumerate() {
            let i = probe(self.hashes, self.counts, mask, hash);
            let old = self.counts[i];
            if old != 0 {
                heavy += usize::from(old == 1);
                self.counts[i] = old + 1;
                continue;
            }
            self.hashes[i] = hash;
            self.counts[i] = 1;
            self.rows[i] = row_at(k);
            self.in_use.push(i as u32);
            len += 1;
            if len > self.limit {
                return (k + 1, len, heavy);
            }
        }
        (values.len(), len, heavy)
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::hash_u64;
    use super::*;
    use std::collections::HashMap;

    fn feed(values: &[u64], capacity: usize) -> FrequentItems<u64> {
        let mut f = FrequentItems::new(capacity);
        for (row, &v) in values.iter().enumerate() {
            f.insert(hash_u64(v), row as u32);
        }
        f.seal(|row| values[row as usize]);
        f
    }

    /// The textbook summary (a map and a full sort per purge), to compare against.
    fn reference(values: &[u64], capacity: usize) -> (HashMap<u64, u64>, u64) {
        let (mut counters, mut max_error) = (HashMap::new(), 0);
        for &v in values {
            *counters.entry(v).or_insert(0) += 1;
            if counters.len() > 2 * capacity {
                let mut counts: Vec<u64> = counters.values().copied().collect();
                counts.sort_unstable();
                let cut = counts[counts.len() - capacity - 1];
                counters.retain(|_, c| {
                    *c = c.saturating_sub(cut);
                    *c > 0
                });
                max_error += cut;
            }
        }
        (counters, max_error)
    }

    #[test]
    fn exact_when_few_distinct() {
        let values = [1, 2, 2, 3, 3, 3];
        let f = feed(&values, 8);
        assert_eq!(f.top(2), vec![(3, 3), (2, 2)]);
        assert_eq!(f.max_error(), 0);
        assert_eq!(f.exact_distinct(), Some(3));
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
        assert_eq!(f.exact_distinct(), None);
    }

    #[test]
    fn matches_the_textbook_summary() {
        // Skewed streams with purges whose cut is small (histogram) and large (selection).
        let mut rng = fastrand::Rng::with_seed(3);
        for (distinct, skew) in [(50u64, 1u32), (400, 1), (5_000, 3), (100_000, 2)] {
            let values: Vec<u64> = (0..60_000)
                .map(|_| {
                    let r = rng.u64(0..distinct);
                    (0..skew).fold(r, |x, _| x * rng.u64(0..distinct) / distinct)
                })
                .collect();
            let f = feed(&values, 16);
            let (want, want_error) = reference(&values, 16);
            assert_eq!(f.max_error(), want_error, "distinct={distinct}");
            let mut got: Vec<(u64, u64)> = f.top(usize::MAX);
            let mut want: Vec<(u64, u64)> = want.into_iter().collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "distinct={distinct}");
        }
    }

    /// Unit test: on (nearly) unique streams most purges find every count at one and
    /// only clear; with rare repeats and a light heavy hitter, sealing every 100
    /// values, the summary is still the textbook one.
    #[test]
    fn nearly_unique_streams_match_the_textbook_summary() {
        for repeat_every in [usize::MAX, 997, 131, 7] {
            let values: Vec<u64> = (0..40_000u64)
                .map(|i| match i as usize {
                    i if i % 150 == 0 => 42,
                    i if i % repeat_every == 0 => i as u64 / 2,
                    _ => 1_000_000 + i,
                })
                .collect();
            let mut f = FrequentItems::new(16);
            for batch in values.chunks(100) {
                let hashes: Vec<u64> = batch.iter().map(|&v| hash_u64(v)).collect();
                f.insert_hashes(&hashes, None);
                f.seal(|row| batch[row as usize]);
            }
            let (want, want_error) = reference(&values, 16);
            assert_eq!(f.max_error(), want_error, "repeat_every={repeat_every}");
            let mut got = f.top(usize::MAX);
            let mut want: Vec<(u64, u64)> = want.into_iter().collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "repeat_every={repeat_every}");
        }
    }

    /// Unit test: a batch counted by `insert_hashes` (with and without a row list) is
    /// the summary of counting its values one by one: counters, counts, error and rows.
    #[test]
    fn batch_inserts_match_single_inserts() {
        let mut rng = fastrand::Rng::with_seed(5);
        let values: Vec<u64> = (0..30_000)
            .map(|i| if i % 3 == 0 { rng.u64(0..20) } else { rng.u64(..) })
            .collect();
        let (mut one, mut batched, mut listed) =
            (FrequentItems::new(16), FrequentItems::new(16), FrequentItems::new(16));
        for batch in values.chunks(1000) {
            let hashes: Vec<u64> = batch.iter().map(|&v| hash_u64(v)).collect();
            let rows: Vec<u32> = (0..batch.len() as u32).map(|r| r * 2 + 1).collect();
            for (row, &h) in hashes.iter().enumerate() {
                one.insert(h, row as u32);
            }
            batched.insert_hashes(&hashes, None);
            listed.insert_hashes(&hashes, Some(&rows));
            one.seal(|row| batch[row as usize]);
            batched.seal(|row| batch[row as usize]);
            listed.seal(|row| batch[((row - 1) / 2) as usize]);
        }
        let want = one.top(usize::MAX);
        assert!(want.iter().any(|&(_, c)| c > 1) && one.max_error() > 0);
        for f in [&batched, &listed] {
            assert_eq!(f.top(usize::MAX), want);
            assert_eq!(f.max_error(), one.max_error());
        }
    }

    #[test]
    fn merge_adds_counts() {
        let a = [5u64, 5, 6];
        let b = [5u64, 6, 6, 6];
        let mut fa = feed(&a, 8);
        fa.merge(&feed(&b, 8));
        assert_eq!(fa.top(2), vec![(6, 4), (5, 3)]);
        assert_eq!(fa.exact_distinct(), Some(2));
    }

    #[test]
    fn pending_values_survive_purges_and_sealed_ones_are_kept() {
        // Batch 1 seals 3 (60 times); batch 2 purges many times around it, then seals
        // by row. n = 260 and capacity 4, so max_error ≤ 260 / 5 < 60: 3 must stay.
        let mut f = FrequentItems::new(4);
        for row in 0..60 {
            f.insert(hash_u64(3), row);
        }
        f.seal(|_| 3u64);
        let batch: Vec<u64> = (0..200).map(|i| if i % 2 == 0 { 9 } else { 100 + i }).collect();
        for (row, &v) in batch.iter().enumerate() {
            f.insert(hash_u64(v), row as u32);
        }
        f.seal(|row| batch[row as usize]);
        let top = f.top(2);
        assert_eq!((top[0].0, top[1].0), (9, 3));
        assert!(top[0].1 <= 100 && top[0].1 + f.max_error() >= 100);
        assert!(top[1].1 <= 60 && top[1].1 + f.max_error() >= 60);
        assert!(f.max_error() <= 260 / 5);
        assert_eq!(f.hashes().count(), f.top(usize::MAX).len());
    }
}

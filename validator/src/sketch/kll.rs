//! KLL quantile sketch (Karnin, Lang, Liberty 2016) over `f64`.
//!
//! Levels of "compactors": level `l` holds items of weight 2^l. When the sketch is
//! over its capacity, the lowest full level is sorted and every other item (random
//! offset) moves up a level with double weight. Capacities shrink geometrically
//! (factor 2/3) below the top, and once there are more than [`MAX_DEPTH`] levels
//! the bottom one is replaced by a sampler (one random item per block of 2^floor),
//! as in the paper: updates then cost O(1) for most items.
//!
//! With k = 200 the normalized rank error is about 1.7% (99% confidence ~2%); a
//! sketch over n ≤ k items is exact. Merging concatenates levels and compacts, so a
//! sketch built in parallel pieces is as good as one built in sequence. States
//! serialize for the metrics history. Randomness comes from a fixed-seed xorshift,
//! so a run is reproducible.

use serde::{Deserialize, Serialize};

use super::codec;

/// Default accuracy parameter.
pub const DEFAULT_K: u32 = 200;
/// Most levels kept above the sampler; the bottom level then holds ≥ k·(2/3)^MAX_DEPTH ≈ 8 items.
const MAX_DEPTH: usize = 8;

/// A KLL sketch.
#[derive(Clone, Debug)]
pub struct Kll {
    k: u32,
    /// Items as their [`key`]s: integers in the order `f64::total_cmp` gives their
    /// values, so a compaction sorts them in place as integers.
    levels: Vec<Vec<i64>>,
    capacities: Vec<usize>,
    max_size: usize,
    size: usize,
    floor: usize,
    n: u64,
    block_pos: u64,
    block_pick: u64,
    rng: u64,
}

impl Default for Kll {
    fn default() -> Self {
        Self::new(DEFAULT_K)
    }
}

impl Kll {
    /// An empty sketch with accuracy parameter `k` (at least 8).
    pub fn new(k: u32) -> Self {
        let mut s = Self {
            k: k.max(8),
            levels: vec![Vec::new()],
            capacities: Vec::new(),
            max_size: 0,
            size: 0,
            floor: 0,
            n: 0,
            block_pos: 0,
            block_pick: 0,
            rng: 0x2545_F491_4F6C_DD1D,
        };
        s.update_capacities();
        s
    }

    /// Values seen.
    pub fn count(&self) -> u64 {
        self.n
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn update_capacities(&mut self) {
        let top = self.levels.len() - 1;
        self.capacities = (0..self.levels.len())
            .map(|l| {
                let depth = (top - l) as i32;
                ((f64::from(self.k) * (2.0f64 / 3.0).powi(depth)).ceil() as usize).max(2)
            })
            .collect();
        self.max_size = self.capacities[self.floor..].iter().sum();
    }

    /// Adds a value (NaN is ignored).
    #[inline]
    pub fn insert(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.n += 1;
        if self.floor > 0 {
            let take = self.block_pos == self.block_pick;
            self.advance_block(1);
            if !take {
                return;
            }
        }
        self.push(value);
    }

    /// Adds every value of a slice (NaN is ignored): the same sketch, item for item,
    /// as inserting them one at a time, but once the sampler is active only the
    /// sampled values are touched (one per block of 2^floor), and before that values
    /// are appended to the bottom level in runs up to the next compaction.
    pub fn insert_slice(&mut self, values: &[f64]) {
        if values.iter().any(|v| v.is_nan()) {
            values.iter().for_each(|&v| self.insert(v));
            return;
        }
        self.insert_numbers(values);
    }

    /// [`Self::insert_slice`] for values the caller knows hold no NaN (the profile's
    /// finite values), without looking for one.
    pub fn insert_numbers(&mut self, values: &[f64]) {
        debug_assert!(!values.iter().any(|v| v.is_nan()), "insert_numbers given a NaN");
        let mut rest = values;
        while !rest.is_empty() {
            if self.floor == 0 {
                let room = self.max_size.saturating_sub(self.size).max(1).min(rest.len());
                let (run, tail) = rest.split_at(room);
                self.levels[0].extend(run.iter().map(|&v| key(v)));
                self.n += room as u64;
                self.size += room;
                rest = tail;
                if self.size >= self.max_size {
                    self.compress();
                }
                continue;
            }
            // Within the current block, the sampled value (if still ahead) is the only one kept.
            let left_in_block = (1u64 << self.floor) - self.block_pos;
            let ahead = self.block_pick.checked_sub(self.block_pos);
            match ahead.filter(|&a| a < left_in_block && (a as usize) < rest.len()) {
                Some(a) => {
                    let a = a as usize;
                    let value = rest[a];
                    rest = &rest[a + 1..];
                    self.n += a as u64 + 1;
                    self.advance_block(a as u64 + 1);
                    self.push(value);
                }
                None => {
                    let step = left_in_block.min(rest.len() as u64);
                    rest = &rest[step as usize..];
                    self.n += step;
                    self.advance_block(step);
                }
            }
        }
    }

    /// Moves the sampler `step` values on within its block (never past its end); at the
    /// end of a block it draws the next block's pick.
    #[inline]
    fn advance_block(&mut self, step: u64) {
        self.block_pos += step;
        if self.block_pos == 1 << self.floor {
            self.block_pos = 0;
            self.block_pick = self.next_random() & ((1 << self.floor) - 1);
        }
    }

    /// Keeps a value at the bottom level.
    #[inline]
    fn push(&mut self, value: f64) {
        self.levels[self.floor].push(key(value));
        self.size += 1;
        if self.size >= self.max_size {
            self.compress();
        }
    }

    /// Compacts full levels in place (no allocation once the levels have grown): the
    /// level is sorted and every other item, from a random offset, moves up with twice
    /// the weight; with an odd count the largest item stays behind.
    fn compress(&mut self) {
        while self.size >= self.max_size {
            let Some(level) = (self.floor..self.levels.len()).find(|&l| self.levels[l].len() >= self.capacities[l])
            else {
                return;
            };
            if level + 1 == self.levels.len() {
                self.levels.push(Vec::new());
                self.update_capacities();
            }
            self.levels[level].sort_unstable();
            let offset = (self.next_random() & 1) as usize;
            let (lower, upper) = self.levels.split_at_mut(level + 1);
            let items = &mut lower[level];
            let pairs = items.len() / 2;
            upper[0].extend(items[..2 * pairs].iter().skip(offset).step_by(2));
            items.drain(..2 * pairs);
            self.size -= pairs;
            if self.levels.len() - self.floor > MAX_DEPTH {
                self.raise_floor();
            }
        }
    }

    /// Replaces the bottom level by sampling: each of its items survives with probability 1/2, one level up.
    fn raise_floor(&mut self) {
        let bottom = std::mem::take(&mut self.levels[self.floor]);
        let before = bottom.len();
        let kept: Vec<i64> = bottom.into_iter().filter(|_| self.next_random() & 1 == 0).collect();
        self.size -= before - kept.len();
        self.floor += 1;
        self.levels[self.floor].extend(kept);
        self.block_pos = 0;
        self.block_pick = self.next_random() & ((1 << self.floor) - 1);
        self.update_capacities();
    }

    /// Folds another sketch in.
    pub fn merge(&mut self, other: &Self) {
        let floor = self.floor.max(other.floor);
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        for (level, items) in other.levels.iter().enumerate() {
            self.levels[level].extend_from_slice(items);
        }
        self.n += other.n;
        // Items below the common floor move up to it, each kept with probability 2^(level - floor).
        for level in 0..floor {
            let items = std::mem::take(&mut self.levels[level]);
            let mask = (1u64 << (floor - level)) - 1;
            for v in items {
                if self.next_random() & mask == 0 {
                    self.levels[floor].push(v);
                }
            }
        }
        self.floor = floor;
        self.size = self.levels.iter().map(Vec::len).sum();
        self.update_capacities();
        self.compress();
        while self.levels.len() - self.floor > MAX_DEPTH {
            self.raise_floor();
        }
    }

    /// The retained items with their weights, sorted by value: the sketch's
    /// approximation of the sorted data.
    pub fn weighted(&self) -> Vec<(f64, u64)> {
        let mut weighted: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(l, items)| items.iter().map(move |&k| (value(k), 1u64 << l)))
            .collect();
        weighted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        weighted
    }

    /// The value at quantile `q` (0 to 1), or `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let weighted = self.weighted();
        if weighted.is_empty() {
            return None;
        }
        let total: u64 = weighted.iter().map(|w| w.1).sum();
        let target = q.clamp(0.0, 1.0) * total as f64;
        let mut cumulative = 0u64;
        for &(v, w) in &weighted {
            cumulative += w;
            if cumulative as f64 >= target {
                return Some(v);
            }
        }
        weighted.last().map(|w| w.0)
    }

    /// The state, for the metrics history.
    pub fn to_state(&self) -> KllState {
        KllState {
            k: self.k,
            n: self.n,
            floor: self.floor as u32,
            levels: self
                .levels
                .iter()
                .map(|items| items.iter().map(|&k| value(k)).collect())
                .collect(),
        }
    }

    /// A sketch from a stored state; `None` if malformed.
    pub fn from_state(state: &KllState) -> Option<Self> {
        if state.levels.is_empty() || state.levels.len() > 64 || state.floor as usize >= state.levels.len() {
            return None;
        }
        let mut s = Self::new(state.k);
        s.levels = state
            .levels
            .iter()
            .map(|items| items.iter().map(|&v| key(v)).collect())
            .collect();
        s.floor = state.floor as usize;
        s.n = state.n;
        s.size = s.levels.iter().map(Vec::len).sum();
        s.update_capacities();
        Some(s)
    }
}

/// The integer whose order is `f64::total_cmp`'s order of the values: the bits with
/// the magnitude bits of a negative number flipped (the key `total_cmp` compares).
#[inline]
fn key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The value of a [`key`] (flipping the same bits again).
#[inline]
fn value(k: i64) -> f64 {
    f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64)
}

/// A serialized [`Kll`]: `levels[l]` holds items of weight 2^l. In JSON it is
/// the binary form of [`super::codec`] (kind 2) as base64; the JSON object form
/// of records written before that still reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "KllWire", into = "KllWire")]
pub struct KllState {
    pub k: u32,
    pub n: u64,
    pub floor: u32,
    pub levels: Vec<Vec<f64>>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum KllWire {
    Binary(String),
    Legacy {
        k: u32,
        n: u64,
        floor: u32,
        levels: Vec<Vec<f64>>,
    },
}

impl From<KllState> for KllWire {
    fn from(s: KllState) -> Self {
        Self::Binary(codec::encode(codec::KIND_KLL, |out| {
            out.extend_from_slice(&s.k.to_le_bytes());
            out.extend_from_slice(&s.n.to_le_bytes());
            out.extend_from_slice(&s.floor.to_le_bytes());
            out.extend_from_slice(&(s.levels.len() as u32).to_le_bytes());
            for level in &s.levels {
                out.extend_from_slice(&(level.len() as u32).to_le_bytes());
                for v in level {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }))
    }
}

impl TryFrom<KllWire> for KllState {
    type Error = codec::CodecError;

    fn try_from(wire: KllWire) -> Result<Self, Self::Error> {
        match wire {
            KllWire::Legacy { k, n, floor, levels } => Ok(Self { k, n, floor, levels }),
            KllWire::Binary(text) => {
                let mut r = codec::decode(&text, codec::KIND_KLL)?;
                let (k, n, floor) = (r.u32()?, r.u64()?, r.u32()?);
                let count = r.count(4)?;
                let mut levels = Vec::with_capacity(count);
                for _ in 0..count {
                    let items = r.count(8)?;
                    levels.push((0..items).map(|_| r.f64()).collect::<Result<Vec<_>, _>>()?);
                }
                r.finish()?;
                Ok(Self { k, n, floor, levels })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank_error(sketch: &Kll, sorted: &[f64], q: f64) -> f64 {
        let v = sketch.quantile(q).unwrap();
        let rank = sorted.partition_point(|&x| x < v) as f64 / sorted.len() as f64;
        (rank - q).abs()
    }

    fn shuffled(n: usize) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        rng.shuffle(&mut v);
        v
    }

    #[test]
    fn small_inputs_are_exact() {
        let mut s = Kll::default();
        for v in [5.0, 1.0, 3.0, 2.0, 4.0] {
            s.insert(v);
        }
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(0.5), Some(3.0));
        assert_eq!(s.quantile(1.0), Some(5.0));
        assert_eq!(Kll::default().quantile(0.5), None);
    }

    #[test]
    fn rank_error_is_small_on_a_million_values() {
        let values = shuffled(1_000_000);
        let mut s = Kll::default();
        for &v in &values {
            s.insert(v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            assert!(rank_error(&s, &sorted, q) < 0.02, "q={q}");
        }
        assert_eq!(s.count(), 1_000_000);
        // Retained items stay bounded.
        assert!(s.to_state().levels.iter().map(Vec::len).sum::<usize>() < 1_000);
    }

    #[test]
    fn floats_sort_in_total_order() {
        let mut items = vec![
            3.5,
            -0.0,
            f64::INFINITY,
            -2.0,
            0.0,
            f64::NEG_INFINITY,
            1e-300,
            -1e300,
            2.0,
        ];
        let mut want = items.clone();
        want.sort_unstable_by(f64::total_cmp);
        let mut keys: Vec<i64> = items.iter().map(|&v| key(v)).collect();
        keys.sort_unstable();
        items = keys.into_iter().map(value).collect();
        assert_eq!(
            items.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_slice_builds_the_same_sketch_as_one_value_at_a_time() {
        // Sizes before, at and well past the sampler; slices of uneven lengths; a NaN.
        for n in [0usize, 5, 600, 20_000, 700_000] {
            let mut values = shuffled(n);
            if n > 10 {
                values[n / 2] = f64::NAN;
            }
            let mut one = Kll::default();
            values.iter().for_each(|&v| one.insert(v));
            let mut sliced = Kll::default();
            let mut rest = values.as_slice();
            let mut len = 1;
            while !rest.is_empty() {
                let (run, tail) = rest.split_at(len.min(rest.len()));
                sliced.insert_slice(run);
                rest = tail;
                len = len * 3 + 1;
            }
            assert_eq!(sliced.to_state(), one.to_state(), "n={n}");
            assert_eq!(
                (sliced.block_pos, sliced.block_pick),
                (one.block_pos, one.block_pick),
                "n={n}"
            );
        }
    }

    #[test]
    fn merged_pieces_are_as_accurate() {
        let values = shuffled(400_000);
        let mut pieces: Vec<Kll> = values
            .chunks(100_000)
            .map(|chunk| {
                let mut s = Kll::default();
                chunk.iter().for_each(|&v| s.insert(v));
                s
            })
            .collect();
        let mut merged = pieces.remove(0);
        for p in &pieces {
            merged.merge(p);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        for q in [0.1, 0.5, 0.9] {
            assert!(rank_error(&merged, &sorted, q) < 0.02, "q={q}");
        }
        assert_eq!(merged.count(), 400_000);
    }

    #[test]
    fn state_round_trips() {
        let mut s = Kll::default();
        shuffled(50_000).into_iter().for_each(|v| s.insert(v));
        let back =
            Kll::from_state(&serde_json::from_str(&serde_json::to_string(&s.to_state()).unwrap()).unwrap()).unwrap();
        assert_eq!(back.quantile(0.5), s.quantile(0.5));
        assert!(
            Kll::from_state(&KllState {
                k: 200,
                n: 0,
                floor: 3,
                levels: vec![vec![]]
            })
            .is_none()
        );
    }

    #[test]
    fn states_round_trip_through_the_binary_form_and_the_legacy_json_still_reads() {
        let mut s = Kll::new(16);
        (0..1000).for_each(|i| s.insert(f64::from(i) * 0.5));
        let state = s.to_state();
        let json = serde_json::to_value(&state).unwrap();
        assert!(json.as_str().unwrap().starts_with("QURTS"), "base64 of ADSK: {json}");
        let back: KllState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
        let legacy = serde_json::json!({"k": 200, "n": 2, "floor": 0, "levels": [[1.0, 2.0]]});
        let old: KllState = serde_json::from_value(legacy).unwrap();
        assert_eq!(Kll::from_state(&old).unwrap().quantile(1.0), Some(2.0));
        assert!(serde_json::from_value::<KllState>(serde_json::json!("QURTSwIC")).is_err());
    }
}

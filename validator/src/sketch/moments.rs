//! Count, mean and variance, merged with Chan et al.'s parallel form of Welford's
//! algorithm: a slice is summarized in two passes (mean, then squared deviations,
//! each summed in lanes) and folded in, which is numerically stable and vectorizes.

use serde::{Deserialize, Serialize};

/// Running moments of a stream of numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub count: u64,
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Adds one value (Welford).
    pub fn insert(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Adds a slice of values.
    pub fn insert_slice(&mut self, xs: &[f64]) {
        if xs.is_empty() {
            return;
        }
        let n = xs.len() as f64;
        let mean = lane_sum(xs, |x| x) / n;
        let m2 = lane_sum(xs, |x| (x - mean) * (x - mean));
        self.merge(&Self {
            count: xs.len() as u64,
            mean,
            m2,
        });
    }

    /// Folds in moments of other values.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        let (na, nb, n) = (self.count as f64, other.count as f64, count as f64);
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count = count;
    }

    /// Mean, if any value was seen.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// Sample standard deviation (n − 1), if at least two values were seen.
    pub fn stddev(&self) -> Option<f64> {
        (self.count > 1).then(|| (self.m2 / (self.count - 1) as f64).sqrt())
    }
}

/// The sum of `f(x)` over a slice, accumulated in eight independent lanes: no
/// addition waits for the one before, so the loop vectorizes instead of running at
/// one add per latency (the rounding differs from a left fold in the last bits).
#[inline]
fn lane_sum(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    const LANES: usize = 8;
    let chunks = xs.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    let mut lanes = [0.0; LANES];
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (values, mean, stddev)
        let cases: [(&[f64], Option<f64>, Option<f64>); 4] = [
            (&[], None, None),
            (&[4.0], Some(4.0), None),
            (
                &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],
                Some(5.0),
                Some(2.138_089_935_299_395),
            ),
            (&[1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0], Some(1e9 + 2.0), Some(1.0)),
        ];
        for (values, mean, stddev) in cases {
            let mut one = Moments::default();
            values.iter().for_each(|&v| one.insert(v));
            let mut sliced = Moments::default();
            sliced.insert_slice(values);
            for m in [one, sliced] {
                assert_eq!(m.mean(), mean, "{values:?}");
                match (m.stddev(), stddev) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{values:?}: {a} vs {b}"),
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
    }

    #[test]
    fn merge_matches_sequential() {
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64).sin() * 100.0).collect();
        let mut all = Moments::default();
        all.insert_slice(&xs);
        let mut parts = Moments::default();
        for chunk in xs.chunks(77) {
            let mut p = Moments::default();
            p.insert_slice(chunk);
            parts.merge(&p);
        }
        assert_eq!(parts.count, 1000);
        assert!((parts.mean - all.mean).abs() < 1e-9);
        assert!((parts.m2 - all.m2).abs() < 1e-6);
    }
}

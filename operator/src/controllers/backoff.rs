//! Per-object exponential backoff with jitter for failed reconciliations
//! (kube-runtime has none built in): a throttled or failing object backs off
//! on its own, without slowing the others.

use std::{collections::HashMap, sync::Mutex, time::Duration};

/// First retry delay.
const BASE: Duration = Duration::from_secs(1);
/// Longest retry delay: a failing object is still retried every few minutes.
const MAX: Duration = Duration::from_secs(300);

/// The delay before retry number `failures` (1 for the first failure) of
/// reconciliation errors, with `jitter` in [0, 1) spreading it over [delay/2, delay).
///
/// Pure.
pub fn delay(failures: u32, jitter: f64) -> Duration {
    exponential(BASE, MAX, failures, jitter)
}

/// `base` doubled for every failure after the first, capped at `max`, then
/// spread by `jitter` in [0, 1) over [delay/2, delay) so that retries of many
/// objects do not arrive together.
///
/// Pure.
pub fn exponential(base: Duration, max: Duration, failures: u32, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = base.saturating_mul(1u32 << exp).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Failure counts per object.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait.
    pub fn failed(&self, key: &str) -> Duration {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        delay(*count, fastrand::f64())
    }

    /// Forgets the failures of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_below_full() {
        let cases = [
            (1, 0.0, 500),
            (1, 0.999, 999),
            (2, 0.0, 1000),
            (4, 0.0, 4000),
            (10, 0.0, 150_000),
            (40, 0.0, 150_000),
        ];
        for (failures, jitter, want_ms) in cases {
            assert_eq!(
                delay(failures, jitter).as_millis(),
                want_ms,
                "failures {failures} jitter {jitter}"
            );
        }
        assert!(delay(100, 0.99) < MAX);
    }

    #[test]
    fn success_resets() {
        let backoff = Backoff::default();
        backoff.failed("a");
        backoff.failed("a");
        let third = backoff.failed("a");
        assert!(third >= Duration::from_secs(2), "{third:?}");
        backoff.succeeded("a");
        assert!(backoff.failed("a") < Duration::from_secs(1));
    }
}

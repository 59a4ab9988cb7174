//! How often each controller's busiest object was reconciled in the last
//! minute: the measure of a hot loop (an object requeued every second, or a
//! status write that wakes its own controller), one number per controller
//! so the metric stays small however many objects there are
//! (`ade_reconcile_busiest_object_last_minute`, refreshed when scraped). An
//! object that reaches [`WARN_AT`] in a minute is named once in a warning,
//! so a person can tell which one.
//!
//! Pure: time is passed in.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

/// The window reconciliations are counted over.
const WINDOW: Duration = Duration::from_secs(60);
/// Reconciliations of one object in a minute that earn a warning: one every
/// three seconds, twice what the busiest object needs in the spec fuzz test
/// (runs polling their cluster, pools resyncing every 10 s).
pub const WARN_AT: usize = 20;
/// Reconciliations between sweeps of objects not seen for a minute, so the
/// map holds only recent objects even when nobody scrapes.
const SWEEP_EVERY: u32 = 1024;

/// Reconciliation times of each object of one controller over the last minute.
#[derive(Debug, Default)]
pub struct Busiest {
    recent: HashMap<String, VecDeque<Instant>>,
    warned: HashSet<String>,
    since_sweep: u32,
}

/// What one reconciliation changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The object's reconciliations in the last minute, this one included.
    pub last_minute: usize,
    /// This object just reached [`WARN_AT`] (reported once per object,
    /// again only after it has been quiet for a minute).
    pub warn: bool,
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
        times.pop_front();
    }
}

impl Busiest {
    /// Records a reconciliation of `key` at `now`.
    pub fn record(&mut self, key: &str, now: Instant) -> Recorded {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.busiest(now);
        }
        let times = self.recent.entry(key.to_owned()).or_default();
        prune(times, now);
        times.push_back(now);
        let last_minute = times.len();
        let warn = last_minute >= WARN_AT && self.warned.insert(key.to_owned());
        Recorded { last_minute, warn }
    }

    /// The most reconciliations of one object in the minute before `now`;
    /// forgets the objects not reconciled in it.
    pub fn busiest(&mut self, now: Instant) -> usize {
        self.since_sweep = 0;
        self.recent.retain(|_, times| {
            prune(times, now);
            !times.is_empty()
        });
        let recent = &self.recent;
        self.warned.retain(|k| recent.contains_key(k));
        self.recent.values().map(VecDeque::len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_object_over_a_sliding_minute() {
        let mut b = Busiest::default();
        let t0 = Instant::now();
        for s in 0..10 {
            b.record("ns/a", t0 + Duration::from_secs(s * 10));
        }
        assert_eq!(b.record("ns/b", t0 + Duration::from_secs(95)).last_minute, 1);
        // 50..100 s: 6 reconciliations in the last minute.
        assert_eq!(b.record("ns/a", t0 + Duration::from_secs(100)).last_minute, 6);
        assert_eq!(b.busiest(t0 + Duration::from_secs(100)), 6);
    }

    #[test]
    fn a_burst_ages_out_and_a_hot_loop_is_warned_about_once() {
        let mut b = Busiest::default();
        let t0 = Instant::now();
        let warnings = (0..120)
            .map(|i| b.record("ns/hot", t0 + Duration::from_millis(i * 500)))
            .filter(|r| r.warn)
            .count();
        assert_eq!(warnings, 1);
        assert_eq!(b.busiest(t0 + Duration::from_millis(59_500)), 120);
        assert_eq!(b.busiest(t0 + Duration::from_secs(120)), 0, "quiet for a minute");
        assert!(b.recent.is_empty() && b.warned.is_empty(), "and forgotten");
    }

    #[test]
    fn objects_not_seen_for_a_minute_are_forgotten_without_scrapes() {
        let mut b = Busiest::default();
        let t0 = Instant::now();
        for i in 0..100 {
            b.record(&format!("ns/run-{i}"), t0);
        }
        let later = t0 + Duration::from_secs(120);
        for _ in 0..SWEEP_EVERY {
            b.record("ns/live", later);
        }
        assert_eq!(b.recent.len(), 1);
    }
}

//! A job's cadence: schedule ticks → data windows → batch ids.
//!
//! A tick at `T` covers the window that ends `delay` before `T` and lasts
//! `size`; without an explicit window it covers the interval since the
//! previous tick. The batch id is the window start in the job's time zone, at
//! the precision of the window (`2026-11-25` for days, `2026-11-25T13` for
//! hours, `2026-11-25T1305` for minutes). In the hour that happens twice when
//! clocks go back, the second window gets the suffix `.2`, so two windows never
//! share an id (and never overwrite each other's output).
//!
//! Pure: no clock, no I/O.

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime, Time},
    tz::{AmbiguousOffset, TimeZone},
};

use super::cron::Cron;

/// The data window of one batch: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

/// One batch: its id and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Stable id derived from the window.
    pub id: String,
    /// The window.
    pub window: Window,
}

/// How a job's batches are laid out in time.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Option<Cron>,
    tz: TimeZone,
    size: Option<SignedDuration>,
    delay: SignedDuration,
}

/// Why a cadence cannot produce what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadenceError {
    /// Neither a schedule nor a window size: batches have no shape.
    #[error("the job has neither a schedule nor window.size, so its batches have no window; set one of them")]
    NoWindow,
    /// A batch id that this cadence does not produce.
    #[error(
        "batch id {0:?} is not a window start of this job (expected e.g. 2026-11-25, 2026-11-25T13 or 2026-11-25T1305)"
    )]
    UnknownBatchId(String),
}

/// Most ticks examined in one call: bounds the work of a misconfigured job.
const MAX_TICKS: usize = 100_000;

impl Cadence {
    /// A cadence from its parts; `size` None means "since the previous tick".
    pub fn new(
        cron: Option<Cron>,
        tz: TimeZone,
        size: Option<std::time::Duration>,
        delay: std::time::Duration,
    ) -> Self {
        let signed = |d: std::time::Duration| SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
        Self {
            cron,
            tz,
            size: size.map(signed),
            delay: signed(delay),
        }
    }

    /// The first tick strictly after `after`.
    pub fn next_tick(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron.as_ref()?.next_after(after, &self.tz)
    }

    /// Ticks in `(after, until]`, oldest first.
    pub fn ticks_between(&self, after: Timestamp, until: Timestamp) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut cursor = after;
        while let Some(tick) = self.next_tick(cursor) {
            if tick > until || out.len() >= MAX_TICKS {
                break;
            }
            out.push(tick);
            cursor = tick;
        }
        out
    }

    /// The last tick strictly before `before`.
    fn previous_tick(&self, before: Timestamp) -> Option<Timestamp> {
        for days in [1i64, 8, 32, 367, 5 * 366] {
            let from = before.checked_sub(SignedDuration::from_hours(24 * days)).ok()?;
            let ticks = self.ticks_between(from, before);
            if let Some(last) = ticks.into_iter().rev().find(|t| *t < before) {
                return Some(last);
            }
        }
        None
    }

    /// The window a tick covers.
    pub fn window_for_tick(&self, tick: Timestamp) -> Option<Window> {
        match self.size {
            Some(size) => {
                let end = tick.checked_sub(self.delay).ok()?;
                Some(Window {
                    start: end.checked_sub(size).ok()?,
                    end,
                })
            }
            None => Some(Window {
                start: self.previous_tick(tick)?,
                end: tick,
            }),
        }
    }

    /// The batch of a tick.
    pub fn batch_for_tick(&self, tick: Timestamp) -> Option<Batch> {
        let window = self.window_for_tick(tick)?;
        Some(Batch {
            id: self.batch_id(&window),
            window,
        })
    }

    /// Every whole window inside `[from, to)`, oldest first: the schedule's
    /// windows when there is a schedule (so a backfill batch is the same batch a
    /// scheduled run would have been), else back-to-back windows of `size` from `from`.
    pub fn batches_in(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Batch>, CadenceError> {
        let mut out = Vec::new();
        if self.cron.is_some() {
            // A tick's window ends `delay` before it: look for ticks up to to + delay.
            let until = to.checked_add(self.delay).unwrap_or(to);
            let start = from.checked_sub(SignedDuration::from_secs(1)).unwrap_or(from);
            for tick in self.ticks_between(start, until) {
                if let Some(batch) = self.batch_for_tick(tick)
                    && batch.window.start >= from
                    && batch.window.end <= to
                {
                    out.push(batch);
                }
            }
            return Ok(out);
        }
        let size = self.size.ok_or(CadenceError::NoWindow)?;
        let mut start = from;
        while out.len() < MAX_TICKS {
            let Ok(end) = start.checked_add(size) else { break };
            if end > to {
                break;
            }
            let window = Window { start, end };
            out.push(Batch {
                id: self.batch_id(&window),
                window,
            });
            start = end;
        }
        Ok(out)
    }

    /// The window of a batch id, for a rerun that names only the batch.
    pub fn window_for_batch(&self, id: &str) -> Result<Window, CadenceError> {
        let unknown = || CadenceError::UnknownBatchId(id.to_owned());
        let (base, second) = match id.strip_suffix(".2") {
            Some(base) => (base, true),
            None => (id, false),
        };
        let civil = parse_batch_start(base).ok_or_else(unknown)?;
        let ambiguous = self.tz.to_ambiguous_timestamp(civil);
        let start = if second { ambiguous.later() } else { ambiguous.earlier() }.map_err(|_| unknown())?;
        let size = match self.size {
            Some(size) => size,
            None => {
                let next = self.next_tick(start).ok_or_else(unknown)?;
                let window = self.window_for_tick(next).ok_or_else(unknown)?;
                if window.start != start {
                    return Err(unknown());
                }
                return Ok(window);
            }
        };
        let window = Window {
            start,
            end: start.checked_add(size).map_err(|_| unknown())?,
        };
        if self.batch_id(&window) != id {
            return Err(unknown());
        }
        Ok(window)
    }

    /// The id of the batch with `window`.
    pub fn batch_id(&self, window: &Window) -> String {
        let zoned = window.start.to_zoned(self.tz.clone());
        let length = window.end.duration_since(window.start);
        let day = SignedDuration::from_hours(24);
        let hour = SignedDuration::from_hours(1);
        let at_midnight = zoned.hour() == 0 && zoned.minute() == 0 && zoned.second() == 0;
        let on_the_hour = zoned.minute() == 0 && zoned.second() == 0;
        let base = if at_midnight && length >= day - hour && is_multiple(length, day, hour) {
            zoned.strftime("%Y-%m-%d").to_string()
        } else if on_the_hour && is_multiple(length, hour, SignedDuration::ZERO) {
            zoned.strftime("%Y-%m-%dT%H").to_string()
        } else {
            zoned.strftime("%Y-%m-%dT%H%M").to_string()
        };
        // The later of two instants with the same local time gets a suffix.
        let ambiguous = self.tz.to_ambiguous_timestamp(zoned.datetime());
        let second = matches!(ambiguous.offset(), AmbiguousOffset::Fold { .. })
            && ambiguous.later().is_ok_and(|later| later == window.start);
        if second { format!("{base}.2") } else { base }
    }
}

/// Whether `length` is a whole number of `unit`s, allowing `slack` either way
/// (a local day is 23 or 25 hours long across a DST change).
fn is_multiple(length: SignedDuration, unit: SignedDuration, slack: SignedDuration) -> bool {
    let secs = length.as_secs();
    let unit = unit.as_secs();
    let slack = slack.as_secs();
    if secs <= 0 || unit <= 0 {
        return false;
    }
    let rem = secs % unit;
    rem <= slack || unit - rem <= slack
}

fn parse_batch_start(id: &str) -> Option<DateTime> {
    let (date, time) = match id.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (id, None),
    };
    if date.len() != 10 {
        return None;
    }
    let date: Date = date.parse().ok()?;
    let (hour, minute): (i8, i8) = match time {
        None => (0, 0),
        Some(t) if t.len() == 2 => (t.parse().ok()?, 0),
        Some(t) if t.len() == 4 => (t[..2].parse().ok()?, t[2..].parse().ok()?),
        Some(_) => return None,
    };
    Some(date.to_datetime(Time::new(hour, minute, 0, 0).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn cadence(cron: Option<&str>, tz: &str, size: Option<u64>, delay: u64) -> Cadence {
        Cadence::new(
            cron.map(|c| c.parse().expect("cron")),
            TimeZone::get(tz).expect("zone"),
            size.map(std::time::Duration::from_secs),
            std::time::Duration::from_secs(delay),
        )
    }

    const H: u64 = 3600;

    #[test]
    fn batch_for_tick_table() {
        let cases = [
            // cron, zone, size, delay, tick, id, start, end
            (
                Some("5 * * * *"),
                "UTC",
                Some(H),
                300,
                "2026-11-25T14:05:00Z",
                "2026-11-25T13",
                "2026-11-25T13:00:00Z",
                "2026-11-25T14:00:00Z",
            ),
            (
                Some("0 * * * *"),
                "UTC",
                None,
                0,
                "2026-11-25T14:00:00Z",
                "2026-11-25T13",
                "2026-11-25T13:00:00Z",
                "2026-11-25T14:00:00Z",
            ),
            (
                Some("@daily"),
                "UTC",
                Some(24 * H),
                2 * H,
                "2026-11-26T00:00:00Z",
                "2026-11-24T22",
                "2026-11-24T22:00:00Z",
                "2026-11-25T22:00:00Z",
            ),
            (
                Some("0 2 * * *"),
                "UTC",
                Some(24 * H),
                2 * H,
                "2026-11-26T02:00:00Z",
                "2026-11-25",
                "2026-11-25T00:00:00Z",
                "2026-11-26T00:00:00Z",
            ),
            (
                Some("* * * * *"),
                "UTC",
                None,
                0,
                "2026-11-26T06:35:00Z",
                "2026-11-26T0634",
                "2026-11-26T06:34:00Z",
                "2026-11-26T06:35:00Z",
            ),
            // month end: the monthly window of November
            (
                Some("0 0 1 * *"),
                "UTC",
                None,
                0,
                "2026-12-01T00:00:00Z",
                "2026-11-01",
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ),
            // Berlin daily across spring forward: a 23-hour local day keeps a date id
            (
                Some("0 0 * * *"),
                "Europe/Berlin",
                None,
                0,
                "2026-03-29T22:00:00Z",
                "2026-03-29",
                "2026-03-28T23:00:00Z",
                "2026-03-29T22:00:00Z",
            ),
            // Berlin daily across autumn: a 25-hour day
            (
                Some("0 0 * * *"),
                "Europe/Berlin",
                None,
                0,
                "2026-10-25T23:00:00Z",
                "2026-10-25",
                "2026-10-24T22:00:00Z",
                "2026-10-25T23:00:00Z",
            ),
        ];
        for (cron, tz, size, delay, tick, id, start, end) in cases {
            let c = cadence(cron, tz, size, delay);
            let batch = c.batch_for_tick(ts(tick)).expect("a batch");
            assert_eq!(batch.id, id, "{cron:?} {tz} tick {tick}");
            assert_eq!(
                batch.window,
                Window {
                    start: ts(start),
                    end: ts(end)
                },
                "{cron:?} {tz} tick {tick}"
            );
        }
    }

    #[test]
    fn hourly_batches_across_the_autumn_fold_have_distinct_ids() {
        let c = cadence(Some("0 * * * *"), "Europe/Berlin", Some(H), 0);
        let batches = c
            .batches_in(ts("2026-10-24T23:00:00Z"), ts("2026-10-25T03:00:00Z"))
            .expect("batches");
        let ids: Vec<_> = batches.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            ["2026-10-25T01", "2026-10-25T02", "2026-10-25T02.2", "2026-10-25T03"]
        );
        for b in &batches {
            assert_eq!(c.window_for_batch(&b.id).expect("round trip"), b.window, "{}", b.id);
        }
    }

    #[test]
    fn hourly_batches_across_the_spring_gap() {
        let c = cadence(Some("0 * * * *"), "Europe/Berlin", Some(H), 0);
        let batches = c
            .batches_in(ts("2026-03-29T00:00:00Z"), ts("2026-03-29T02:00:00Z"))
            .expect("batches");
        let ids: Vec<_> = batches.iter().map(|b| b.id.as_str()).collect();
        // 02:00 local does not exist: 01:00 CET is followed by 03:00 CEST.
        assert_eq!(ids, ["2026-03-29T01", "2026-03-29T03"]);
    }

    #[test]
    fn backfill_windows_without_schedule_are_back_to_back() {
        let c = cadence(None, "UTC", Some(H), 0);
        let batches = c
            .batches_in(ts("2026-11-01T00:00:00Z"), ts("2026-11-01T06:00:00Z"))
            .expect("batches");
        assert_eq!(batches.len(), 6);
        assert_eq!(batches[0].id, "2026-11-01T00");
        assert_eq!(batches[5].id, "2026-11-01T05");
        // a partial last window is not a batch
        let partial = c
            .batches_in(ts("2026-11-01T00:00:00Z"), ts("2026-11-01T01:30:00Z"))
            .expect("batches");
        assert_eq!(partial.len(), 1);
        assert_eq!(
            cadence(None, "UTC", None, 0).batches_in(ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")),
            Err(CadenceError::NoWindow)
        );
    }

    #[test]
    fn backfill_with_schedule_uses_the_schedule_grid() {
        let c = cadence(Some("5 * * * *"), "UTC", Some(H), 300);
        let batches = c
            .batches_in(ts("2026-11-01T00:00:00Z"), ts("2026-11-01T03:00:00Z"))
            .expect("batches");
        let ids: Vec<_> = batches.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["2026-11-01T00", "2026-11-01T01", "2026-11-01T02"]);
    }

    #[test]
    fn batch_ids_parse_back_to_windows() {
        let c = cadence(Some("0 0 * * *"), "Europe/Berlin", None, 0);
        assert_eq!(
            c.window_for_batch("2026-11-25").expect("window"),
            Window {
                start: ts("2026-11-24T23:00:00Z"),
                end: ts("2026-11-25T23:00:00Z")
            }
        );
        let minutes = cadence(None, "UTC", Some(900), 0);
        assert_eq!(
            minutes.window_for_batch("2026-11-25T1315").expect("window"),
            Window {
                start: ts("2026-11-25T13:15:00Z"),
                end: ts("2026-11-25T13:30:00Z")
            }
        );
        for bad in ["yesterday", "2026-11-25T1", "2026-13-01", "2026-11-25T13"] {
            assert!(c.window_for_batch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ticks_between_is_half_open() {
        let c = cadence(Some("0 * * * *"), "UTC", None, 0);
        let ticks = c.ticks_between(ts("2026-11-25T13:00:00Z"), ts("2026-11-25T15:00:00Z"));
        assert_eq!(ticks, [ts("2026-11-25T14:00:00Z"), ts("2026-11-25T15:00:00Z")]);
    }
}

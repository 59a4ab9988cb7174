//! A job's cadence: schedule ticks → data windows → batch ids.
//!
//! A tick at `T` covers the window that ends `delay` before `T` and lasts
//! `size`; without an explicit window it covers the interval since the
//! previous tick.
//!
//! Windows tile time across daylight-saving changes. A schedule that fires
//! at one time of day (daily, weekly, monthly) with a `size` of whole days
//! counts on the wall clock: the tick scheduled at local time `N` covers
//! `[N - delay - size, N - delay)` in calendar days (23 or 25 hours across a
//! change), `N` being the scheduled time, not when the tick fires (a daily
//! 02:30 that fires at 03:00 because 02:30 was skipped still ends its window
//! at 02:30). Local times become instants by one monotone rule: a time in the
//! spring-forward gap is the gap's end, a repeated time its first occurrence.
//! Any other size is exact; with an every-hour or every-few-minutes schedule
//! (which follows elapsed time, see [`super::cron`]) and a size of its period
//! those windows tile time too.
//!
//! The batch id is the window start in the job's time zone, at
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
    /// More back-to-back windows than a count can hold.
    #[error("the range holds more than 2^31 windows; use a shorter range or a longer window")]
    TooManyBatches,
    /// A batch id that this cadence does not produce.
    #[error(
        "batch id {0:?} is not a window start of this job (expected e.g. 2026-11-25, 2026-11-25T13 or 2026-11-25T1305)"
    )]
    UnknownBatchId(String),
}

/// Most ticks the test-only walks examine.
#[cfg(test)]
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

    /// Ticks in `(after, until]`, oldest first: a walk over every tick, for
    /// tests to check the bounded look-ups against.
    #[cfg(test)]
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

    /// The last tick strictly before `before`, or `None` when there is none
    /// in the five years before it.
    ///
    /// A bisection on [`Cadence::next_tick`]: about 30 look-ups whatever the
    /// schedule, never a walk over the ticks in between.
    pub fn previous_tick(&self, before: Timestamp) -> Option<Timestamp> {
        let horizon = SignedDuration::from_hours(24 * 5 * 366);
        let before_tick = |t: Timestamp| self.next_tick(t).filter(|tick| *tick < before);
        // Widen the look-back until it holds a tick.
        let mut span = SignedDuration::from_mins(1);
        let mut lo = loop {
            let from = before.checked_sub(span).ok()?;
            if before_tick(from).is_some() {
                break from;
            }
            if span >= horizon {
                return None;
            }
            span = span.checked_mul(2)?;
        };
        // Invariant: a tick lies in (lo, before), none in (hi, before).
        let mut hi = before;
        while hi.duration_since(lo) > SignedDuration::from_secs(1) {
            let mid = lo.checked_add(hi.duration_since(lo) / 2).ok()?;
            if before_tick(mid).is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        // Ticks fall on whole seconds: (lo, hi] holds exactly one.
        before_tick(lo)
    }

    /// The newest tick at or before `at`.
    pub fn latest_tick(&self, at: Timestamp) -> Option<Timestamp> {
        self.previous_tick(at.checked_add(SignedDuration::from_nanos(1)).ok()?)
    }

    /// The tick whose window is `window` (schedules only): read off the wall
    /// clock for calendar windows, else `delay` after its end with an
    /// explicit window size, its end without one.
    fn tick_of(&self, window: &Window) -> Option<Timestamp> {
        self.cron.as_ref()?;
        match self.size {
            Some(_) if self.calendar().is_some() => self.calendar_tick(window.end, self.delay, |w| w.end),
            Some(_) => window.end.checked_add(self.delay).ok(),
            None => Some(window.end),
        }
    }

    /// The batch right after `batch` in time: the next tick's, or with no
    /// schedule the window that starts where this one ends.
    pub fn batch_after(&self, batch: &Batch) -> Option<Batch> {
        match self.tick_of(&batch.window) {
            Some(tick) => self.batch_for_tick(self.next_tick(tick)?),
            None => self.sized_batch(batch.window.end),
        }
    }

    /// The batch right before `batch` in time.
    pub fn batch_before(&self, batch: &Batch) -> Option<Batch> {
        match self.tick_of(&batch.window) {
            Some(tick) => self.batch_for_tick(self.previous_tick(tick)?),
            None => self.sized_batch(batch.window.start.checked_sub(self.size?).ok()?),
        }
    }

    /// The batch whose window starts at `start`, if this cadence has one.
    pub fn batch_starting_at(&self, start: Timestamp) -> Option<Batch> {
        let batch = match (&self.cron, self.size) {
            (Some(_), Some(size)) if self.calendar().is_some() => {
                self.batch_for_tick(self.calendar_tick(start, self.delay.checked_add(size)?, |w| w.start)?)
            }
            (Some(_), Some(size)) => self.batch_for_tick(start.checked_add(size).ok()?.checked_add(self.delay).ok()?),
            (Some(_), None) => self.batch_for_tick(self.next_tick(start)?),
            (None, Some(_)) => self.sized_batch(start),
            (None, None) => None,
        };
        batch.filter(|b| b.window.start == start)
    }

    /// The back-to-back window of `size` starting at `start`, as a batch.
    fn sized_batch(&self, start: Timestamp) -> Option<Batch> {
        let window = Window {
            start,
            end: start.checked_add(self.size?).ok()?,
        };
        Some(Batch {
            id: self.batch_id(&window),
            window,
        })
    }

    /// The oldest whole batch inside `[from, to)`, in a bounded number of
    /// look-ups (see [`Cadence::batches_in`] for which windows count).
    pub fn first_batch_in(&self, from: Timestamp, to: Timestamp) -> Result<Option<Batch>, CadenceError> {
        let tick = |t: Timestamp| {
            t.checked_sub(SignedDuration::from_nanos(1))
                .ok()
                .and_then(|t| self.next_tick(t))
        };
        let batch = match (&self.cron, self.size) {
            (Some(_), Some(size)) if self.calendar().is_some() => self
                .delay
                .checked_add(size)
                .and_then(|back| self.first_calendar_tick(from, back, |w| w.start))
                .and_then(|(tick, _)| self.batch_for_tick(tick)),
            // A tick's window starts `delay + size` before it.
            (Some(_), Some(size)) => from
                .checked_add(self.delay)
                .and_then(|t| t.checked_add(size))
                .ok()
                .and_then(tick)
                .and_then(|t| self.batch_for_tick(t)),
            // The window of a tick starts at the tick before it.
            (Some(_), None) => tick(from)
                .and_then(|first| self.next_tick(first))
                .and_then(|t| self.batch_for_tick(t)),
            (None, Some(_)) => self.sized_batch(from),
            (None, None) => return Err(CadenceError::NoWindow),
        };
        Ok(batch.filter(|b| b.window.start >= from && b.window.end <= to))
    }

    /// The newest whole batch inside `[from, to)`.
    pub fn last_batch_in(&self, from: Timestamp, to: Timestamp) -> Result<Option<Batch>, CadenceError> {
        let batch = match (&self.cron, self.size) {
            (Some(_), Some(_)) if self.calendar().is_some() => {
                self.last_calendar_tick(to).and_then(|t| self.batch_for_tick(t))
            }
            // A tick's window ends `delay` before it (with a window size).
            (Some(_), Some(_)) => to
                .checked_add(self.delay)
                .ok()
                .and_then(|t| self.latest_tick(t))
                .and_then(|t| self.batch_for_tick(t)),
            (Some(_), None) => self.latest_tick(to).and_then(|t| self.batch_for_tick(t)),
            (None, Some(size)) => {
                let whole = to.duration_since(from).as_nanos() / size.as_nanos().max(1);
                match i32::try_from(whole) {
                    Ok(n) if n >= 1 => from
                        .checked_add(size * (n - 1))
                        .ok()
                        .and_then(|start| self.sized_batch(start)),
                    Ok(_) => None,
                    Err(_) => return Err(CadenceError::TooManyBatches),
                }
            }
            (None, None) => return Err(CadenceError::NoWindow),
        };
        Ok(batch.filter(|b| b.window.start >= from && b.window.end <= to))
    }

    /// How many batches lie from `first` to `last`, both included: a count
    /// of ticks by whole days (see [`Cron::count_between`]), not a walk.
    pub fn batches_from_to(&self, first: &Batch, last: &Batch) -> u64 {
        if last.window.start < first.window.start {
            return 0;
        }
        match (&self.cron, self.tick_of(&first.window), self.tick_of(&last.window)) {
            (Some(cron), Some(a), Some(b)) => a
                .checked_sub(SignedDuration::from_nanos(1))
                .map_or(0, |a| cron.count_between(a, b, &self.tz)),
            _ => {
                let size = self.size.map_or(1, |s| s.as_nanos().max(1));
                let span = last.window.start.duration_since(first.window.start).as_nanos();
                u64::try_from(span / size).unwrap_or(u64::MAX).saturating_add(1)
            }
        }
    }

    /// The window a tick covers (see the module docs for calendar windows).
    pub fn window_for_tick(&self, tick: Timestamp) -> Option<Window> {
        match self.size {
            Some(size) if let Some(cron) = self.calendar() => self.calendar_window(cron, size, tick),
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
    /// A walk over every tick, for tests to check the bounded look-ups against.
    #[cfg(test)]
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
            // Calendar windows vary in length: the window that starts here.
            Some(_) if self.calendar().is_some() => {
                let batch = self.batch_starting_at(start).filter(|b| b.id == id);
                return batch.map(|b| b.window).ok_or_else(unknown);
            }
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

#[path = "calendar.rs"]
mod calendar;

#[cfg(test)]
#[path = "cadence_tests.rs"]
mod tests;

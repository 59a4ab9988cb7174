//! Cron expressions: parsing, and the next due time in a time zone.
//!
//! Five fields (minute hour day-of-month month day-of-week) with `*`, lists,
//! ranges, steps and English names, plus the `@hourly`-style macros. When both
//! day fields are restricted a day matches if either does (Vixie cron).
//!
//! Daylight saving time. A schedule that fires every hour (hour field `*`)
//! follows elapsed time: a local time in the spring-forward gap is skipped
//! (the hour did not happen) and in the autumn fold it is due at both
//! occurrences (every real hour gets its tick). Any other schedule follows the
//! wall clock, much as Vixie cron treats fixed-time jobs: a local time in the
//! gap is due at the first instant after it, the end of the gap (so the day
//! keeps its run), and a local time in the fold is due once, at its first
//! occurrence. Due times are instants: the local times of one gap, and a
//! local time exactly at its end, are one due time.
//!
//! Pure: no I/O, no clock.

use std::fmt;

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime, Time},
    tz::{AmbiguousOffset, TimeZone},
};

use super::{gap_ending_at, instant_of};

/// A parsed cron expression.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    dom_restricted: bool,
    dow_restricted: bool,
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cron")
            .field("minutes", &format_args!("{:#x}", self.minutes))
            .field("hours", &format_args!("{:#x}", self.hours))
            .field("days_of_month", &format_args!("{:#x}", self.days_of_month))
            .field("months", &format_args!("{:#x}", self.months))
            .field("days_of_week", &format_args!("{:#x}", self.days_of_week))
            .finish()
    }
}

/// Why a cron expression did not parse. The message names the field and the
/// offending text so a person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not five fields and not a known macro.
    #[error(
        "cron expression {0:?} has {1} fields; write five (minute hour day-of-month month day-of-week) or one of @hourly, @daily, @weekly, @monthly, @yearly"
    )]
    FieldCount(String, usize),
    /// A field holds something that is not a number, name, range, list or step.
    #[error("cron {field} field {text:?} is not valid: {why}")]
    Field {
        /// Which field.
        field: &'static str,
        /// The field's text.
        text: String,
        /// What is wrong.
        why: String,
    },
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl std::str::FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expanded = match s.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(CronError::FieldCount(s.to_owned(), fields.len()));
        };
        let mut days_of_week = parse_field(dow, &DAY_OF_WEEK)?;
        // 7 is Sunday too.
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(Self {
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days_of_month: parse_field(dom, &DAY_OF_MONTH)?,
            months: parse_field(month, &MONTH)?,
            days_of_week,
            dom_restricted: !dom.starts_with('*'),
            dow_restricted: !dow.starts_with('*'),
        })
    }
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let err = |why: String| CronError::Field {
        field: spec.name,
        text: text.to_owned(),
        why,
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| err(format!("step {step:?} must be a positive number")))?;
                (range, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((lo, hi)) = range.split_once('-') {
            (value(lo, spec).map_err(&err)?, value(hi, spec).map_err(&err)?)
        } else {
            let v = value(range, spec).map_err(&err)?;
            // `5/15` means from 5 to the end in steps of 15.
            (v, if part.contains('/') { spec.max } else { v })
        };
        if lo > hi {
            return Err(err(format!("range {range:?} runs backwards")));
        }
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        let offset = if spec.min == 1 { 1 } else { 0 };
        return Ok(i as u32 + offset);
    }
    let v: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number or a name"))?;
    if v < spec.min || v > spec.max {
        return Err(format!("{v} is outside {}-{}", spec.min, spec.max));
    }
    Ok(v)
}

/// How far ahead [`Cron::next_after`] looks before concluding that an
/// expression never fires (such as `0 0 31 2 *`): a leap-year cycle and a bit.
const SEARCH_DAYS: i32 = 5 * 366;

/// The hours bit set of `*`.
const ALL_HOURS: u64 = (1 << 24) - 1;

impl Cron {
    /// Whether the schedule fires every hour: it follows elapsed time across
    /// offset changes (see the module docs).
    fn every_hour(&self) -> bool {
        self.hours == ALL_HOURS
    }

    /// Whether the schedule fires at one time of day (one minute, one hour),
    /// on whichever days: a daily, weekly or monthly schedule.
    pub(crate) fn at_one_time_of_day(&self) -> bool {
        self.hours.count_ones() == 1 && self.minutes.count_ones() == 1
    }

    /// The local time a due time `tick` of this schedule stands for: its own
    /// local time, except at the end of a gap that skipped local times the
    /// schedule names, where it is the earliest of them (a daily 02:30 due at
    /// 03:00 on the spring-forward day stands for 02:30).
    pub(crate) fn scheduled_time(&self, tick: Timestamp, tz: &TimeZone) -> DateTime {
        let local = tz.to_datetime(tick);
        if self.every_hour() {
            return local;
        }
        gap_ending_at(tick, tz)
            .and_then(|(start, end)| {
                let just_before = start.checked_sub(SignedDuration::from_nanos(1)).ok()?;
                self.next_civil_after(just_before).filter(|due| *due < end)
            })
            .unwrap_or(local)
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first due time strictly after `after`, read in `tz`; `None` when the
    /// expression never fires.
    ///
    /// Costs a handful of bit operations and two time-zone look-ups, whatever
    /// the schedule: between two offset changes of `tz`, local time is UTC
    /// plus a fixed offset, so the next matching local time is found on the
    /// bit sets alone. Only when `after` sits in a repeated hour, or the answer
    /// would lie past the next offset change, does it scan local days one
    /// by one ([`Cron::next_after_by_day`]).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        #[cfg(test)]
        CALLS.with(|c| c.set(c.get() + 1));
        let offset = tz.to_offset(after);
        let local = offset.to_datetime(after);
        let in_fold = matches!(tz.to_ambiguous_timestamp(local).offset(), AmbiguousOffset::Fold { .. });
        if !in_fold {
            let civil = self.next_civil_after(local)?;
            let due = offset.to_timestamp(civil).ok()?;
            let change = tz.following(after).next().map(|t| t.timestamp());
            if change.is_none_or(|change| due < change) {
                return Some(due);
            }
        }
        self.next_after_by_day(after, tz)
    }

    /// The first local time (on a whole minute) strictly after `local` that
    /// matches, by the bit sets alone; `None` when none does within
    /// [`SEARCH_DAYS`].
    fn next_civil_after(&self, local: DateTime) -> Option<DateTime> {
        let mut date = local.date();
        let (first_hour, first_minute) = (local.hour(), local.minute() + 1);
        for day in 0..SEARCH_DAYS {
            if self.months & (1 << date.month()) != 0 && self.day_matches(date) {
                let from_hour = if day == 0 { first_hour } else { 0 };
                for hour in from_hour..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let from_minute = if day == 0 && hour == first_hour {
                        first_minute
                    } else {
                        0
                    };
                    let minutes = (self.minutes >> from_minute) << from_minute;
                    if minutes != 0 {
                        let minute = i8::try_from(minutes.trailing_zeros()).ok()?;
                        return Some(DateTime::from_parts(date, Time::new(hour, minute, 0, 0).ok()?));
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// [`Cron::next_after`] by looking at each local day in turn: correct
    /// across offset changes, used only near them.
    fn next_after_by_day(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = tz.to_datetime(after);
        let mut date = start.date();
        for _ in 0..SEARCH_DAYS {
            if self.months & (1 << date.month()) != 0
                && self.day_matches(date)
                && let Some(found) = self.first_in_day(date, after, tz)
            {
                return Some(found);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The earliest due time on `date` after `after`. Local times are not in
    /// instant order inside a fold (the second occurrence of 02:10 comes after
    /// the first of 02:50), so this takes the minimum over the candidates;
    /// it stops at the first local time whose first occurrence is after
    /// `after`, since every later local time, and every second occurrence of
    /// the fold, comes later still.
    fn first_in_day(&self, date: Date, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let mut best: Option<Timestamp> = None;
        for hour in 0..24i8 {
            if self.hours & (1 << hour) == 0 {
                continue;
            }
            for minute in 0..60i8 {
                if self.minutes & (1 << minute) == 0 {
                    continue;
                }
                let local = DateTime::from_parts(date, Time::new(hour, minute, 0, 0).ok()?);
                let ambiguous = tz.to_ambiguous_timestamp(local);
                let (first, second) = match ambiguous.offset() {
                    AmbiguousOffset::Unambiguous { .. } => (ambiguous.compatible().ok()?, None),
                    // Skipped by an every-hour schedule, else due when the gap ends
                    // (the mapping is monotone, so the early return below holds).
                    AmbiguousOffset::Gap { .. } if self.every_hour() => continue,
                    AmbiguousOffset::Gap { .. } => (instant_of(local, tz)?, None),
                    // An hour that happens twice is due twice only for every-hour
                    // schedules, so hourly batches cover every real hour.
                    AmbiguousOffset::Fold { .. } => (
                        ambiguous.earlier().ok()?,
                        self.every_hour().then(|| ambiguous.later().ok()).flatten(),
                    ),
                };
                for due in [Some(first), second].into_iter().flatten() {
                    if due > after && best.is_none_or(|b| due < b) {
                        best = Some(due);
                    }
                }
                if first > after {
                    return best;
                }
            }
        }
        best
    }

    /// How many due times lie in `(after, until]`.
    ///
    /// Counts a whole local day at once (matching hours × matching minutes)
    /// when no offset change falls in it, so the cost grows with the number
    /// of days, not of due times; partial days and days with an offset
    /// change are counted due time by due time.
    pub fn count_between(&self, after: Timestamp, until: Timestamp, tz: &TimeZone) -> u64 {
        let one_by_one = |from: Timestamp, to: Timestamp| {
            let mut n = 0u64;
            let mut cursor = from;
            while let Some(due) = self.next_after(cursor, tz).filter(|d| *d <= to) {
                n += 1;
                cursor = due;
            }
            n
        };
        let per_day = u64::from(self.hours.count_ones()) * u64::from(self.minutes.count_ones());
        let day = SignedDuration::from_hours(24);
        let just_before = |t: Timestamp| t.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(t);
        let Some(mut midnight) = next_midnight(after, tz) else {
            return one_by_one(after, until);
        };
        if midnight > until {
            return one_by_one(after, until);
        }
        let mut count = one_by_one(after, just_before(midnight));
        let mut change = tz.following(midnight).next().map(|t| t.timestamp());
        loop {
            let local = tz.to_datetime(midnight);
            let date = local.date();
            // A whole day at once only when it starts at a true local midnight
            // (not one skipped by a gap) and no offset change falls in it.
            let fixed = midnight
                .checked_add(day)
                .ok()
                .filter(|end| local.time() == Time::midnight() && change.is_none_or(|c| c > *end));
            let Some(next) = fixed.or_else(|| next_midnight(midnight, tz)) else {
                break;
            };
            if next > until {
                break;
            }
            count += match fixed {
                Some(_) if self.months & (1 << date.month()) != 0 && self.day_matches(date) => per_day,
                Some(_) => 0,
                None => one_by_one(just_before(midnight), just_before(next)),
            };
            midnight = next;
            if change.is_some_and(|c| c <= midnight) {
                change = tz.following(midnight).next().map(|t| t.timestamp());
            }
        }
        count + one_by_one(just_before(midnight), until)
    }
}

/// The instant of the first local midnight strictly after `after`.
fn next_midnight(after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let tomorrow = tz.to_datetime(after).date().tomorrow().ok()?;
    tz.to_ambiguous_timestamp(tomorrow.to_datetime(Time::midnight()))
        .compatible()
        .ok()
}

#[cfg(test)]
thread_local! {
    /// Calls of [`Cron::next_after`] on this thread: tests bound the work of
    /// the planners with it.
    static CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Calls of [`Cron::next_after`] on this thread so far (tests only).
#[cfg(test)]
pub fn calls() -> u64 {
    CALLS.with(std::cell::Cell::get)
}

#[cfg(test)]
#[path = "cron_tests.rs"]
mod tests;

//! Cron expressions: parsing, and the next due time in a time zone.
//!
//! Five fields (minute hour day-of-month month day-of-week) with `*`, lists,
//! ranges, steps and English names, plus the `@hourly`-style macros. When both
//! day fields are restricted a day matches if either does (Vixie cron).
//!
//! Daylight saving time: a local time that does not exist (the spring-forward
//! gap) is skipped; a local time that happens twice (the autumn fold) is due
//! once, at its first occurrence.
//!
//! Pure: no I/O, no clock.

use std::fmt;

use jiff::{
    Timestamp,
    civil::{Date, DateTime, Time},
    tz::{AmbiguousOffset, TimeZone},
};

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
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
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
    /// instant order inside a fold, so this takes the minimum over the day.
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
                    AmbiguousOffset::Gap { .. } => continue,
                    // An hour that happens twice is due twice only for every-hour
                    // schedules, so hourly batches cover every real hour.
                    AmbiguousOffset::Fold { .. } => (
                        ambiguous.earlier().ok()?,
                        (self.hours == ALL_HOURS).then(|| ambiguous.later().ok()).flatten(),
                    ),
                };
                for due in [Some(first), second].into_iter().flatten() {
                    if due > after && best.is_none_or(|b| due < b) {
                        best = Some(due);
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn next(expr: &str, after: &str, tz: &str) -> Option<String> {
        let cron: Cron = expr.parse().expect("valid cron");
        let tz = TimeZone::get(tz).expect("known zone");
        cron.next_after(ts(after), &tz).map(|t| t.to_string())
    }

    #[test]
    fn parse_errors_name_the_field() {
        let cases = [
            ("* * * *", "has 4 fields"),
            ("61 * * * *", "minute field \"61\""),
            ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day-of-month field"),
            ("* * * 13 *", "month field"),
            ("* * * * 8", "day-of-week field"),
            ("*/0 * * * *", "step \"0\""),
            ("5-1 * * * *", "runs backwards"),
            ("x * * * *", "not a number or a name"),
            ("@every 5m", "fields"),
        ];
        for (expr, want) in cases {
            let err = expr.parse::<Cron>().expect_err(expr).to_string();
            assert!(err.contains(want), "{expr}: {err}");
        }
    }

    #[test]
    fn accepts_common_forms() {
        for expr in [
            "0 * * * *",
            "*/15 * * * *",
            "0 6 * * mon-fri",
            "30 2 1,15 * *",
            "0 0 * JAN,jul SUN",
            "5/10 * * * *",
            "@hourly",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
            "0 0 * * 7",
        ] {
            assert!(expr.parse::<Cron>().is_ok(), "{expr}");
        }
    }

    #[test]
    fn next_due_times() {
        let cases = [
            // expr, after, zone, want
            ("0 * * * *", "2026-11-25T13:00:00Z", "UTC", Some("2026-11-25T14:00:00Z")),
            ("0 * * * *", "2026-11-25T13:59:59Z", "UTC", Some("2026-11-25T14:00:00Z")),
            (
                "*/15 * * * *",
                "2026-11-25T13:07:00Z",
                "UTC",
                Some("2026-11-25T13:15:00Z"),
            ),
            // month ends: 31st only in months that have it
            (
                "0 0 31 * *",
                "2026-11-01T00:00:00Z",
                "UTC",
                Some("2026-12-31T00:00:00Z"),
            ),
            (
                "0 0 29 2 *",
                "2026-03-01T00:00:00Z",
                "UTC",
                Some("2028-02-29T00:00:00Z"),
            ),
            ("0 0 1 * *", "2026-12-31T12:00:00Z", "UTC", Some("2027-01-01T00:00:00Z")),
            // never
            ("0 0 31 2 *", "2026-01-01T00:00:00Z", "UTC", None),
            // Sunday as 0 and 7; dom OR dow when both restricted
            ("0 0 * * 7", "2026-11-25T00:00:00Z", "UTC", Some("2026-11-29T00:00:00Z")),
            (
                "0 0 1 * mon",
                "2026-11-25T00:00:00Z",
                "UTC",
                Some("2026-11-30T00:00:00Z"),
            ),
            // time zones
            (
                "0 6 * * *",
                "2026-11-25T00:00:00Z",
                "Europe/Berlin",
                Some("2026-11-25T05:00:00Z"),
            ),
            // spring forward in Berlin: 02:30 does not exist on 2026-03-29, skipped
            (
                "30 2 * * *",
                "2026-03-28T12:00:00Z",
                "Europe/Berlin",
                Some("2026-03-30T00:30:00Z"),
            ),
            // autumn fold in Berlin: 02:30 happens twice on 2026-10-25, due once (the first)
            (
                "30 2 * * *",
                "2026-10-24T12:00:00Z",
                "Europe/Berlin",
                Some("2026-10-25T00:30:00Z"),
            ),
            (
                "30 2 * * *",
                "2026-10-25T00:30:00Z",
                "Europe/Berlin",
                Some("2026-10-26T01:30:00Z"),
            ),
            // hourly across the fold: 02:00 local is due twice, every real hour gets a batch
            (
                "0 * * * *",
                "2026-10-24T23:30:00Z",
                "Europe/Berlin",
                Some("2026-10-25T00:00:00Z"),
            ),
            (
                "0 * * * *",
                "2026-10-25T00:00:00Z",
                "Europe/Berlin",
                Some("2026-10-25T01:00:00Z"),
            ),
            (
                "0 * * * *",
                "2026-10-25T01:00:00Z",
                "Europe/Berlin",
                Some("2026-10-25T02:00:00Z"),
            ),
            // hourly across the gap: 02:00 local does not exist, 01:00Z is 03:00 CEST
            (
                "0 * * * *",
                "2026-03-29T00:00:00Z",
                "Europe/Berlin",
                Some("2026-03-29T01:00:00Z"),
            ),
            (
                "*/30 * * * *",
                "2026-10-25T00:00:00Z",
                "Europe/Berlin",
                Some("2026-10-25T00:30:00Z"),
            ),
            (
                "*/30 * * * *",
                "2026-10-25T00:30:00Z",
                "Europe/Berlin",
                Some("2026-10-25T01:00:00Z"),
            ),
        ];
        for (expr, after, tz, want) in cases {
            assert_eq!(next(expr, after, tz).as_deref(), want, "{expr} after {after} in {tz}");
        }
    }
}

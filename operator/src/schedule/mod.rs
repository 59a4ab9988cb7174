//! Cadence: cron expressions and time zones (and, with the EtlJob controller,
//! the windows and batch ids derived from them).

pub mod cadence;
pub mod cron;

pub use cadence::{Batch, Cadence, CadenceError, Window};
pub use cron::{Cron, CronError};

use jiff::{
    SignedDuration, Timestamp,
    civil::DateTime,
    tz::{AmbiguousOffset, TimeZone},
};

/// Looks up an IANA time zone by name, with a message a person can act on.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .map_err(|_| format!("unknown time zone {name:?}: use an IANA name such as UTC or Europe/Berlin"))
}

/// The instant a local time names in `tz`: itself when it happens once, its
/// first occurrence when it happens twice (the autumn fold), and the end of
/// the gap, the instant clocks jump forward, when it does not happen (the
/// spring-forward gap). Monotone: a later local time never names an earlier
/// instant.
pub(crate) fn instant_of(local: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => ambiguous.compatible().ok(),
        AmbiguousOffset::Fold { .. } => ambiguous.earlier().ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the gap, `local` lies before the change.
            let before_change = after.to_timestamp(local).ok()?;
            tz.following(before_change).next().map(|t| t.timestamp())
        }
    }
}

/// The local times `[start, end)` that a gap ending at `at` skipped, when
/// clocks jump forward at `at`.
pub(crate) fn gap_ending_at(at: Timestamp, tz: &TimeZone) -> Option<(DateTime, DateTime)> {
    let before = tz.to_offset(at.checked_sub(SignedDuration::from_nanos(1)).ok()?);
    let after = tz.to_offset(at);
    (after > before).then(|| (before.to_datetime(at), after.to_datetime(at)))
}

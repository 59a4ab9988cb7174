//! Cadence: cron expressions and time zones (and, with the EtlJob controller,
//! the windows and batch ids derived from them).

pub mod cadence;
pub mod cron;

pub use cadence::{Batch, Cadence, CadenceError, Window};
pub use cron::{Cron, CronError};

/// Looks up an IANA time zone by name, with a message a person can act on.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name)
        .map_err(|_| format!("unknown time zone {name:?}: use an IANA name such as UTC or Europe/Berlin"))
}

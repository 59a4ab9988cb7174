//! Calendar windows: the look-ups of [`Cadence`] for a schedule that fires
//! at one time of day with a window size of whole days, whose windows are
//! counted on the wall clock (see the [`super`] module docs).
//!
//! A window that starts in a gap starts at its end, and its id reads that
//! local time (`2026-03-29T03` for a daily 02:00 in Berlin). Only schedules
//! with one time of day count this way: two times of one day inside a gap
//! (`0 2,3 * * *`) would start two windows at the same instant, under one id.
//! The look-ups find a candidate tick from the local times and check the
//! next one or two: no walk over ticks.

use jiff::{SignedDuration, Timestamp, civil::DateTime};

use super::{Cadence, Window};
use crate::schedule::{cron::Cron, gap_ending_at, instant_of};

impl Cadence {
    /// The schedule when its windows count calendar days: it fires at one
    /// time of day and `size` is a whole number of days.
    pub(super) fn calendar(&self) -> Option<&Cron> {
        let cron = self.cron.as_ref().filter(|c| c.at_one_time_of_day())?;
        let size = self.size?.as_nanos();
        let day = SignedDuration::from_hours(24).as_nanos();
        (size > 0 && size % day == 0).then_some(cron)
    }

    /// The earliest local time that names the instant `at` (the start of the
    /// gap when `at` ends one).
    pub(super) fn earliest_local(&self, at: Timestamp) -> DateTime {
        gap_ending_at(at, &self.tz).map_or_else(|| self.tz.to_datetime(at), |(start, _)| start)
    }

    /// With calendar windows, the first tick whose window's `edge` (start or
    /// end) is at or after `at`, and its window; the edge lies `back` before
    /// the tick's scheduled local time on the wall clock.
    ///
    /// The tick at or after the local time `back` after `at`'s is the answer
    /// but when `at` is in the repeated hour or a gap collapsed the ticks
    /// there: a few look-ups whatever the range.
    pub(super) fn first_calendar_tick(
        &self,
        at: Timestamp,
        back: SignedDuration,
        edge: fn(&Window) -> Timestamp,
    ) -> Option<(Timestamp, Window)> {
        let candidate = instant_of(self.earliest_local(at).checked_add(back).ok()?, &self.tz)?;
        let mut tick = self.next_tick(candidate.checked_sub(SignedDuration::from_nanos(1)).ok()?)?;
        for _ in 0..3 {
            let window = self.window_for_tick(tick)?;
            if edge(&window) >= at {
                return Some((tick, window));
            }
            tick = self.next_tick(tick)?;
        }
        None
    }

    /// The calendar window of `tick`, from the local time it stands for.
    pub(super) fn calendar_window(&self, cron: &Cron, size: SignedDuration, tick: Timestamp) -> Option<Window> {
        let end = cron.scheduled_time(tick, &self.tz).checked_sub(self.delay).ok()?;
        let start = end.checked_sub(size).ok()?;
        Some(Window {
            start: instant_of(start, &self.tz)?,
            end: instant_of(end, &self.tz)?,
        })
    }

    /// With calendar windows, the tick whose window's `edge` is `at` (see
    /// [`Cadence::first_calendar_tick`]).
    pub(super) fn calendar_tick(
        &self,
        at: Timestamp,
        back: SignedDuration,
        edge: fn(&Window) -> Timestamp,
    ) -> Option<Timestamp> {
        let (tick, window) = self.first_calendar_tick(at, back, edge)?;
        (edge(&window) == at).then_some(tick)
    }

    /// With calendar windows, the newest tick whose window ends at or before
    /// `to`: the newest tick scheduled at or before `to`'s local time plus
    /// `delay`, then a step back when a gap collapsed ticks there, or forward
    /// when `to` is in the repeated hour.
    pub(super) fn last_calendar_tick(&self, to: Timestamp) -> Option<Timestamp> {
        let ends_by = |t: Timestamp| self.window_for_tick(t).is_some_and(|w| w.end <= to);
        let candidate = instant_of(self.tz.to_datetime(to).checked_add(self.delay).ok()?, &self.tz)?;
        let mut tick = self.latest_tick(candidate)?;
        for _ in 0..2 {
            if ends_by(tick) {
                break;
            }
            tick = self.previous_tick(tick)?;
        }
        for _ in 0..2 {
            match self.next_tick(tick).filter(|next| ends_by(*next)) {
                Some(next) => tick = next,
                None => break,
            }
        }
        ends_by(tick).then_some(tick)
    }
}

#[cfg(test)]
#[path = "dst_tests.rs"]
mod tests;

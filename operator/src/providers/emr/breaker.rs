//! The spot interruption circuit breaker of an emr pool: when too many spot
//! instances are lost within `window`, new capacity is bought on-demand for
//! `coolDown`, then on spot again.
//!
//! The rate is counted per instance over the window only: of the spot
//! instances launched or interrupted in the window, how many were
//! interrupted. It takes at least [`MIN_SAMPLE`] instances to open the
//! breaker, so one lost instance of one is not a trend. Once open, the
//! breaker stays open for `coolDown` whatever happens, and when it closes it
//! starts counting afresh: only events after the moment it closed count, so
//! the losses that opened it cannot open it again (which they would whenever
//! `coolDown` is shorter than `window`).
//!
//! The breaker only chooses the market of *new* clusters; running clusters
//! keep theirs, and their runs are retried elsewhere when they are lost.
//!
//! emr and eks pools share it: each feeds it its spot instances' launches
//! and interruptions and keeps its state in the pool's `status.breaker`.
//!
//! Pure: no clock (the caller passes `now`), no I/O.

use std::{collections::BTreeSet, time::Duration};

use jiff::{SignedDuration, Timestamp};

use super::{Market, human};
use crate::{
    api::v1alpha1::{BreakerStatus, DurationError, InterruptionBreaker, Time},
    providers::pool::PoolEvent,
};

/// Fewest spot instances seen in the window before their interruption rate
/// may open the breaker: below it a single loss would read as 50% or 100%.
pub const MIN_SAMPLE: usize = 3;

/// The breaker's settings, parsed from `spec.emr.interruptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Interruption rate (0 to 1) above which the breaker opens.
    pub max_rate: f64,
    /// How far back interruptions are counted.
    pub window: Duration,
    /// How long the breaker stays open.
    pub cool_down: Duration,
}

impl Settings {
    /// The settings of `spec`; fails only on an unparsable duration.
    pub fn from_spec(spec: &InterruptionBreaker) -> Result<Self, DurationError> {
        Ok(Self {
            max_rate: spec.max_rate.clamp(0.0, 1.0),
            window: spec.window.to_std()?,
            cool_down: spec.cool_down.to_std()?,
        })
    }
}

/// What happened to a spot instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpotOutcome {
    /// It was launched.
    Launched,
    /// EC2 reclaimed it.
    Interrupted,
}

/// One event in the life of one spot instance of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotEvent {
    /// EC2 instance id: an instance counts once however many events it has.
    pub instance: String,
    /// What happened.
    pub outcome: SpotOutcome,
    /// When.
    pub at: Timestamp,
}

/// The breaker's state, kept in the pool's status between reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// New capacity uses spot.
    Closed {
        /// When the breaker last closed: only later events count. `None` when it never opened.
        since: Option<Timestamp>,
    },
    /// New capacity uses on-demand until `since + coolDown`.
    Open {
        /// When it opened.
        since: Timestamp,
    },
}

impl Default for BreakerState {
    fn default() -> Self {
        Self::Closed { since: None }
    }
}

/// The breaker's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The new state.
    pub state: BreakerState,
    /// The market of new capacity.
    pub market: Market,
    /// Why, for a person: the pool's status and Events.
    pub reason: String,
    /// When an open breaker closes: the caller looks again then.
    pub until: Option<Timestamp>,
}

/// The breaker after looking at `events` with `settings` at `now`, from `state`.
pub fn evaluate(settings: &Settings, events: &[SpotEvent], state: BreakerState, now: Timestamp) -> Decision {
    let since = match state {
        BreakerState::Open { since } => {
            let until = after(since, settings.cool_down);
            if now < until {
                return Decision {
                    state,
                    market: Market::OnDemand,
                    reason: format!(
                        "spot interruptions opened the breaker at {}: on-demand until {}",
                        clock(since, now),
                        clock(until, now)
                    ),
                    until: Some(until),
                };
            }
            Some(until)
        }
        BreakerState::Closed { since } => since,
    };
    let window_start = before(now, settings.window);
    let from = since.map_or(window_start, |s| s.max(window_start));
    let recent = || events.iter().filter(|e| e.at > from);
    let sampled: BTreeSet<&str> = recent().map(|e| e.instance.as_str()).collect();
    let interrupted: BTreeSet<&str> = recent()
        .filter(|e| e.outcome == SpotOutcome::Interrupted)
        .map(|e| e.instance.as_str())
        .collect();
    let (lost, seen) = (interrupted.len(), sampled.len());
    let counted = format!(
        "{lost} of {seen} spot instances interrupted in the last {}",
        human(settings.window)
    );
    let limit = percent(settings.max_rate);
    let closed = BreakerState::Closed { since };
    if seen < MIN_SAMPLE {
        return Decision {
            state: closed,
            market: Market::Spot,
            reason: format!("{counted}, too few to judge (at least {MIN_SAMPLE}): spot"),
            until: None,
        };
    }
    let rate = lost as f64 / seen as f64;
    if rate > settings.max_rate {
        let until = after(now, settings.cool_down);
        return Decision {
            state: BreakerState::Open { since: now },
            market: Market::OnDemand,
            reason: format!("{counted} > {limit}: on-demand until {}", clock(until, now)),
            until: Some(until),
        };
    }
    Decision {
        state: closed,
        market: Market::Spot,
        reason: format!("{counted} ≤ {limit}: spot"),
        until: None,
    }
}

/// The state a pool's `status.breaker` records (closed when there is none).
pub fn state_of(status: Option<&BreakerStatus>) -> BreakerState {
    match status {
        Some(b) if b.state == "Open" => match &b.since {
            Some(since) => BreakerState::Open { since: since.0 },
            None => BreakerState::default(),
        },
        Some(b) => BreakerState::Closed {
            since: b.since.as_ref().map(|t| t.0),
        },
        None => BreakerState::default(),
    }
}

/// The decision as the pool's `status.breaker` shows it.
pub fn status_of(d: &Decision) -> BreakerStatus {
    let (state, since) = match d.state {
        BreakerState::Open { since } => ("Open", Some(since)),
        BreakerState::Closed { since } => ("Closed", since),
    };
    BreakerStatus {
        state: state.to_owned(),
        since: since.map(Time),
        until: d.until.map(Time),
        market: d.market.as_str().to_owned(),
        message: d.reason.clone(),
    }
}

/// The Event of the breaker opening or closing since `before`, if it did.
pub fn transition(d: &Decision, before: BreakerState) -> Option<PoolEvent> {
    let opened = matches!(d.state, BreakerState::Open { .. });
    (opened != matches!(before, BreakerState::Open { .. })).then(|| PoolEvent {
        warning: opened,
        reason: if opened { "BreakerOpened" } else { "BreakerClosed" },
        note: d.reason.clone(),
        counter: None,
    })
}

/// `t + d`, saturating at the end of time.
fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `t - d`, saturating at the start of time.
fn before(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// `15:00 UTC` on the day of `now`, `2026-03-03 15:00 UTC` on another.
fn clock(t: Timestamp, now: Timestamp) -> String {
    if t.strftime("%F").to_string() == now.strftime("%F").to_string() {
        t.strftime("%H:%M UTC").to_string()
    } else {
        t.strftime("%F %H:%M UTC").to_string()
    }
}

/// `0.2` → `20%`, `0.125` → `12.5%`.
fn percent(rate: f64) -> String {
    format!("{}%", (rate * 1000.0).round() / 10.0)
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;

//! Tables for the interruption circuit breaker.

use super::*;
use crate::api::v1alpha1::Duration as SpecDuration;

/// Minutes after 2026-03-02T12:00:00Z.
fn at(min: i64) -> Timestamp {
    Timestamp::from_second(1_772_452_800 + min * 60).expect("timestamp")
}

/// maxRate 0.2, window 1h, coolDown 2h: the defaults.
fn settings() -> Settings {
    Settings::from_spec(&InterruptionBreaker::default()).expect("defaults parse")
}

fn launched(instance: &str, min: i64) -> SpotEvent {
    SpotEvent {
        instance: instance.into(),
        outcome: SpotOutcome::Launched,
        at: at(min),
    }
}

fn interrupted(instance: &str, min: i64) -> SpotEvent {
    SpotEvent {
        instance: instance.into(),
        outcome: SpotOutcome::Interrupted,
        at: at(min),
    }
}

/// `n` instances `i{first}`.. launched at minute `min`.
fn fleet(first: usize, n: usize, min: i64) -> Vec<SpotEvent> {
    (first..first + n).map(|i| launched(&format!("i-{i}"), min)).collect()
}

/// Instances `i{first}`.. interrupted at minute `min`.
fn lose(first: usize, n: usize, min: i64) -> Vec<SpotEvent> {
    (first..first + n)
        .map(|i| interrupted(&format!("i-{i}"), min))
        .collect()
}

const CLOSED: BreakerState = BreakerState::Closed { since: None };

struct Case {
    name: &'static str,
    events: Vec<SpotEvent>,
    state: BreakerState,
    now: i64,
    want_state: BreakerState,
    want_market: Market,
    want_reason: &'static str,
}

#[test]
fn the_breaker_opens_on_too_many_interruptions_and_closes_after_the_cool_down() {
    let cases = vec![
        Case {
            name: "no spot instances",
            events: vec![],
            state: CLOSED,
            now: 60,
            want_state: CLOSED,
            want_market: Market::Spot,
            want_reason: "0 of 0 spot instances interrupted in the last 1h, too few to judge (at least 3): spot",
        },
        Case {
            name: "1 of 1 lost is not a trend",
            events: [fleet(0, 1, 10), lose(0, 1, 20)].concat(),
            state: CLOSED,
            now: 60,
            want_state: CLOSED,
            want_market: Market::Spot,
            want_reason: "1 of 1 spot instances interrupted in the last 1h, too few to judge (at least 3): spot",
        },
        Case {
            name: "3 of 10 > 20%: open",
            events: [fleet(0, 10, 5), lose(0, 3, 40)].concat(),
            state: CLOSED,
            now: 60,
            want_state: BreakerState::Open { since: at(60) },
            want_market: Market::OnDemand,
            want_reason: "3 of 10 spot instances interrupted in the last 1h > 20%: on-demand until 15:00 UTC",
        },
        Case {
            name: "exactly 20% stays closed",
            events: [fleet(0, 10, 5), lose(0, 2, 40)].concat(),
            state: CLOSED,
            now: 60,
            want_state: CLOSED,
            want_market: Market::Spot,
            want_reason: "2 of 10 spot instances interrupted in the last 1h ≤ 20%: spot",
        },
        Case {
            name: "losses before the window do not count; an event exactly at its start neither",
            events: [fleet(0, 3, -60), lose(0, 3, -30), fleet(3, 10, 30), lose(3, 1, 0)].concat(),
            state: CLOSED,
            now: 60,
            want_state: CLOSED,
            want_market: Market::Spot,
            want_reason: "0 of 10 spot instances interrupted in the last 1h ≤ 20%: spot",
        },
        Case {
            name: "instances launched before the window and lost in it count",
            events: [fleet(0, 3, -120), lose(0, 3, 30)].concat(),
            state: CLOSED,
            now: 60,
            want_state: BreakerState::Open { since: at(60) },
            want_market: Market::OnDemand,
            want_reason: "3 of 3 spot instances interrupted in the last 1h > 20%: on-demand until 15:00 UTC",
        },
        Case {
            name: "an instance counts once, however many events it has",
            events: [fleet(0, 5, 10), fleet(0, 5, 11), lose(0, 1, 20), lose(0, 1, 21)].concat(),
            state: CLOSED,
            now: 60,
            want_state: CLOSED,
            want_market: Market::Spot,
            want_reason: "1 of 5 spot instances interrupted in the last 1h ≤ 20%: spot",
        },
        Case {
            name: "open within the cool-down: on-demand, whatever the window says",
            events: fleet(0, 10, 45),
            state: BreakerState::Open { since: at(30) },
            now: 60,
            want_state: BreakerState::Open { since: at(30) },
            want_market: Market::OnDemand,
            want_reason: "spot interruptions opened the breaker at 12:30 UTC: on-demand until 14:30 UTC",
        },
        Case {
            name: "the cool-down is over (exactly): closed, and the losses that opened it are forgotten",
            events: [fleet(0, 5, -100), lose(0, 5, 40)].concat(),
            state: BreakerState::Open { since: at(-60) },
            now: 60,
            want_state: BreakerState::Closed { since: Some(at(60)) },
            want_market: Market::Spot,
            want_reason: "0 of 0 spot instances interrupted in the last 1h, too few to judge (at least 3): spot",
        },
        Case {
            name: "closed since 12:30: only later events count",
            events: [fleet(0, 5, 10), lose(0, 5, 20), fleet(5, 5, 40), lose(5, 1, 50)].concat(),
            state: BreakerState::Closed { since: Some(at(30)) },
            now: 60,
            want_state: BreakerState::Closed { since: Some(at(30)) },
            want_market: Market::Spot,
            want_reason: "1 of 5 spot instances interrupted in the last 1h ≤ 20%: spot",
        },
        Case {
            name: "new losses after closing open it again",
            events: [fleet(0, 4, 40), lose(0, 2, 50)].concat(),
            state: BreakerState::Closed { since: Some(at(30)) },
            now: 60,
            want_state: BreakerState::Open { since: at(60) },
            want_market: Market::OnDemand,
            want_reason: "2 of 4 spot instances interrupted in the last 1h > 20%: on-demand until 15:00 UTC",
        },
        Case {
            name: "opening late in the day names the date it closes",
            events: [fleet(0, 3, 660), lose(0, 3, 680)].concat(),
            state: CLOSED,
            now: 690,
            want_state: BreakerState::Open { since: at(690) },
            want_market: Market::OnDemand,
            want_reason: "3 of 3 spot instances interrupted in the last 1h > 20%: on-demand until 2026-03-03 01:30 UTC",
        },
    ];
    for c in cases {
        let d = evaluate(&settings(), &c.events, c.state, at(c.now));
        assert_eq!(
            (d.state, d.market, d.reason.as_str()),
            (c.want_state, c.want_market, c.want_reason),
            "{}",
            c.name
        );
        let want_until = match d.state {
            BreakerState::Open { since } => Some(after(since, settings().cool_down)),
            BreakerState::Closed { .. } => None,
        };
        assert_eq!(d.until, want_until, "{}", c.name);
    }
}

#[test]
fn the_rate_limit_is_honoured_at_its_extremes() {
    let events = [fleet(0, 10, 10), lose(0, 10, 20)].concat();
    let never = Settings {
        max_rate: 1.0,
        ..settings()
    };
    let d = evaluate(&never, &events, CLOSED, at(60));
    assert_eq!(d.market, Market::Spot, "maxRate 1: never opens");
    assert_eq!(
        d.reason,
        "10 of 10 spot instances interrupted in the last 1h ≤ 100%: spot"
    );
    let strict = Settings {
        max_rate: 0.0,
        window: Duration::from_secs(5400),
        ..settings()
    };
    let events = [fleet(0, 3, 10), lose(0, 1, 20)].concat();
    let d = evaluate(&strict, &events, CLOSED, at(60));
    assert_eq!(
        d.reason,
        "1 of 3 spot instances interrupted in the last 1h30m > 0%: on-demand until 15:00 UTC"
    );
    assert_eq!(percent(0.125), "12.5%");
    assert_eq!(percent(0.2), "20%");
}

#[test]
fn settings_come_from_the_spec() {
    assert_eq!(
        settings(),
        Settings {
            max_rate: 0.2,
            window: Duration::from_secs(3600),
            cool_down: Duration::from_secs(7200),
        }
    );
    let spec = InterruptionBreaker {
        max_rate: 1.5,
        window: SpecDuration("30m".into()),
        cool_down: SpecDuration("45m".into()),
    };
    assert_eq!(Settings::from_spec(&spec).map(|s| s.max_rate), Ok(1.0));
    let bad = InterruptionBreaker {
        cool_down: SpecDuration("later".into()),
        ..InterruptionBreaker::default()
    };
    assert!(Settings::from_spec(&bad).is_err());
    assert_eq!(BreakerState::default(), CLOSED);
}

//! The scaling decision. Unit tests of a pure function.

use super::*;

const NOW: &str = "2026-11-25T13:00:00Z";

fn now() -> Timestamp {
    NOW.parse().expect("timestamp")
}

fn ago(seconds: i64) -> Option<Timestamp> {
    now().checked_sub(SignedDuration::from_secs(seconds)).ok()
}

/// min 1, max 8, target 30 s, 4 open shards, 2 replicas, lag 10 s (in the hold band), never scaled.
fn base() -> Inputs {
    Inputs {
        current: Some(2),
        min: 1,
        max: 8,
        target_lag_ms: 30_000,
        open_shards: Some(4),
        max_lag_ms: Some(20_000),
        low_since: None,
        last_scaled: None,
        now: now(),
    }
}

#[test]
fn table() {
    struct Case {
        name: &'static str,
        change: fn(&mut Inputs),
        replicas: i32,
        low_since: Option<Timestamp>,
        scaled_now: bool,
    }
    let cases = [
        Case {
            name: "creation starts at minReplicas",
            change: |i| {
                i.current = None;
                i.min = 3;
            },
            replicas: 3,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "creation: open shards cap minReplicas",
            change: |i| {
                i.current = None;
                i.min = 6;
            },
            replicas: 4,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "lag in the hold band keeps the count",
            change: |_| {},
            replicas: 2,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "lag twice the target doubles the replicas",
            change: |i| i.max_lag_ms = Some(60_000),
            replicas: 4,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "just above the target adds at least one",
            change: |i| i.max_lag_ms = Some(30_001),
            replicas: 3,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "a huge lag is capped by open shards",
            change: |i| i.max_lag_ms = Some(3_600_000),
            replicas: 4,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "a huge lag is capped by maxReplicas",
            change: |i| {
                i.max_lag_ms = Some(3_600_000);
                i.open_shards = Some(64);
            },
            replicas: 8,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "unknown open shards: maxReplicas caps",
            change: |i| {
                i.max_lag_ms = Some(3_600_000);
                i.open_shards = None;
            },
            replicas: 8,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "no scale-up during the cooldown",
            change: |i| {
                i.max_lag_ms = Some(60_000);
                i.last_scaled = ago(30);
            },
            replicas: 2,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "scale-up after the cooldown",
            change: |i| {
                i.max_lag_ms = Some(60_000);
                i.last_scaled = ago(61);
            },
            replicas: 4,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "low lag starts the window",
            change: |i| i.max_lag_ms = Some(1_000),
            replicas: 2,
            low_since: Some(now()),
            scaled_now: false,
        },
        Case {
            name: "low lag inside the window holds",
            change: |i| {
                i.max_lag_ms = Some(1_000);
                i.low_since = ago(299);
            },
            replicas: 2,
            low_since: ago(299),
            scaled_now: false,
        },
        Case {
            name: "low lag for the whole window removes one and restarts it",
            change: |i| {
                i.max_lag_ms = Some(1_000);
                i.low_since = ago(300);
                i.current = Some(4);
            },
            replicas: 3,
            low_since: Some(now()),
            scaled_now: true,
        },
        Case {
            name: "never below minReplicas",
            change: |i| {
                i.max_lag_ms = Some(0);
                i.low_since = ago(3600);
                i.min = 2;
            },
            replicas: 2,
            low_since: ago(3600),
            scaled_now: false,
        },
        Case {
            name: "lag back in the hold band resets the window",
            change: |i| {
                i.max_lag_ms = Some(15_000);
                i.low_since = ago(200);
            },
            replicas: 2,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "no lag reported holds and resets",
            change: |i| {
                i.max_lag_ms = None;
                i.low_since = ago(400);
            },
            replicas: 2,
            low_since: None,
            scaled_now: false,
        },
        Case {
            name: "a merge below the replicas clamps at once",
            change: |i| {
                i.current = Some(4);
                i.open_shards = Some(2);
            },
            replicas: 2,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "open shards below minReplicas win",
            change: |i| {
                i.min = 3;
                i.open_shards = Some(1);
            },
            replicas: 1,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "a raised minReplicas lifts the count",
            change: |i| i.min = 3,
            replicas: 3,
            low_since: None,
            scaled_now: true,
        },
        Case {
            name: "zero open shards still keep one replica",
            change: |i| {
                i.open_shards = Some(0);
                i.current = Some(1);
            },
            replicas: 1,
            low_since: None,
            scaled_now: false,
        },
    ];
    for case in cases {
        let mut inputs = base();
        (case.change)(&mut inputs);
        let got = decide(&inputs);
        assert_eq!(got.replicas, case.replicas, "{}: {got:?}", case.name);
        assert_eq!(got.low_since, case.low_since, "{}: {got:?}", case.name);
        assert_eq!(
            got.last_scaled == Some(now()),
            case.scaled_now,
            "{}: {got:?}",
            case.name
        );
        assert_eq!(
            got.why.is_some(),
            case.scaled_now,
            "{}: a change says why, no change says nothing: {got:?}",
            case.name
        );
    }
}

#[test]
fn reasons_read_well() {
    let mut i = base();
    i.max_lag_ms = Some(60_000);
    assert_eq!(decide(&i).why.as_deref(), Some("lag 1m is above the target 30s"));
    let mut i = base();
    i.current = Some(6);
    assert_eq!(decide(&i).why.as_deref(), Some("the stream has 4 open shards"));
    let mut i = base();
    i.max_lag_ms = Some(0);
    i.low_since = ago(300);
    assert_eq!(
        decide(&i).why.as_deref(),
        Some("lag stayed below half the target 30s for 5m")
    );
}

#[test]
fn a_steady_lag_scales_up_step_by_step_without_flapping() {
    // Simulate reconciles every 15 s with the lag falling as replicas grow.
    let mut i = base();
    i.current = Some(1);
    i.open_shards = Some(8);
    let mut history = Vec::new();
    for step in 0..40 {
        i.now = now().checked_add(SignedDuration::from_secs(15 * step)).expect("time");
        let replicas = i.current.unwrap_or(1);
        // Lag proportional to load per replica: 4 replicas' worth of work.
        i.max_lag_ms = Some(120_000 / i64::from(replicas));
        let d = decide(&i);
        history.push(d.replicas);
        i.current = Some(d.replicas);
        i.low_since = d.low_since;
        i.last_scaled = d.last_scaled;
    }
    assert_eq!(history[0], 4, "one proportional step: {history:?}");
    assert!(history.iter().all(|&r| r == 4), "then steady: {history:?}");
}

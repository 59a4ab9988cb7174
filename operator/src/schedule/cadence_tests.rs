//! Tables for windows and batch ids, and the bounded look-ups checked
//! against the walks over every tick.

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

#[test]
fn previous_tick_agrees_with_a_walk() {
    let cases = [
        (Some("* * * * *"), "UTC"),
        (Some("0 * * * *"), "Europe/Berlin"),
        (Some("30 2 * * *"), "Europe/Berlin"),
        (Some("0 6 * * mon-fri"), "America/New_York"),
        (Some("0 0 1 * *"), "UTC"),
        (Some("* 0 * * *"), "UTC"),
    ];
    for (cron, tz) in cases {
        let c = cadence(cron, tz, None, 0);
        for start in ["2026-03-28T20:00:00Z", "2026-10-24T22:30:00Z", "2026-11-29T12:00:30Z"] {
            let mut before = ts(start);
            for _ in 0..100 {
                let walked = c
                    .ticks_between(
                        before.checked_sub(SignedDuration::from_hours(24 * 40)).expect("ts"),
                        before,
                    )
                    .into_iter()
                    .rfind(|t| *t < before);
                assert_eq!(c.previous_tick(before), walked, "{cron:?} in {tz} before {before}");
                before = before.checked_add(SignedDuration::from_secs(1777)).expect("ts");
            }
        }
    }
}

#[test]
fn first_last_and_count_agree_with_the_walk() {
    let cases = [
        (
            Some("* * * * *"),
            "UTC",
            None,
            0,
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:30Z",
        ),
        (
            Some("5 * * * *"),
            "UTC",
            Some(H),
            300,
            "2026-11-01T00:00:00Z",
            "2026-11-03T03:00:00Z",
        ),
        (
            Some("0 * * * *"),
            "Europe/Berlin",
            Some(H),
            0,
            "2026-10-24T00:00:00Z",
            "2026-10-26T00:00:00Z",
        ),
        (
            Some("0 0 * * *"),
            "Europe/Berlin",
            None,
            0,
            "2026-03-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        ),
        (None, "UTC", Some(H), 0, "2026-11-01T00:00:00Z", "2026-11-05T06:30:00Z"),
        (
            Some("0 0 * * *"),
            "UTC",
            None,
            0,
            "2026-11-01T12:00:00Z",
            "2026-11-02T12:00:00Z",
        ),
    ];
    for (cron, tz, size, delay, from, to) in cases {
        let c = cadence(cron, tz, size, delay);
        let (from, to) = (ts(from), ts(to));
        let walked = c.batches_in(from, to).expect("batches");
        let first = c.first_batch_in(from, to).expect("first");
        let last = c.last_batch_in(from, to).expect("last");
        assert_eq!(first.as_ref(), walked.first(), "{cron:?} {tz}");
        assert_eq!(last.as_ref(), walked.last(), "{cron:?} {tz}");
        let count = match (&first, &last) {
            (Some(f), Some(l)) => c.batches_from_to(f, l),
            _ => 0,
        };
        assert_eq!(count, walked.len() as u64, "{cron:?} {tz}");
        for pair in walked.windows(2) {
            assert_eq!(c.batch_after(&pair[0]).as_ref(), Some(&pair[1]), "{cron:?} {tz}");
            assert_eq!(c.batch_before(&pair[1]).as_ref(), Some(&pair[0]), "{cron:?} {tz}");
            assert_eq!(c.batch_starting_at(pair[1].window.start).as_ref(), Some(&pair[1]));
        }
    }
}

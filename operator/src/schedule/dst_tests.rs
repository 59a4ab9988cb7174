//! Windows tile time across daylight-saving changes (issue 12, item 13):
//! every instant between a job's first and last batch is in exactly one
//! batch's window, whatever the schedule, zone, size and delay.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};

use crate::schedule::{Batch, Cadence};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn cadence(cron: Option<&str>, tz: &str, size: Option<SignedDuration>, delay: SignedDuration) -> Cadence {
    let duration = |d: SignedDuration| std::time::Duration::try_from(d).expect("non-negative");
    Cadence::new(
        cron.map(|c| c.parse().expect("cron")),
        TimeZone::get(tz).expect("zone"),
        size.map(duration),
        duration(delay),
    )
}

const MINUTE: SignedDuration = SignedDuration::from_mins(1);
const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

/// The reported bug: a daily schedule in Berlin with a one-day window lost
/// the 29th of March (02:30 does not exist that day) and left an hour of
/// data in no batch, in spring and in autumn.
#[test]
fn windows_tile_time_across_dst() {
    let berlin = TimeZone::get("Europe/Berlin").expect("zone");
    for cron in ["30 2 * * *", "0 2 * * *"] {
        let c = cadence(Some(cron), "Europe/Berlin", Some(DAY), SignedDuration::ZERO);
        let first = c.next_tick(ts("2026-03-20T12:00:00Z")).expect("tick");
        let mut batch = c.batch_for_tick(first).expect("batch");
        let mut day: Date = "2026-03-21".parse().expect("date");
        while batch.window.end < ts("2026-11-01T00:00:00Z") {
            let next = c.batch_after(&batch).expect("next batch");
            assert_eq!(
                next.window.start, batch.window.end,
                "{cron}: batches {} and {} do not meet",
                batch.id, next.id
            );
            let tick = c.tick_of(&next.window).expect("tick");
            day = day.tomorrow().expect("date");
            assert_eq!(tick.to_zoned(berlin.clone()).date(), day, "{cron}: no batch on {day}");
            batch = next;
        }
    }
    let cases = [
        // cron, tick, id, start, end
        // 02:30 is skipped on the 29th: due at 03:00 CEST, its window ends at 02:30 (the gap's end)
        (
            "30 2 * * *",
            "2026-03-29T01:00:00Z",
            "2026-03-28T0230",
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "30 2 * * *",
            "2026-03-30T00:30:00Z",
            "2026-03-29T0300",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ),
        (
            "0 2 * * *",
            "2026-03-29T01:00:00Z",
            "2026-03-28T02",
            "2026-03-28T01:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "0 2 * * *",
            "2026-03-30T00:00:00Z",
            "2026-03-29T03",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:00:00Z",
        ),
        // autumn: 02:30 happens twice on the 25th, due at the first; the next day is 25 hours
        (
            "30 2 * * *",
            "2026-10-25T00:30:00Z",
            "2026-10-24T0230",
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
        ),
        (
            "30 2 * * *",
            "2026-10-26T01:30:00Z",
            "2026-10-25T0230",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ),
    ];
    for (cron, tick, id, start, end) in cases {
        let c = cadence(Some(cron), "Europe/Berlin", Some(DAY), SignedDuration::ZERO);
        let batch = c.batch_for_tick(ts(tick)).expect("batch");
        assert_eq!(
            (batch.id.as_str(), batch.window.start, batch.window.end),
            (id, ts(start), ts(end)),
            "{cron} {tick}"
        );
        assert_eq!(c.window_for_batch(id), Ok(batch.window), "{cron} {id}");
    }
}

/// Calendar windows with a delay, a week, and a gap at midnight (Cairo).
#[test]
fn calendar_windows_across_changes() {
    let cases = [
        // cron, zone, size, delay, tick, id, start, end
        // the window ends 2 hours of wall clock before 02:30 on the gap day
        (
            "30 2 * * *",
            "Europe/Berlin",
            DAY,
            2 * HOUR,
            "2026-03-29T01:00:00Z",
            "2026-03-28T0030",
            "2026-03-27T23:30:00Z",
            "2026-03-28T23:30:00Z",
        ),
        (
            "30 2 * * *",
            "Europe/Berlin",
            DAY,
            2 * HOUR,
            "2026-03-30T00:30:00Z",
            "2026-03-29T0030",
            "2026-03-28T23:30:00Z",
            "2026-03-29T22:30:00Z",
        ),
        // a week of calendar days across the change: 167 hours
        (
            "0 6 * * mon",
            "Europe/Berlin",
            7 * DAY,
            SignedDuration::ZERO,
            "2026-03-30T04:00:00Z",
            "2026-03-23T06",
            "2026-03-23T05:00:00Z",
            "2026-03-30T04:00:00Z",
        ),
        // Cairo skips from 00:00 to 01:00 on 2026-04-24: midnight is due at 01:00
        (
            "0 0 * * *",
            "Africa/Cairo",
            DAY,
            SignedDuration::ZERO,
            "2026-04-23T22:00:00Z",
            "2026-04-23",
            "2026-04-22T22:00:00Z",
            "2026-04-23T22:00:00Z",
        ),
        (
            "0 0 * * *",
            "Africa/Cairo",
            DAY,
            SignedDuration::ZERO,
            "2026-04-24T21:00:00Z",
            "2026-04-24T01",
            "2026-04-23T22:00:00Z",
            "2026-04-24T21:00:00Z",
        ),
        // a one-day delay is a calendar day too
        (
            "0 0 * * *",
            "Africa/Cairo",
            DAY,
            DAY,
            "2026-04-25T21:00:00Z",
            "2026-04-24T01",
            "2026-04-23T22:00:00Z",
            "2026-04-24T21:00:00Z",
        ),
    ];
    for (cron, zone, size, delay, tick, id, start, end) in cases {
        let c = cadence(Some(cron), zone, Some(size), delay);
        assert_eq!(
            c.next_tick(ts(tick).checked_sub(MINUTE).expect("ts")),
            Some(ts(tick)),
            "{cron} {zone}"
        );
        let batch = c.batch_for_tick(ts(tick)).expect("batch");
        assert_eq!(
            (batch.id.as_str(), batch.window.start, batch.window.end),
            (id, ts(start), ts(end)),
            "{cron} {zone} {tick}"
        );
        assert_eq!(c.window_for_batch(id), Ok(batch.window), "{cron} {zone} {id}");
        assert_eq!(
            c.batch_starting_at(ts(start)),
            Some(batch.clone()),
            "{cron} {zone} {id}"
        );
    }
}

/// Zones with daylight saving time in 2024-2029 (Cairo and Santiago change
/// at midnight, Chatham at 02:45, Adelaide on a half-hour offset, Lord Howe
/// by half an hour), and UTC. (Tehran has had no DST since 2022.)
const ZONES: [&str; 10] = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Africa/Cairo",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
];

/// One random case: schedule, size and delay from the pairs meant to tile.
fn random_case(rng: &mut fastrand::Rng) -> (String, &'static str, Option<SignedDuration>, SignedDuration) {
    let hour = |rng: &mut fastrand::Rng| match rng.u8(0..5) {
        0..=2 => *rng.choice(&[0u8, 1, 2, 3, 23]).expect("hours"),
        _ => rng.u8(0..24),
    };
    let minute = |rng: &mut fastrand::Rng| match rng.u8(0..3) {
        0 => *rng.choice(&[0u8, 15, 30, 45]).expect("minutes"),
        _ => rng.u8(0..60),
    };
    let delay = *rng
        .choice(&[SignedDuration::ZERO, 15 * MINUTE, HOUR, 2 * HOUR, DAY])
        .expect("delays");
    let zone = *rng.choice(&ZONES).expect("zones");
    let (cron, size) = match rng.u8(0..6) {
        // (a) any schedule, windows since the previous tick
        0 | 1 => {
            let (a, b) = (minute(rng), minute(rng));
            let minutes = match rng.u8(0..6) {
                0 => "*".to_owned(),
                1 => format!("*/{}", rng.choice([5, 10, 15, 20, 30]).expect("steps")),
                2 => format!("{a},{b}"),
                3 => format!("{}-{}", a.min(b), a.max(b)),
                4 => format!("{a}/{}", rng.u8(7..40)),
                _ => a.to_string(),
            };
            let (h, g) = (hour(rng), hour(rng));
            let hours = match rng.u8(0..6) {
                0 => "*".to_owned(),
                1 => format!("*/{}", rng.u8(2..7)),
                2 => format!("{h},{g}"),
                3 => format!("{}-{}", h.min(g), h.max(g)),
                _ => h.to_string(),
            };
            let dom = match rng.u8(0..5) {
                0 => rng.u8(1..29).to_string(),
                1 => "1,15".to_owned(),
                _ => "*".to_owned(),
            };
            let dow = *rng.choice(&["*", "*", "*", "0", "1-5", "6,0"]).expect("days");
            (format!("{minutes} {hours} {dom} * {dow}"), None)
        }
        // (b) once a day with a day, once a week with a week
        2 => (format!("{} {} * * *", minute(rng), hour(rng)), Some(DAY)),
        3 => (
            format!("{} {} * * {}", minute(rng), hour(rng), rng.u8(0..7)),
            Some(7 * DAY),
        ),
        // (c) every k minutes with k minutes, every hour with an hour; not on
        // Lord Howe, whose half-hour change no window of exact hours can tile
        _ if zone == "Australia/Lord_Howe" => (format!("{} * * * *", minute(rng)), None),
        4 => {
            let k = *rng
                .choice(&[1i64, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60])
                .expect("divisors");
            (format!("*/{k} * * * *"), Some(SignedDuration::from_mins(k)))
        }
        _ => (format!("{} * * * *", minute(rng)), Some(HOUR)),
    };
    (cron, zone, size, delay)
}

/// An instant near an offset change of `tz` in 2024-2029 (any instant in UTC).
fn random_change(rng: &mut fastrand::Rng, tz: &TimeZone) -> Timestamp {
    let from = ts("2024-01-01T00:00:00Z");
    let until = ts("2030-01-01T00:00:00Z");
    let changes: Vec<Timestamp> = tz
        .following(from)
        .map(|t| t.timestamp())
        .take_while(|t| *t < until)
        .collect();
    match rng.choice(changes) {
        Some(change) => change,
        None => Timestamp::from_second(rng.i64(from.as_second()..until.as_second())).expect("ts"),
    }
}

/// A whole number of seconds in `[0, span)`, or 0 a quarter of the time.
fn jitter(rng: &mut fastrand::Rng, span: SignedDuration) -> SignedDuration {
    let secs = span.as_secs();
    if secs <= 0 || rng.u8(0..4) == 0 {
        SignedDuration::ZERO
    } else {
        SignedDuration::from_secs(rng.i64(0..secs))
    }
}

/// Seeded: walks the batches of random cadences across offset changes and
/// checks that they tile time and that every look-up agrees with the walk.
#[test]
fn windows_tile_time_property() {
    for seed in 0..300u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (cron, zone, size, delay) = random_case(&mut rng);
        let case = format!("seed {seed}: {cron:?} in {zone}, size {size:?}, delay {delay}");
        let c = cadence(Some(&cron), zone, size, delay);
        let tz = TimeZone::get(zone).expect("zone");
        let change = random_change(&mut rng, &tz);
        // Start a little before the change (further for weekly and daily
        // windows), go back a random number of batches, then walk forward
        // past the change.
        let lead = if size.is_some_and(|s| s >= DAY) {
            40 * DAY
        } else {
            2 * HOUR
        };
        let anchor = change.checked_sub(jitter(&mut rng, lead)).expect("ts");
        let mut first = c.batch_for_tick(c.next_tick(anchor).expect(&case)).expect(&case);
        for _ in 0..rng.usize(0..60) {
            first = c.batch_before(&first).expect(&case);
        }
        let mut walk = vec![first];
        let more = rng.usize(1..if size == Some(DAY) { 240 } else { 60 });
        while let Some(last) = walk.last().filter(|b| b.window.end <= change || walk.len() < more) {
            let next = c.batch_after(last).expect(&case);
            assert_eq!(c.batch_before(&next).as_ref(), Some(last), "{case}: before {}", next.id);
            walk.push(next);
        }
        check_walk(&c, &walk, &case);
        check_range(&c, &walk, &mut rng, &case);
        check_near_changes(&c, &walk, &tz, delay, &case);
    }
}

/// The walk tiles time, and every batch is its tick's and its id's.
fn check_walk(c: &Cadence, walk: &[Batch], case: &str) {
    let mut ids = HashSet::new();
    let mut previous: Option<(Timestamp, &Batch)> = None;
    for batch in walk {
        let (id, window) = (&batch.id, batch.window);
        assert!(window.start < window.end, "{case}: {id} is empty: {window:?}");
        assert!(ids.insert(id.clone()), "{case}: {id} twice");
        assert_eq!(c.window_for_batch(id), Ok(window), "{case}: {id} does not parse back");
        assert_eq!(
            c.batch_starting_at(window.start).as_ref(),
            Some(batch),
            "{case}: {id} by start"
        );
        let tick = c.tick_of(&window).expect(case);
        assert_eq!(
            c.batch_for_tick(tick).as_ref(),
            Some(batch),
            "{case}: {id} of tick {tick}"
        );
        if let Some((before, prior)) = previous {
            assert_eq!(
                prior.window.end, window.start,
                "{case}: {} and {id} do not meet",
                prior.id
            );
            assert!(before < tick, "{case}: ticks {before} then {tick}");
            assert_eq!(
                c.next_tick(before),
                Some(tick),
                "{case}: a tick between {before} and {tick}"
            );
        }
        previous = Some((tick, batch));
    }
}

/// Over a range that holds exactly the walk, the bounded look-ups agree with it.
fn check_range(c: &Cadence, walk: &[Batch], rng: &mut fastrand::Rng, case: &str) {
    let (Some(first), Some(last)) = (walk.first(), walk.last()) else {
        return;
    };
    let before = c.batch_before(first).expect(case);
    let after = c.batch_after(last).expect(case);
    let from = first
        .window
        .start
        .checked_sub(jitter(rng, first.window.start.duration_since(before.window.start)))
        .expect("ts");
    let to = last
        .window
        .end
        .checked_add(jitter(rng, after.window.end.duration_since(last.window.end)))
        .expect("ts");
    let range = format!("{case}: in [{from}, {to})");
    assert_eq!(
        c.first_batch_in(from, to).as_ref().map(Option::as_ref),
        Ok(Some(first)),
        "{range}"
    );
    assert_eq!(
        c.last_batch_in(from, to).as_ref().map(Option::as_ref),
        Ok(Some(last)),
        "{range}"
    );
    assert_eq!(c.batches_from_to(first, last), walk.len() as u64, "{range}");
}

/// `first_batch_in` and `last_batch_in` with one end of the range at
/// instants around each offset change of the walk, in the ticks' time and
/// in the windows' (`delay` earlier), against the walk: where gaps and
/// repeated hours shift the candidate ticks.
fn check_near_changes(c: &Cadence, walk: &[Batch], tz: &TimeZone, delay: SignedDuration, case: &str) {
    let (Some(first), Some(last)) = (walk.first(), walk.last()) else {
        return;
    };
    let (start, end) = (first.window.start, last.window.end);
    let changes = tz.following(start).map(|t| t.timestamp()).take_while(|t| *t < end);
    for change in changes.collect::<Vec<_>>() {
        for base in [change, change.checked_sub(delay).expect("ts")] {
            for k in -6..=6 {
                let at = base.checked_add(10 * k * MINUTE).expect("ts");
                if at < start || at > end {
                    continue;
                }
                let from_at = walk.iter().find(|b| b.window.start >= at);
                let first_in = c.first_batch_in(at, end);
                assert_eq!(first_in.as_ref().map(Option::as_ref), Ok(from_at), "{case}: from {at}");
                let to_at = walk.iter().rev().find(|b| b.window.end <= at);
                let last_in = c.last_batch_in(start, at);
                assert_eq!(last_in.as_ref().map(Option::as_ref), Ok(to_at), "{case}: to {at}");
            }
        }
    }
}

//! Tables for cron parsing and due times, and the fast path checked
//! against the day-by-day scan.

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
        // spring forward in Berlin: 02:30 does not exist on 2026-03-29, due
        // when the gap ends (03:00 CEST), so the day keeps its run
        (
            "30 2 * * *",
            "2026-03-28T12:00:00Z",
            "Europe/Berlin",
            Some("2026-03-29T01:00:00Z"),
        ),
        (
            "30 2 * * *",
            "2026-03-29T01:00:00Z",
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

/// The fast path agrees with the day-by-day scan everywhere, including
/// around offset changes (Berlin, New York, Lord Howe's half-hour shift).
#[test]
fn next_after_agrees_with_the_day_scan() {
    let exprs = [
        "* * * * *",
        "0 * * * *",
        "30 * * * *",
        "*/20 * * * *",
        "30 2 * * *",
        "0 0 * * *",
        "15 1,2,3 * * *",
        "0 6 * * mon-fri",
        "0 0 1 * *",
    ];
    let zones = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Africa/Cairo",
        "America/Santiago",
        "Pacific/Chatham",
    ];
    let starts = [
        "2026-03-28T20:00:00Z",
        "2026-10-24T20:00:00Z",
        "2026-03-07T20:00:00Z",
        "2026-10-31T20:00:00Z",
        "2026-04-04T10:00:00Z",
        "2026-10-03T10:00:00Z",
        "2026-04-23T18:00:00Z",
        "2026-09-05T20:00:00Z",
        "2026-09-26T10:00:00Z",
    ];
    for expr in exprs {
        let cron: Cron = expr.parse().expect("cron");
        for zone in zones {
            let tz = TimeZone::get(zone).expect("zone");
            for start in starts {
                // every 7 minutes and 13 seconds over a day and a half
                let mut at = ts(start);
                for _ in 0..300 {
                    let fast = cron.next_after(at, &tz);
                    let slow = cron.next_after_by_day(at, &tz);
                    assert_eq!(fast, slow, "{expr} in {zone} after {at}");
                    at = at.checked_add(SignedDuration::from_secs(433)).expect("ts");
                }
            }
        }
    }
}

#[test]
fn count_between_agrees_with_a_walk() {
    let cases = [
        (
            "* * * * *",
            "Europe/Berlin",
            "2026-03-27T13:17:00Z",
            "2026-04-02T09:00:00Z",
        ),
        (
            "0 * * * *",
            "Europe/Berlin",
            "2026-10-20T13:17:00Z",
            "2026-10-30T09:00:00Z",
        ),
        (
            "30 2 * * *",
            "Europe/Berlin",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ),
        (
            "*/7 3 * * 1-5",
            "America/New_York",
            "2026-02-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
        ),
        (
            "*/30 * * * *",
            "Australia/Lord_Howe",
            "2026-03-30T00:00:00Z",
            "2026-10-10T00:00:00Z",
        ),
        ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2031-01-01T00:00:00Z"),
        ("* * * * *", "UTC", "2026-11-29T12:00:00Z", "2026-11-29T12:00:00Z"),
        ("* * * * *", "UTC", "2026-11-29T12:00:30Z", "2026-11-29T12:05:00Z"),
        // midnight falls in the spring-forward gap
        (
            "0 0 * * sat",
            "Africa/Cairo",
            "2026-04-23T10:00:00Z",
            "2026-04-25T09:00:00Z",
        ),
        (
            "0 0 * * fri",
            "Africa/Cairo",
            "2026-04-23T10:00:00Z",
            "2026-04-26T09:00:00Z",
        ),
        (
            "0 0 * * sun-thu",
            "Africa/Cairo",
            "2026-04-01T00:00:00Z",
            "2026-06-01T00:00:00Z",
        ),
        (
            "*/30 * * * *",
            "America/Santiago",
            "2026-08-01T00:00:00Z",
            "2026-10-01T00:00:00Z",
        ),
        // several times in the gap are one due time
        (
            "*/15 2 * * *",
            "Europe/Berlin",
            "2026-03-01T00:00:00Z",
            "2026-04-01T00:00:00Z",
        ),
        (
            "0 2,3 * * *",
            "Europe/Berlin",
            "2026-03-01T00:00:00Z",
            "2026-04-01T00:00:00Z",
        ),
    ];
    for (expr, zone, after, until) in cases {
        let cron: Cron = expr.parse().expect("cron");
        let tz = TimeZone::get(zone).expect("zone");
        let (after, until) = (ts(after), ts(until));
        let mut walked = 0u64;
        let mut at = after;
        while let Some(due) = cron.next_after_by_day(at, &tz).filter(|d| *d <= until) {
            walked += 1;
            at = due;
        }
        assert_eq!(cron.count_between(after, until, &tz), walked, "{expr} in {zone}");
    }
}

/// A local time the spring-forward gap skips is due when the gap ends (a
/// wall-clock schedule); the times of one gap and a time at its end are one
/// due time. An every-hour schedule follows elapsed time and skips it.
#[test]
fn gap_times_are_due_when_the_gap_ends() {
    let cases = [
        (
            "*/15 2 * * *",
            "2026-03-28T23:00:00Z",
            "Europe/Berlin",
            "2026-03-29T01:00:00Z",
        ),
        (
            "*/15 2 * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-30T00:00:00Z",
        ),
        (
            "0 2,3 * * *",
            "2026-03-28T23:00:00Z",
            "Europe/Berlin",
            "2026-03-29T01:00:00Z",
        ),
        (
            "0 2,3 * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-30T00:00:00Z",
        ),
        // every hour: 02:30 did not happen, 03:30 CEST is next
        (
            "30 * * * *",
            "2026-03-29T00:30:00Z",
            "Europe/Berlin",
            "2026-03-29T01:30:00Z",
        ),
        // New York skips 02:00-03:00 EST at 07:00Z
        (
            "30 2 * * *",
            "2026-03-08T00:00:00Z",
            "America/New_York",
            "2026-03-08T07:00:00Z",
        ),
        // Cairo skips midnight: due at 01:00 EEST
        (
            "0 0 * * *",
            "2026-04-23T12:00:00Z",
            "Africa/Cairo",
            "2026-04-23T22:00:00Z",
        ),
        // Chatham skips 02:45-03:45 (+12:45 to +13:45)
        (
            "50 2 * * *",
            "2026-09-26T00:00:00Z",
            "Pacific/Chatham",
            "2026-09-26T14:00:00Z",
        ),
    ];
    for (expr, after, tz, want) in cases {
        assert_eq!(
            next(expr, after, tz).as_deref(),
            Some(want),
            "{expr} after {after} in {tz}"
        );
    }
}

/// The local time a due time stands for: at a gap's end, the earliest
/// skipped time the schedule names.
#[test]
fn scheduled_times() {
    let cases = [
        (
            "30 2 * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-29T02:30:00",
        ),
        (
            "0 2,3 * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-29T02:00:00",
        ),
        (
            "0 3 * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-29T03:00:00",
        ),
        (
            "0 * * * *",
            "2026-03-29T01:00:00Z",
            "Europe/Berlin",
            "2026-03-29T03:00:00",
        ),
        (
            "30 2 * * *",
            "2026-10-25T00:30:00Z",
            "Europe/Berlin",
            "2026-10-25T02:30:00",
        ),
        (
            "0 0 * * *",
            "2026-04-23T22:00:00Z",
            "Africa/Cairo",
            "2026-04-24T00:00:00",
        ),
    ];
    for (expr, tick, tz, want) in cases {
        let cron: Cron = expr.parse().expect("cron");
        let tz = TimeZone::get(tz).expect("zone");
        assert_eq!(cron.scheduled_time(ts(tick), &tz).to_string(), want, "{expr} at {tick}");
    }
}

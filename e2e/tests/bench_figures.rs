//! The bench's figures from the API server's creation stamps
//! (`ade_e2e::bench`): pure, no cluster needed.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use ade_e2e::bench::{Stamps, seen_late, stamped_gaps};

fn stamps(items: &[(&str, &str)]) -> Stamps {
    items
        .iter()
        .map(|(k, t)| ((*k).to_owned(), t.parse().expect("a timestamp")))
        .collect()
}

#[test]
fn stamped_gaps_pair_keys_and_never_go_negative() {
    let from = stamps(&[
        ("a", "2026-12-06T10:00:00Z"),
        ("b", "2026-12-06T10:00:05Z"),
        ("c", "2026-12-06T10:00:00Z"),
    ]);
    let to = stamps(&[("a", "2026-12-06T10:00:03Z"), ("b", "2026-12-06T10:00:04Z")]);
    assert_eq!(stamped_gaps(&from, &to), [Duration::from_secs(3), Duration::ZERO]);
}

#[test]
fn seen_late_reads_the_watchers_clock_on_the_wall_clock() {
    let origin_instant = Instant::now();
    let origin: jiff::Timestamp = "2026-12-06T10:00:00Z".parse().expect("a timestamp");
    let created = stamps(&[("a", "2026-12-06T10:00:01Z")]);
    let seen = BTreeMap::from([("a".to_owned(), origin_instant + Duration::from_millis(3500))]);
    assert_eq!(
        seen_late(&created, &seen, (origin_instant, origin)),
        [Duration::from_millis(2500)]
    );
}

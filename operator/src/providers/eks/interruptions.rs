//! Spot interruptions of an eks pool's nodes, as `DescribeInstances` shows
//! them: the pool's reconcile lists its instances every time, and a spot
//! instance EC2 reclaimed is shutting down or terminated with the state
//! reason `Server.SpotInstanceTermination` and a `Service initiated (<time>)`
//! transition reason. From that list come the launches and losses the
//! shared breaker ([`crate::providers::emr::breaker`]) counts, and the
//! instances to tell of once.
//!
//! A pool that reads a queue of EC2's notices ([`super::notices`]) learns
//! of a reclaim two minutes earlier, from the warning; the instance keeps
//! a record of it (a tag), and the breaker counts the loss at the warning.
//!
//! Pure.

use std::collections::BTreeSet;

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

use super::api::InstanceInfo;
use crate::providers::emr::{
    Market,
    breaker::{SpotEvent, SpotOutcome},
};

/// EC2's state reason code of a spot instance it reclaimed.
pub const SPOT_TERMINATION: &str = "Server.SpotInstanceTermination";

/// Whether EC2 reclaimed spot instance `i`.
pub fn interrupted(i: &InstanceInfo) -> bool {
    i.market == Market::Spot && i.state_reason.as_deref() == Some(SPOT_TERMINATION)
}

/// The time in an EC2 state transition reason, `Service initiated
/// (2026-12-01 08:00:00 GMT)` or `User initiated (… UTC)`.
pub fn transition_time(reason: &str) -> Option<Timestamp> {
    let inner = reason.trim_end().strip_suffix(')')?.rsplit_once('(')?.1;
    let (clock, zone) = inner.rsplit_once(' ')?;
    if !matches!(zone, "GMT" | "UTC") {
        return None;
    }
    let civil = DateTime::strptime("%Y-%m-%d %H:%M:%S", clock).ok()?;
    civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// What the breaker counts: every spot instance's launch, and its loss when
/// EC2 warned it would reclaim it (at the warning) or reclaimed it (at its
/// state change, else its launch when EC2 gives no time).
pub fn spot_events(instances: &[InstanceInfo]) -> Vec<SpotEvent> {
    let mut out = Vec::new();
    for i in instances.iter().filter(|i| i.market == Market::Spot) {
        let Some(launched) = i.launched_at else { continue };
        out.push(SpotEvent {
            instance: i.id.clone(),
            outcome: SpotOutcome::Launched,
            at: launched,
        });
        let warned = super::notices::warned_at(&i.tags);
        if interrupted(i) || warned.is_some() {
            out.push(SpotEvent {
                instance: i.id.clone(),
                outcome: SpotOutcome::Interrupted,
                at: warned.or(i.state_changed_at).unwrap_or(launched),
            });
        }
    }
    out
}

/// The reclaimed instances to tell of now, each once: not `told` by this
/// process yet, and either listed by the pool's last status (`listed`, its
/// `status.clusters` ids: a loss the operator was down for) or reclaimed
/// since this process started (`since`). The second covers a reconcile that
/// read a status not listing the instance yet (one ahead of the watch),
/// which would otherwise never tell the loss.
pub fn newly_interrupted<'a>(
    instances: &'a [InstanceInfo],
    listed: &BTreeSet<&str>,
    told: &BTreeSet<String>,
    since: Timestamp,
) -> Vec<&'a InstanceInfo> {
    instances
        .iter()
        .filter(|i| interrupted(i) && !told.contains(&i.id))
        .filter(|i| listed.contains(i.id.as_str()) || i.state_changed_at.is_some_and(|t| t >= since))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::providers::eks::api::InstanceState;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn instance(id: &str, market: Market, reason: Option<&str>, changed: Option<&str>) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            instance_type: "m5.xlarge".into(),
            zone: "us-east-1a".into(),
            market,
            state: if reason.is_some() {
                InstanceState::Terminated
            } else {
                InstanceState::Running
            },
            state_reason: reason.map(str::to_owned),
            state_changed_at: changed.map(at),
            launched_at: Some(at("2026-12-01T08:00:00Z")),
            tags: BTreeMap::new(),
        }
    }

    fn warned(mut i: InstanceInfo, at: &str) -> InstanceInfo {
        i.tags.insert(
            crate::providers::eks::notices::TAG_NOTICE.into(),
            format!("spot-interruption-warning {at}"),
        );
        i
    }

    #[test]
    fn transition_reasons_give_their_time() {
        let cases = [
            (
                "Service initiated (2026-12-01 08:10:00 GMT)",
                Some("2026-12-01T08:10:00Z"),
            ),
            ("User initiated (2026-12-01 09:00:05 UTC)", Some("2026-12-01T09:00:05Z")),
            ("User initiated (2026-12-01 09:00:05 PST)", None),
            ("User initiated", None),
            ("", None),
            ("Service initiated (yesterday GMT)", None),
        ];
        for (reason, want) in cases {
            assert_eq!(transition_time(reason), want.map(at), "{reason:?}");
        }
    }

    #[test]
    fn only_reclaimed_spot_instances_are_interruptions() {
        let cases = [
            (Market::Spot, Some(SPOT_TERMINATION), true),
            (Market::Spot, Some("Client.UserInitiatedShutdown"), false),
            (Market::Spot, None, false),
            // On-demand capacity is never reclaimed; a reason on it is not a spot loss.
            (Market::OnDemand, Some(SPOT_TERMINATION), false),
        ];
        for (market, reason, want) in cases {
            assert_eq!(
                interrupted(&instance("i-1", market, reason, None)),
                want,
                "{market} {reason:?}"
            );
        }
    }

    #[test]
    fn the_breaker_counts_spot_launches_and_losses() {
        let instances = [
            instance("i-1", Market::Spot, None, None),
            instance(
                "i-2",
                Market::Spot,
                Some(SPOT_TERMINATION),
                Some("2026-12-01T08:20:00Z"),
            ),
            // No time from EC2: the loss counts at the launch.
            instance("i-3", Market::Spot, Some(SPOT_TERMINATION), None),
            instance("i-4", Market::OnDemand, None, None),
            // Warned, still running: the loss counts at the warning, and once
            // only when EC2 then reclaims it.
            warned(instance("i-5", Market::Spot, None, None), "2026-12-01T08:30:00Z"),
            warned(
                instance(
                    "i-6",
                    Market::Spot,
                    Some(SPOT_TERMINATION),
                    Some("2026-12-01T08:42:00Z"),
                ),
                "2026-12-01T08:40:00Z",
            ),
        ];
        let got: Vec<(String, SpotOutcome, Timestamp)> = spot_events(&instances)
            .into_iter()
            .map(|e| (e.instance, e.outcome, e.at))
            .collect();
        let launch = at("2026-12-01T08:00:00Z");
        assert_eq!(
            got,
            [
                ("i-1".into(), SpotOutcome::Launched, launch),
                ("i-2".into(), SpotOutcome::Launched, launch),
                ("i-2".into(), SpotOutcome::Interrupted, at("2026-12-01T08:20:00Z")),
                ("i-3".into(), SpotOutcome::Launched, launch),
                ("i-3".into(), SpotOutcome::Interrupted, launch),
                ("i-5".into(), SpotOutcome::Launched, launch),
                ("i-5".into(), SpotOutcome::Interrupted, at("2026-12-01T08:30:00Z")),
                ("i-6".into(), SpotOutcome::Launched, launch),
                ("i-6".into(), SpotOutcome::Interrupted, at("2026-12-01T08:40:00Z")),
            ]
        );
    }

    #[test]
    fn an_interruption_is_told_once() {
        let reclaimed = |id: &str, at_: &str| instance(id, Market::Spot, Some(SPOT_TERMINATION), Some(at_));
        let instances = [
            reclaimed("i-1", "2026-12-01T07:00:00Z"),
            reclaimed("i-2", "2026-12-01T07:00:00Z"),
            instance("i-3", Market::Spot, None, None),
            reclaimed("i-4", "2026-12-01T09:00:00Z"),
            reclaimed("i-5", "2026-12-01T09:00:00Z"),
        ];
        let started = at("2026-12-01T08:00:00Z");
        let listed = BTreeSet::from(["i-1", "i-3", "i-5"]);
        let told = BTreeSet::from(["i-5".to_owned()]);
        let now: Vec<&str> = newly_interrupted(&instances, &listed, &told, started)
            .into_iter()
            .map(|i| i.id.as_str())
            .collect();
        // i-1: listed, lost while the operator was down; i-2: neither listed
        // nor lost since the start (told by an earlier process); i-3: live;
        // i-4: lost since the start, though the status read does not list it;
        // i-5: told already.
        assert_eq!(now, ["i-1", "i-4"]);
    }
}

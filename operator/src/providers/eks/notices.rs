//! EC2's notices about an eks pool's instances, as an EventBridge rule
//! delivers them to the SQS queue the pool names (`interruptionQueue`): the
//! two-minute spot interruption warning, the rebalance recommendation (the
//! instance is at elevated risk of interruption) and instance state changes.
//!
//! A notice the pool acts on is recorded on the instance (the
//! [`TAG_NOTICE`] tag) and on its Node (an annotation of the same key), so
//! that the breaker counts a warned instance after its Node is gone, a
//! redelivered message is not told twice, and a run's observation sees its
//! node is going.
//!
//! Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

/// The instance tag and Node annotation that record a notice:
/// `<kind> <RFC 3339 time>`, e.g. `spot-interruption-warning 2026-12-02T01:00:00Z`.
pub const TAG_NOTICE: &str = "ade.dev/interruption";

/// How long a message about an instance of no pool reading the queue stays
/// for another pool that shares it before it is deleted.
pub const UNCLAIMED_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// What EC2 says of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// EC2 reclaims the spot instance in two minutes.
    SpotWarning,
    /// The spot instance is at elevated risk of interruption.
    Rebalance,
    /// The instance entered this state (`stopping`, `shutting-down`, …).
    StateChange(String),
}

impl NoticeKind {
    /// Its name in a record.
    pub fn label(&self) -> String {
        match self {
            Self::SpotWarning => "spot-interruption-warning".into(),
            Self::Rebalance => "rebalance-recommendation".into(),
            Self::StateChange(state) => format!("instance-{state}"),
        }
    }

    /// Whether the runs on the instance must move now: it is being
    /// reclaimed or is going away. A rebalance recommendation only stops new
    /// runs from landing there.
    pub fn interrupts_runs(&self) -> bool {
        match self {
            Self::SpotWarning => true,
            Self::Rebalance => false,
            Self::StateChange(state) => {
                matches!(state.as_str(), "stopping" | "stopped" | "shutting-down" | "terminated")
            }
        }
    }

    /// Whether the pool acts on it at all (a state change to `pending` or
    /// `running` says nothing new).
    pub fn matters(&self) -> bool {
        !matches!(self, Self::StateChange(_)) || self.interrupts_runs()
    }
}

/// One notice about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `i-...`.
    pub instance: String,
    /// What EC2 says.
    pub kind: NoticeKind,
    /// When EC2 said it (the event's time).
    pub at: Timestamp,
}

impl Notice {
    /// The record of this notice (the tag and annotation value).
    pub fn record(&self) -> String {
        format!("{} {}", self.kind.label(), self.at)
    }
}

#[derive(Deserialize)]
struct Event {
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: String,
    time: Option<String>,
    detail: Detail,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "instance-id")]
    instance_id: Option<String>,
    state: Option<String>,
}

/// The notice in a message body (an EventBridge event); `Err` says why the
/// message is not one the pool reads.
pub fn parse(body: &str) -> Result<Notice, String> {
    let event: Event = serde_json::from_str(body).map_err(|e| format!("not an EventBridge event: {e}"))?;
    if event.source.as_deref() != Some("aws.ec2") {
        return Err(format!(
            "an event from {}, not aws.ec2",
            event.source.as_deref().unwrap_or("nowhere")
        ));
    }
    let kind = match event.detail_type.as_str() {
        "EC2 Spot Instance Interruption Warning" => NoticeKind::SpotWarning,
        "EC2 Instance Rebalance Recommendation" => NoticeKind::Rebalance,
        "EC2 Instance State-change Notification" => {
            NoticeKind::StateChange(event.detail.state.ok_or("a state change without a state")?)
        }
        other => return Err(format!("an EC2 event the operator does not read ({other})")),
    };
    let instance = event.detail.instance_id.ok_or("an EC2 event without an instance-id")?;
    let at = event
        .time
        .as_deref()
        .ok_or("an EC2 event without a time")?
        .parse()
        .map_err(|e| format!("an EC2 event with a bad time: {e}"))?;
    Ok(Notice { instance, kind, at })
}

/// A record read back: its kind label and time.
pub fn read_record(value: &str) -> Option<(&str, Timestamp)> {
    let (label, at) = value.split_once(' ')?;
    Some((label, at.parse().ok()?))
}

/// When EC2 warned it would reclaim the instance with these tags.
pub fn warned_at(tags: &BTreeMap<String, String>) -> Option<Timestamp> {
    let (label, at) = read_record(tags.get(TAG_NOTICE)?)?;
    (label == NoticeKind::SpotWarning.label()).then_some(at)
}

/// The record on a Node whose runs must move (anything but a rebalance
/// recommendation): its kind label and time.
pub fn moving(record: &str) -> Option<(&str, Timestamp)> {
    read_record(record).filter(|(label, _)| *label != NoticeKind::Rebalance.label())
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// It is about an instance of the pool: act on it, then delete it.
    Act(Notice),
    /// Nothing to act on: delete it.
    Drop(String),
    /// About an instance of no pool reading it now: leave it for another
    /// pool that shares the queue, until [`UNCLAIMED_FOR`] has passed.
    Leave,
}

/// What to do with the message `body`, given whether the instance it names
/// is one of the pool's (`owned`).
pub fn dispose(body: &str, owned: impl Fn(&str) -> bool, now: Timestamp) -> Disposition {
    let notice = match parse(body) {
        Ok(n) => n,
        Err(why) => return Disposition::Drop(why),
    };
    if !owned(&notice.instance) {
        return if now.duration_since(notice.at) < UNCLAIMED_FOR {
            Disposition::Leave
        } else {
            Disposition::Drop(format!(
                "about {}, an instance of no pool reading the queue",
                notice.instance
            ))
        };
    }
    if !notice.kind.matters() {
        return Disposition::Drop(format!("{} is {}", notice.instance, notice.kind.label()));
    }
    Disposition::Act(notice)
}

#[cfg(test)]
#[path = "notices_tests.rs"]
mod tests;

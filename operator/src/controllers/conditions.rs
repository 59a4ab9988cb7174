//! Conditions in the standard Kubernetes shape, and the one helper that
//! builds the list a controller applies: `lastTransitionTime` moves only when
//! a condition's status changes.
//!
//! Pure.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Status of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known (yet).
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// A condition as a controller wants it to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Condition type, e.g. `Ready`.
    pub type_: &'static str,
    /// Its status.
    pub status: Status,
    /// One CamelCase word saying why.
    pub reason: &'static str,
    /// A sentence a person can act on.
    pub message: String,
}

impl Desired {
    /// A condition of `type_`.
    pub fn new(type_: &'static str, status: Status, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// The conditions to apply: `desired`, each keeping the `lastTransitionTime`
/// of the `existing` condition of its type when the status did not change.
/// Types `existing` holds keep their place, new ones follow in `desired`'s
/// order: a controller whose code paths list its conditions in different
/// orders does not rewrite a status only to reorder it (an EtlRun did, once
/// in three runs: a write, a watch event and a reconcile for nothing).
pub fn merge(existing: &[Condition], desired: &[Desired], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let place = |d: &&Desired| existing.iter().position(|c| c.type_ == d.type_).unwrap_or(usize::MAX);
    let mut ordered: Vec<&Desired> = desired.iter().collect();
    ordered.sort_by_key(place);
    ordered
        .into_iter()
        .map(|d| {
            let previous = existing.iter().find(|c| c.type_ == d.type_);
            let last_transition_time = match previous {
                Some(p) if p.status == d.status.as_str() => p.last_transition_time.clone(),
                _ => Time(now),
            };
            Condition {
                type_: d.type_.to_owned(),
                status: d.status.as_str().to_owned(),
                reason: d.reason.to_owned(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// The condition of `type_` in `conditions` (written once in `ade-api`).
pub use crate::api::v1alpha1::find_condition as find;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let t0 = at("2026-11-26T10:00:00Z");
        let t1 = at("2026-11-26T11:00:00Z");
        let first = merge(
            &[],
            &[Desired::new("Ready", Status::False, "Pending", "waiting")],
            Some(1),
            t0,
        );
        assert_eq!(first[0].last_transition_time, Time(t0));
        assert_eq!(first[0].observed_generation, Some(1));

        // same status, new reason and message: time kept, text updated
        let same = merge(
            &first,
            &[Desired::new("Ready", Status::False, "Queued", "3 runs ahead")],
            Some(2),
            t1,
        );
        assert_eq!(same[0].last_transition_time, Time(t0));
        assert_eq!(same[0].reason, "Queued");
        assert_eq!(same[0].observed_generation, Some(2));

        // status change: time moves
        let changed = merge(
            &same,
            &[Desired::new("Ready", Status::True, "Succeeded", "done")],
            Some(2),
            t1,
        );
        assert_eq!(changed[0].last_transition_time, Time(t1));
        assert_eq!(changed[0].status, "True");
    }

    #[test]
    fn existing_types_keep_their_place_and_new_ones_follow_in_desired_order() {
        let t0 = at("2026-11-26T10:00:00Z");
        let desired = |types: &[&'static str]| -> Vec<Desired> {
            types.iter().map(|t| Desired::new(t, Status::True, "R", "")).collect()
        };
        let existing = merge(&[], &desired(&["Accepted", "Ready", "Scheduled"]), None, t0);
        let got = merge(
            &existing,
            &desired(&["Validated", "Accepted", "Scheduled", "Ready"]),
            None,
            t0,
        );
        let types: Vec<_> = got.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Accepted", "Ready", "Scheduled", "Validated"]);
        assert_eq!(merge(&got, &desired(&["Ready", "Accepted"]), None, t0).len(), 2);
    }

    #[test]
    fn only_desired_types_in_desired_order() {
        let t0 = at("2026-11-26T10:00:00Z");
        let existing = merge(&[], &[Desired::new("Old", Status::True, "X", "")], None, t0);
        let got = merge(
            &existing,
            &[
                Desired::new("Accepted", Status::True, "Valid", ""),
                Desired::new("Ready", Status::Unknown, "Pending", ""),
            ],
            None,
            t0,
        );
        let types: Vec<_> = got.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Accepted", "Ready"]);
    }
}

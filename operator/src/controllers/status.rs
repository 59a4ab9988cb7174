//! Status writes by server-side apply (one field manager per controller), and
//! the report every controller gives in this release: `Accepted` from the
//! spec's problems, `Ready` as the controller says, and an Event when an
//! object stops being accepted.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{controller::Action, events::EventType},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use super::{
    Context, Error,
    conditions::{self, Desired, Status},
};
use crate::api::v1alpha1::{ClusterPool, Condition, EtlJob, EtlRun, StreamConsumer, ValidationSuite};

/// How often a valid object is looked at again without any change.
const RESYNC: Duration = Duration::from_secs(300);

/// An ADE object: namespaced, with conditions in its status.
pub trait AdeObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + std::fmt::Debug
{
    /// Kind name, for messages.
    const KIND: &'static str;
    /// The conditions currently in the status.
    fn conditions(&self) -> &[Condition];
}

macro_rules! ade_object {
    ($($kind:ident),*) => {$(
        impl AdeObject for $kind {
            const KIND: &'static str = stringify!($kind);
            fn conditions(&self) -> &[Condition] {
                self.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default()
            }
        }
    )*};
}

ade_object!(ClusterPool, EtlJob, EtlRun, StreamConsumer, ValidationSuite);

/// Something wrong with a spec that the schema could not catch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase reason, e.g. `InvalidSchedule`.
    pub reason: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem with `reason`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// The `Accepted` condition for a spec with `problems`.
///
/// Pure.
pub fn accepted(problems: &[Problem]) -> Desired {
    match problems.first() {
        None => Desired::new("Accepted", Status::True, "Valid", "the spec is valid"),
        Some(first) => Desired::new(
            "Accepted",
            Status::False,
            first.reason,
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// Applies `status` (the kind's status type) to `obj` as `manager`. A status
/// that cannot be serialized is an error, never an empty status applied with
/// force (which would clear every field this manager owns).
pub async fn apply<K: AdeObject, S: Serialize>(
    ctx: &Context,
    obj: &K,
    manager: &str,
    status: &S,
) -> Result<K, kube::Error> {
    let status = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&patch),
    )
    .await
}

/// Whether `current` (the status as last read, or as the operator last
/// wrote it) already shows `desired`, so that applying it would change
/// nothing: equal, once conditions of types `desired` does not set (another
/// field manager's, e.g. a gate's `Quarantined`) are left out of `current`.
/// A controller that skips such writes makes no request, and no watch event
/// wakes anyone, while nothing changes (a poll of a running attempt).
///
/// Pure.
pub fn shows<S: PartialEq + Clone>(
    current: Option<&S>,
    desired: &S,
    conditions: impl Fn(&mut S) -> &mut Vec<Condition>,
) -> bool {
    let Some(current) = current else {
        return false;
    };
    let mut current = current.clone();
    let mut desired = desired.clone();
    let types: Vec<String> = conditions(&mut desired).iter().map(|c| c.type_.clone()).collect();
    conditions(&mut current).retain(|c| types.contains(&c.type_));
    current == desired
}

/// The status fields [`report_validation`] owns, common to every kind.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidationStatus<'a> {
    observed_generation: Option<i64>,
    conditions: &'a [Condition],
}

/// Writes `observedGeneration`, `Accepted` (from `problems`) and `ready`, and
/// publishes a Warning Event when the object newly stops being accepted.
/// Invalid objects wait for a change instead of being retried.
pub async fn report_validation<K: AdeObject>(
    ctx: &Context,
    obj: &K,
    manager: &str,
    problems: &[Problem],
    ready: Desired,
) -> Result<Action, Error> {
    let accepted = accepted(problems);
    let previous = conditions::find(obj.conditions(), "Accepted");
    let newly_rejected = accepted.status == Status::False
        && previous.is_none_or(|p| p.status != "False" || p.message != accepted.message);
    let generation = obj.meta().generation;
    let merged = conditions::merge(
        obj.conditions(),
        &[accepted.clone(), ready],
        generation,
        Timestamp::now(),
    );
    let status = ValidationStatus {
        observed_generation: generation,
        conditions: &merged,
    };
    apply(ctx, obj, manager, &status)
        .await
        .map_err(|source| Error::ApplyStatus {
            kind: K::KIND,
            name: obj.name_any(),
            source,
        })?;
    if newly_rejected {
        ctx.publish_event(obj, EventType::Warning, accepted.reason, &accepted.message, "Validate")
            .await;
    }
    Ok(if problems.is_empty() {
        Action::requeue(RESYNC)
    } else {
        Action::await_change()
    })
}

/// `Ready` False because the spec is not accepted.
pub fn invalid_spec() -> Desired {
    Desired::new(
        "Ready",
        Status::False,
        "InvalidSpec",
        "the spec is not accepted: see the Accepted condition",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str) -> Condition {
        serde_json::from_value(serde_json::json!({
            "type": type_, "status": status, "reason": "R", "message": "", "lastTransitionTime": "2026-12-02T00:00:00Z",
        }))
        .expect("condition")
    }

    #[test]
    fn a_status_shows_what_it_holds_apart_from_other_managers_conditions() {
        fn of(s: &mut crate::api::v1alpha1::EtlRunStatus) -> &mut Vec<Condition> {
            &mut s.conditions
        }
        let mut desired = crate::api::v1alpha1::EtlRunStatus {
            conditions: vec![condition("Ready", "False")],
            ..Default::default()
        };
        assert!(!shows(None, &desired, of), "nothing written yet");
        let mut current = desired.clone();
        current.conditions.push(condition("Quarantined", "True"));
        assert!(shows(Some(&current), &desired, of), "a gate's condition is not ours");
        desired.conditions[0] = condition("Ready", "True");
        assert!(!shows(Some(&current), &desired, of), "a condition of ours changed");
        let mut moved = current.clone();
        moved.conditions[0] = condition("Ready", "True");
        moved.cluster = Some("j-1".into());
        assert!(!shows(Some(&moved), &desired, of), "a field changed");
    }

    #[test]
    fn accepted_joins_every_problem() {
        assert_eq!(accepted(&[]).status, Status::True);
        let got = accepted(&[
            Problem::new("InvalidSchedule", "a"),
            Problem::new("InvalidTemplate", "b"),
        ]);
        assert_eq!(
            (got.status, got.reason, got.message.as_str()),
            (Status::False, "InvalidSchedule", "a; b")
        );
    }
}

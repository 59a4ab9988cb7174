//! Publishes Kubernetes Events (`events.k8s.io/v1`) with a bounded memory of
//! the recent ones: a repeat of an Event on the same object (same type,
//! reason and action) within [`TTL`] patches the first one's `series` instead
//! of creating another, as kube's `Recorder` does. Unlike that recorder, what
//! is remembered is small (the Event's name and count), at most [`CAPACITY`]
//! Events, and forgetting costs O(1) a publish: kube's keeps every Event
//! whole for six minutes and sweeps all of them on each publish, which held
//! half the operator's heap during a 3,000-run backfill.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};

use jiff::Timestamp;
use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event as K8sEvent},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    runtime::events::{Event, EventType, Reporter},
};

/// How long a repeat joins the series of the first Event (kube's recorder: 6 minutes).
pub const TTL: Duration = Duration::from_secs(6 * 60);
/// The most Events remembered; beyond it the oldest are forgotten first.
pub const CAPACITY: usize = 4096;

/// An Event published recently: where it is, and how often it happened.
#[derive(Debug, Clone)]
struct Seen {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

/// The recent Events by key, and their keys oldest first (a key appears once
/// per publish; an entry whose `last` is newer than its place is skipped).
#[derive(Debug, Default)]
struct Recent {
    by_key: HashMap<String, Seen>,
    order: VecDeque<(Timestamp, String)>,
}

impl Recent {
    /// Forgets Events last seen [`TTL`] before `now`, and the oldest until
    /// there is room for one more within [`CAPACITY`].
    fn forget_old(&mut self, now: Timestamp) {
        let ttl = jiff::SignedDuration::try_from(TTL).unwrap_or(jiff::SignedDuration::MAX);
        while let Some((at, _)) = self.order.front() {
            let expired = *at + ttl <= now;
            let full = self.by_key.len() >= CAPACITY || self.order.len() >= 2 * CAPACITY;
            if !expired && !full {
                break;
            }
            let Some((at, key)) = self.order.pop_front() else { break };
            if self.by_key.get(&key).is_some_and(|s| s.last == at) {
                self.by_key.remove(&key);
            }
        }
    }

    fn remember(&mut self, key: String, seen: Seen) {
        self.order.push_back((seen.last, key.clone()));
        self.by_key.insert(key, seen);
    }
}

/// Publishes Events as one reporting controller and instance.
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    recent: Mutex<Recent>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("reporter", &self.reporter)
            .finish_non_exhaustive()
    }
}

/// The Event `type` the API takes for an [`EventType`].
fn type_name(t: EventType) -> &'static str {
    match t {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

fn key(ev: &Event, regarding: &ObjectReference) -> String {
    let kind = type_name(ev.type_);
    let object = |r: &ObjectReference| {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        format!(
            "{}/{}/{}/{}/{}",
            o(&r.api_version),
            o(&r.kind),
            o(&r.namespace),
            o(&r.name),
            o(&r.uid)
        )
    };
    let related = ev.secondary.as_ref().map(object).unwrap_or_default();
    format!("{}\n{related}\n{kind}\n{}\n{}", object(regarding), ev.reason, ev.action)
}

impl Recorder {
    /// A recorder for `client`, reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recent: Mutex::default(),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many Events are remembered.
    pub fn remembered(&self) -> usize {
        self.recent().by_key.len()
    }

    /// Publishes `ev` on the object `regarding`: a new Event, or the next of
    /// a recent one's series. Cluster-scoped objects' Events go to `default`.
    ///
    /// # Errors
    ///
    /// When the API server refuses the Event.
    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        self.publish_at(ev, regarding, Timestamp::now()).await
    }

    async fn publish_at(&self, ev: &Event, regarding: &ObjectReference, now: Timestamp) -> Result<(), kube::Error> {
        let key = key(ev, regarding);
        let earlier = {
            let mut recent = self.recent();
            recent.forget_old(now);
            recent.by_key.get(&key).cloned()
        };
        let seen = match earlier {
            Some(mut seen) => {
                seen.count += 1;
                seen.last = now;
                let series = serde_json::json!({
                    "series": {"count": seen.count, "lastObservedTime": MicroTime(now)}
                });
                let patched = Api::<K8sEvent>::namespaced(self.client.clone(), &seen.namespace)
                    .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&series))
                    .await;
                match patched {
                    Ok(_) => seen,
                    // The Event is gone (deleted, expired): a new one starts.
                    Err(kube::Error::Api(e)) if e.code == 404 => self.create(ev, regarding, now).await?,
                    Err(e) => return Err(e),
                }
            }
            None => self.create(ev, regarding, now).await?,
        };
        self.recent().remember(key, seen);
        Ok(())
    }

    /// Creates a new Event: the first of its series.
    async fn create(&self, ev: &Event, regarding: &ObjectReference, now: Timestamp) -> Result<Seen, kube::Error> {
        let event = self.event(ev, regarding, now);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let name = event.metadata.name.clone().unwrap_or_default();
        Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await?;
        Ok(Seen {
            namespace,
            name,
            count: 1,
            last: now,
        })
    }

    fn event(&self, ev: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        let controller = &self.reporter.controller;
        K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: Some(regarding.namespace.clone().unwrap_or_else(|| "default".to_owned())),
                // The time and a random suffix: two Events on one object
                // in the same nanosecond do not collide.
                name: Some(format!(
                    "{}.{:x}{:08x}",
                    prefix(regarding.name.as_deref().unwrap_or(controller)),
                    now.as_nanosecond(),
                    fastrand::u32(..)
                )),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(self.reporter.instance.clone().unwrap_or_else(|| controller.clone())),
            type_: Some(type_name(ev.type_).to_owned()),
            ..K8sEvent::default()
        }
    }
}

/// `name` cut so that it, a dot and 24 hex digits fit the 253 characters
/// of an Event's name, without a trailing `-` or `.`.
fn prefix(name: &str) -> &str {
    let cut = name.char_indices().nth(220).map_or(name, |(i, _)| &name[..i]);
    cut.trim_end_matches(['-', '.'])
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;

//! The processing log: what happened to which shard on which worker, in a
//! total order over every worker that shares the log. Tests use it to check
//! that children started only after their parents reached SHARD_END.

use std::sync::{
    Mutex,
    atomic::{AtomicU64, Ordering},
};

/// What happened to a shard, for the processing log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The worker took the lease.
    Taken,
    /// The processor started reading.
    Started,
    /// A batch's objects were written.
    Written {
        /// First sequence number.
        first: String,
        /// Last sequence number.
        last: String,
    },
    /// The shard was checkpointed at SHARD_END.
    Finished,
    /// The lease was handed back.
    Released,
    /// Another worker took it.
    Lost,
}

/// One entry of the processing log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log (shared logs give a total order).
    pub order: u64,
    /// Worker.
    pub worker: String,
    /// Shard.
    pub shard: String,
    /// What happened.
    pub kind: EventKind,
}

/// A processing log that several workers may share.
#[derive(Debug, Default)]
pub struct EventLog {
    next: AtomicU64,
    events: Mutex<Vec<Event>>,
}

impl EventLog {
    /// Appends an event.
    pub fn push(&self, worker: &str, shard: &str, kind: EventKind) {
        let mut events = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let order = self.next.fetch_add(1, Ordering::SeqCst);
        events.push(Event {
            order,
            worker: worker.to_owned(),
            shard: shard.to_owned(),
            kind,
        });
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

//! The lease state machine as pure decisions, after the Kinesis Client
//! Library: which shards may be processed (a child only once every parent is
//! checkpointed at `SHARD_END`), which free or expired leases a worker takes,
//! when it steals one to balance, and where a shard's reading starts.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{Checkpoint, ShardLease, WorkerLease};
use crate::config::StartingPosition;

/// What one worker should do in one round of lease taking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free or expired leases to take, best first.
    pub take: Vec<String>,
    /// A lease to steal from an overloaded worker (at most one per round).
    pub steal: Option<String>,
    /// How many leases each worker should hold.
    pub target: usize,
}

/// True when `lease` may be processed: it is not finished and every parent
/// is checkpointed at `SHARD_END`. A parent without a lease is taken as
/// finished: shard sync creates parents' leases before their children's, so
/// a missing parent has left the stream's retention period.
pub fn eligible(lease: &ShardLease, by_id: &BTreeMap<&str, &ShardLease>) -> bool {
    !lease.finished()
        && lease
            .parents
            .iter()
            .all(|p| by_id.get(p.as_str()).is_none_or(|parent| parent.finished()))
}

/// The leases as `me`, holding only the shards `holding` says, plans with them:
/// a lease owned under its name that it does not hold is left by an earlier
/// process of the same identity (a container restarted in the same Pod keeps
/// its Pod name). Nobody renews it, so it is free to take at once, instead of
/// stalling its shard until its duration runs out.
pub fn unheld_mine_freed(me: &str, holding: impl Fn(&str) -> bool, leases: &[ShardLease]) -> Vec<ShardLease> {
    leases
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if l.owner.as_deref() == Some(me) && !holding(&l.shard_id) {
                l.owner = None;
            }
            l
        })
        .collect()
}

/// Decides which leases `me` takes at `now`, given every shard lease and the
/// workers' heartbeat leases.
pub fn plan(me: &str, now: Timestamp, leases: &[ShardLease], workers: &[WorkerLease]) -> Plan {
    let by_id: BTreeMap<&str, &ShardLease> = leases.iter().map(|l| (l.shard_id.as_str(), l)).collect();
    let work: Vec<&ShardLease> = leases.iter().filter(|l| eligible(l, &by_id)).collect();

    // Live workers: fresh heartbeats, anyone holding a valid lease, and me.
    let mut held: BTreeMap<&str, Vec<&ShardLease>> = BTreeMap::new();
    for lease in work.iter().filter(|l| l.held_at(now)) {
        if let Some(owner) = lease.owner.as_deref() {
            held.entry(owner).or_default().push(lease);
        }
    }
    let mut live: BTreeSet<&str> = workers
        .iter()
        .filter(|w| w.alive_at(now) && w.error.is_none())
        .map(|w| w.worker_id.as_str())
        .collect();
    live.extend(held.keys().copied());
    live.insert(me);

    let target = work.len().div_ceil(live.len());
    let mine = held.get(me).map_or(0, Vec::len);
    let mut plan = Plan {
        target,
        ..Plan::default()
    };
    if mine >= target {
        return plan;
    }
    let mut available: Vec<&ShardLease> = work.iter().copied().filter(|l| !l.held_at(now)).collect();
    // Each worker ranks free leases differently, so two workers starting
    // together mostly try different ones.
    available.sort_by_key(|l| (rank(me, &l.shard_id), l.shard_id.clone()));
    plan.take = available
        .iter()
        .take(target - mine)
        .map(|l| l.shard_id.clone())
        .collect();
    if plan.take.is_empty() {
        // Steal one from the most loaded worker if it holds more than the
        // target, or holds the target while I am more than one short (as the
        // KCL does): with 4 shards over 3 workers the target is 2, and a
        // worker that joins after the other two hold 2 each would otherwise
        // never get one.
        let busiest = held
            .iter()
            .filter(|(owner, _)| **owner != me)
            .max_by_key(|(owner, leases)| (leases.len(), std::cmp::Reverse(**owner)));
        if let Some((_, leases)) = busiest
            && (leases.len() > target || (leases.len() == target && target - mine > 1))
        {
            let mut theirs = leases.clone();
            theirs.sort_by_key(|l| (rank(me, &l.shard_id), l.shard_id.clone()));
            plan.steal = theirs.first().map(|l| l.shard_id.clone());
        }
    }
    plan
}

/// A deterministic, worker-specific order (FNV-1a of worker and shard).
fn rank(me: &str, shard: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in me.bytes().chain([0]).chain(shard.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Where reading a shard starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// After a checkpointed sequence number.
    AfterSequence(String),
    /// The oldest retained record.
    TrimHorizon,
    /// New records only.
    Latest,
    /// Records from a time on.
    AtTimestamp(Timestamp),
    /// Nothing to read: the shard is finished.
    Finished,
}

/// Where `lease`'s shard starts: after its checkpoint; otherwise at the
/// configured position, except that a child shard always starts at
/// `TRIM_HORIZON` so nothing put after a reshard is skipped.
pub fn start_at(lease: &ShardLease, position: StartingPosition, timestamp: Option<Timestamp>) -> StartAt {
    match &lease.checkpoint {
        Some(Checkpoint::ShardEnd) => StartAt::Finished,
        Some(Checkpoint::Sequence(seq)) => StartAt::AfterSequence(seq.clone()),
        None if !lease.parents.is_empty() => StartAt::TrimHorizon,
        None => match (position, timestamp) {
            (StartingPosition::TrimHorizon, _) => StartAt::TrimHorizon,
            (StartingPosition::Latest, _) => StartAt::Latest,
            (StartingPosition::AtTimestamp, Some(ts)) => StartAt::AtTimestamp(ts),
            (StartingPosition::AtTimestamp, None) => StartAt::TrimHorizon,
        },
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T10:00:00Z".parse().expect("ts")
    }

    /// `spec`: "id[<parent,parent][@owner[!]][$]" — `!` expired, `$` at SHARD_END.
    fn lease(spec: &str) -> ShardLease {
        let finished = spec.ends_with('$');
        let spec = spec.trim_end_matches('$');
        let (rest, owner) = match spec.split_once('@') {
            Some((r, o)) => (r, Some(o)),
            None => (spec, None),
        };
        let (id, parents) = match rest.split_once('<') {
            Some((id, p)) => (id, p.split(',').map(str::to_owned).collect()),
            None => (rest, vec![]),
        };
        let mut l = ShardLease::new(id, parents, 30);
        if let Some(o) = owner {
            let expired = o.ends_with('!');
            l.owner = Some(o.trim_end_matches('!').to_owned());
            let age = if expired { 31 } else { 5 };
            l.renew_time = Some(now() - SignedDuration::from_secs(age));
        }
        if finished {
            l.checkpoint = Some(Checkpoint::ShardEnd);
        }
        l
    }

    fn worker(id: &str, age: i64) -> WorkerLease {
        WorkerLease {
            worker_id: id.into(),
            duration_secs: 30,
            renew_time: Some(now() - SignedDuration::from_secs(age)),
            open_shards: None,
            error: None,
            version: String::new(),
        }
    }

    #[test]
    fn eligibility_follows_parents() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["a"], "a", true),
            (&["a$"], "a", false),
            (&["a", "b<a"], "b", false),
            (&["a$", "b<a"], "b", true),
            (&["a$", "c", "m<a,c"], "m", false),
            (&["a$", "c$", "m<a,c"], "m", true),
            (&["m<gone"], "m", true),
        ];
        for (specs, id, want) in cases {
            let leases: Vec<ShardLease> = specs.iter().map(|s| lease(s)).collect();
            let by_id = leases.iter().map(|l| (l.shard_id.as_str(), l)).collect();
            let l = leases.iter().find(|l| l.shard_id == *id).expect("lease");
            assert_eq!(eligible(l, &by_id), *want, "{specs:?} {id}");
        }
    }

    #[test]
    fn taking_stealing_and_expiry() {
        // (leases, other live workers, expected take count, expected steal, target)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], usize, Option<&'a str>, usize);
        let cases: &[Case] = &[
            // Alone: take everything free.
            (&["a", "b", "c", "d"], &[], 4, None, 4),
            // Two workers, nothing held: take half.
            (&["a", "b", "c", "d"], &["w2"], 2, None, 2),
            // Another worker holds two: take the other two.
            (&["a@w2", "b@w2", "c", "d"], &["w2"], 2, None, 2),
            // Expired leases are free.
            (&["a@w2!", "b@w2!", "c@w2!", "d@w2!"], &[], 4, None, 4),
            // A live worker without heartbeat but holding leases counts.
            (&["a@w2", "b@w2", "c@w2", "d@w2"], &[], 0, Some("w2"), 2),
            // Balanced already: no steal.
            (&["a@w2", "b@w2", "c@me", "d@me"], &["w2"], 0, None, 2),
            // 5 over 2: target 3; the other holds 3, I hold 2: no steal.
            (&["a@w2", "b@w2", "c@w2", "d@me", "e@me"], &["w2"], 0, None, 3),
            // Children of unfinished parents are not work.
            (&["a", "b<a", "c<a"], &[], 1, None, 1),
            // Finished shards are not work; their children are.
            (&["a$", "b<a", "c<a"], &["w2"], 1, None, 1),
            // A dead heartbeat does not count as a worker.
            (&["a", "b"], &[], 2, None, 2),
            // 4 over 3, the others hold the target 2 each and I hold none: steal one.
            (&["a@w2", "b@w2", "c@w3", "d@w3"], &["w2", "w3"], 0, Some("w2"), 2),
            // 4 over 3, I hold one: one short is not worth a steal.
            (&["a@w2", "b@w2", "c@w3", "d@me"], &["w2", "w3"], 0, None, 2),
        ];
        for (specs, others, takes, steal_from, target) in cases {
            let leases: Vec<ShardLease> = specs.iter().map(|s| lease(s)).collect();
            let mut workers: Vec<WorkerLease> = others.iter().map(|w| worker(w, 3)).collect();
            workers.push(worker("dead", 300));
            let p = plan("me", now(), &leases, &workers);
            assert_eq!(p.take.len(), *takes, "{specs:?}: {p:?}");
            assert_eq!(p.target, *target, "{specs:?}: {p:?}");
            let stolen_owner = p.steal.as_ref().map(|s| {
                let l = leases.iter().find(|l| &l.shard_id == s).expect("stolen lease exists");
                l.owner.clone().unwrap_or_default()
            });
            assert_eq!(stolen_owner.as_deref(), *steal_from, "{specs:?}: {p:?}");
            for id in &p.take {
                let l = leases.iter().find(|l| &l.shard_id == id).expect("taken lease exists");
                assert!(!l.held_at(now()), "took a held lease {id}");
            }
        }
    }

    #[test]
    fn two_workers_rank_free_leases_differently() {
        let leases: Vec<ShardLease> = (0..8).map(|i| lease(&format!("s{i}"))).collect();
        let a = plan("pod-a", now(), &leases, &[worker("pod-b", 1)]);
        let b = plan("pod-b", now(), &leases, &[worker("pod-a", 1)]);
        assert_eq!(a.take.len(), 4);
        assert_ne!(a.take, b.take);
    }

    /// Workers join one at a time, each after the others have settled, and
    /// plan in turn until nothing changes: every worker ends up with a lease
    /// whenever there are at least as many shards as workers, and nobody holds
    /// more than the target.
    #[test]
    fn workers_joining_one_by_one_all_get_work() {
        for shards in 1..=8usize {
            for workers in 1..=shards {
                let mut leases: Vec<ShardLease> = (0..shards).map(|i| lease(&format!("s{i}"))).collect();
                let ids: Vec<String> = (0..workers).map(|w| format!("w{w}")).collect();
                for joined in 1..=workers {
                    let live = &ids[..joined];
                    let heartbeats: Vec<WorkerLease> = live.iter().map(|w| worker(w, 1)).collect();
                    let mut rounds = 0;
                    loop {
                        let mut changed = false;
                        for me in live {
                            let p = plan(me, now(), &leases, &heartbeats);
                            for id in p.take.iter().chain(p.steal.iter()) {
                                let l = leases.iter_mut().find(|l| &l.shard_id == id).expect("lease");
                                l.owner = Some(me.clone());
                                l.renew_time = Some(now());
                                changed = true;
                            }
                        }
                        rounds += 1;
                        assert!(rounds < 50, "{shards} shards, {joined} workers: no fixpoint");
                        if !changed {
                            break;
                        }
                    }
                    let target = shards.div_ceil(joined);
                    for me in live {
                        let mine = leases.iter().filter(|l| l.owner.as_deref() == Some(me)).count();
                        assert!(
                            (1..=target).contains(&mine),
                            "{shards} shards, {joined} workers: {me} holds {mine}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn start_positions() {
        let ts: Timestamp = "2026-11-25T00:00:00Z".parse().expect("ts");
        let mut l = lease("a");
        assert_eq!(start_at(&l, StartingPosition::Latest, None), StartAt::Latest);
        assert_eq!(
            start_at(&l, StartingPosition::AtTimestamp, Some(ts)),
            StartAt::AtTimestamp(ts)
        );
        assert_eq!(start_at(&l, StartingPosition::TrimHorizon, None), StartAt::TrimHorizon);
        l.checkpoint = Some(Checkpoint::Sequence("42".into()));
        assert_eq!(
            start_at(&l, StartingPosition::Latest, None),
            StartAt::AfterSequence("42".into())
        );
        l.checkpoint = Some(Checkpoint::ShardEnd);
        assert_eq!(start_at(&l, StartingPosition::Latest, None), StartAt::Finished);
        let child = lease("b<a");
        assert_eq!(start_at(&child, StartingPosition::Latest, None), StartAt::TrimHorizon);
    }

    #[test]
    fn a_restarted_process_takes_back_at_once_what_its_identity_held_before() {
        let leases = [lease("a@me"), lease("b@me"), lease("c@other")];
        let workers = [worker("me", 1), worker("other", 1)];
        // Without the view: "a" and "b" count as held by me, so there is nothing to take.
        assert!(plan("me", now(), &leases, &workers).take.is_empty());
        // This process holds only "b": "a" is taken back now, not in 30 s.
        let view = unheld_mine_freed("me", |s| s == "b", &leases);
        assert_eq!(plan("me", now(), &view, &workers).take, ["a"]);
        // Another worker's lease is untouched.
        assert_eq!(view[2].owner.as_deref(), Some("other"));
    }
}

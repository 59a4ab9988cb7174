//! The discrete-event loop: a day of one pool's runs in virtual time.
//!
//! Events are run arrivals, clusters becoming ready, steps ending, spot
//! interruptions, teardowns ending and wake-ups (an idle timeout or the
//! breaker's cool-down falling due). After the events of an instant the loop
//! reconciles as the operator does: admit runs (each job's parallelism, the
//! pool's `maxConcurrentRuns`), let [`breaker::evaluate`] pick the market, let
//! [`planner::plan`] place, create and terminate, on the clusters of the
//! breaker window read through the operator's own [`observe`] functions.
//! Runs on an interrupted cluster are queued again with their next attempt,
//! as the operator retries lost runs ([`crate::runs`]).
//!
//! Random draws (a cluster's start-up time and when it loses spot capacity)
//! come from a generator seeded by the scenario's seed and the cluster's
//! number, so two strategies that launch their n-th cluster draw the same
//! numbers for it (common random numbers: the comparison is not noise).

use std::collections::{BTreeMap, BTreeSet};

use ade_operator::providers::emr::{
    Market,
    breaker::{self, BreakerState},
    observe,
    planner::{self, ClusterState, TerminationReason},
};
use jiff::{SignedDuration, Timestamp};

use crate::{
    runs::{Book, RunRecord},
    scenario::Scenario,
    strategy::{MarketPolicy, Setup},
    workload::Arrival,
    world::SimCluster,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive(usize),
    Ready(usize),
    StepEnd(usize, usize),
    Interrupt(usize),
    Ended(usize),
    Wake,
}

/// The day of one pool under one setup.
#[derive(Debug, Clone)]
pub struct Day {
    /// Every cluster, ended by the end of the day.
    pub clusters: Vec<SimCluster>,
    /// Every run, completed or failed.
    pub runs: Vec<RunRecord>,
    /// Clusters lost to spot interruptions.
    pub interruptions: u32,
    /// When the accounting stopped: the end of the day or the last run's end.
    pub stop: Timestamp,
    /// How often the breaker opened.
    pub breaker_opened: u32,
}

struct Sim<'a> {
    scenario: &'a Scenario,
    setup: &'a Setup,
    arrivals: Vec<&'a Arrival>,
    seed: u64,
    events: BTreeMap<(Timestamp, u64), Event>,
    seq: u64,
    clusters: Vec<SimCluster>,
    book: Book,
    breaker: BreakerState,
    breaker_opened: u32,
    interruptions: u32,
    wakes: BTreeSet<Timestamp>,
}

/// Simulates the runs of pool `pool` of `scenario` under `setup`; random
/// draws (start-up times, interruptions) come from `seed`.
pub fn run(scenario: &Scenario, pool: usize, setup: &Setup, seed: u64) -> Day {
    let arrivals: Vec<&Arrival> = scenario.runs.iter().filter(|a| a.pool == pool).collect();
    let mut sim = Sim {
        scenario,
        setup,
        book: Book::new(&arrivals),
        arrivals,
        seed,
        events: BTreeMap::new(),
        seq: 0,
        clusters: Vec::new(),
        breaker: BreakerState::default(),
        breaker_opened: 0,
        interruptions: 0,
        wakes: BTreeSet::new(),
    };
    // The warm pool is already up when the day starts.
    for _ in 0..setup.limits.min_clusters.min(setup.limits.max_clusters) {
        let market = match setup.market {
            MarketPolicy::Fixed(m) => m,
            MarketPolicy::Breaker(_) => Market::Spot,
        };
        sim.launch(market, scenario.start, true);
    }
    for i in 0..sim.arrivals.len() {
        sim.push(sim.arrivals[i].at, Event::Arrive(i));
    }
    let stop = sim.run_loop();
    sim.finish(stop)
}

impl Sim<'_> {
    fn push(&mut self, at: Timestamp, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    fn run_loop(&mut self) -> Timestamp {
        let mut stop = None;
        // a day whose runs cannot settle (a pool that never gets capacity) still ends
        let give_up = self.scenario.end + SignedDuration::from_hours(24 * 7);
        while let Some((&(now, _), _)) = self.events.first_key_value() {
            if stop.is_some_and(|s| now > s) || now > give_up {
                break;
            }
            while let Some(entry) = self.events.first_entry().filter(|e| e.key().0 == now) {
                let event = entry.remove();
                self.apply(event, now);
            }
            self.reconcile(now);
            if stop.is_none() && self.book.all_settled() {
                stop = Some(now.max(self.scenario.end));
            }
        }
        stop.unwrap_or(self.scenario.end)
    }

    fn apply(&mut self, event: Event, now: Timestamp) {
        match event {
            Event::Arrive(i) => self.book.due(i),
            Event::Ready(c) => {
                for step in self.clusters[c].ready(now) {
                    self.step_started(c, step, now);
                }
            }
            Event::StepEnd(c, step) => {
                if let Some((name, since)) = self.clusters[c].complete(step, now)
                    && let Some(run) = self.book.run_of(&name)
                {
                    self.book.completed(run, since, now);
                }
            }
            Event::Interrupt(c) => {
                if let Some(lost) = self.clusters[c].interrupt(now) {
                    self.interruptions += 1;
                    for (name, since) in lost {
                        if let Some(run) = self.book.run_of(&name) {
                            self.book.lost(run, since, now);
                        }
                    }
                }
            }
            Event::Ended(c) => self.clusters[c].ended(now, TerminationReason::UserRequest),
            Event::Wake => {}
        }
    }

    fn step_started(&mut self, c: usize, step: usize, now: Timestamp) {
        let Some(run) = self.book.run_of(&self.clusters[c].steps[step].name) else {
            return;
        };
        self.book.started(run, now);
        let secs = SignedDuration::from_secs_f64(self.arrivals[run].seconds);
        self.push(now + secs, Event::StepEnd(c, step));
    }

    fn reconcile(&mut self, now: Timestamp) {
        self.book.admit(now, self.setup.max_concurrent);
        let window = SignedDuration::try_from(self.setup.window).unwrap_or(SignedDuration::ZERO);
        let since = now.checked_sub(window).unwrap_or(now);
        // what the operator lists: active clusters (TERMINATING included), and
        // terminated ones created within the breaker's window
        let visible: Vec<usize> = (0..self.clusters.len())
            .filter(|&c| {
                let info = &self.clusters[c].info;
                !matches!(info.state, ClusterState::Terminated(_)) || info.created_at >= since
            })
            .collect();
        let market = match &self.setup.market {
            MarketPolicy::Fixed(m) => *m,
            MarketPolicy::Breaker(settings) => {
                let infos: Vec<_> = visible.iter().map(|&c| self.clusters[c].info.clone()).collect();
                let decision = breaker::evaluate(settings, &observe::spot_events(&infos), self.breaker, now);
                if matches!(decision.state, BreakerState::Open { .. })
                    && !matches!(self.breaker, BreakerState::Open { .. })
                {
                    self.breaker_opened += 1;
                }
                self.breaker = decision.state;
                if let Some(until) = decision.until {
                    self.wake(until, now);
                }
                decision.market
            }
        };
        let planned: Vec<planner::Cluster> = visible
            .iter()
            .map(|&c| observe::planner_cluster(&self.clusters[c].info, &self.clusters[c].steps))
            .collect();
        let on_clusters: BTreeSet<&str> = planned
            .iter()
            .flat_map(|c| c.running.iter().map(String::as_str))
            .collect();
        let queued = self.book.queued(|step| on_clusters.contains(step));
        let plan = planner::plan(&self.setup.limits, now, &planned, &queued, &[]);
        let index: BTreeMap<String, usize> = visible.iter().map(|&c| (self.clusters[c].info.id.clone(), c)).collect();
        for p in &plan.place {
            let c = index[&p.cluster];
            if let Some(step) = self.clusters[c].add_step(&p.run, now) {
                self.step_started(c, step, now);
            }
        }
        for new in &plan.create {
            let c = self.launch(market, now, false);
            for run in &new.runs {
                self.clusters[c].add_step(run, now);
            }
        }
        for t in &plan.terminate {
            let c = index[&t.cluster];
            self.clusters[c].terminate(now);
            self.push(
                now + SignedDuration::try_from(self.scenario.teardown).unwrap_or_default(),
                Event::Ended(c),
            );
        }
        // idle clusters fall due at their idle timeout (seen before the plan:
        // one that got a run or was terminated just wakes the loop for nothing)
        let timeout = SignedDuration::try_from(self.setup.limits.idle_timeout).unwrap_or(SignedDuration::MAX);
        let due: Vec<Timestamp> = planned
            .iter()
            .filter(|c| c.state.is_ready() && c.running.is_empty())
            .filter_map(|c| c.idle_since?.checked_add(timeout).ok())
            .collect();
        for at in due {
            self.wake(at, now);
        }
    }

    fn wake(&mut self, at: Timestamp, now: Timestamp) {
        if at > now && at < self.scenario.end + SignedDuration::from_hours(48) && self.wakes.insert(at) {
            self.push(at, Event::Wake);
        }
    }

    /// A new cluster on `market` at `now`; its start-up and, on spot, its
    /// interruption drawn at random.
    fn launch(&mut self, market: Market, now: Timestamp, ready: bool) -> usize {
        let c = self.clusters.len();
        self.clusters.push(SimCluster::new(c, market, now, ready));
        let mut rng = fastrand::Rng::with_seed(self.seed ^ (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if !ready {
            let startup = SignedDuration::from_secs_f64(self.scenario.startup.sample(&mut rng));
            self.push(now + startup, Event::Ready(c));
        }
        let usage = observe::fleet_usage(&self.setup.emr, &self.clusters[c].info, now);
        let spot = usage.iter().filter(|u| u.market == Market::Spot);
        let base: f64 = spot
            .clone()
            .map(|u| f64::from(u.count) * self.scenario.hazard.get(&u.instance_type).copied().unwrap_or(0.0))
            .sum();
        let instances: f64 = spot.map(|u| f64::from(u.count)).sum();
        let draw = -(1.0 - rng.f64()).ln();
        if let Some(at) = first_loss(now, draw, base, instances, &self.scenario.storms) {
            self.push(at, Event::Interrupt(c));
        }
        c
    }

    fn finish(mut self, stop: Timestamp) -> Day {
        let teardown = SignedDuration::try_from(self.scenario.teardown).unwrap_or_default();
        for (&(at, _), event) in &self.events {
            if let Event::Ended(c) = *event {
                // teardowns under way finish and are billed to their end
                self.clusters[c].ended(at, TerminationReason::UserRequest);
            }
        }
        for c in &mut self.clusters {
            // the day is over: what is still up is billed to the stop
            c.ended(stop, TerminationReason::UserRequest);
            debug_assert!(c.info.ended_at.is_some_and(|e| e <= stop + teardown));
        }
        Day {
            clusters: self.clusters,
            runs: self.book.runs,
            interruptions: self.interruptions,
            stop,
            breaker_opened: self.breaker_opened,
        }
    }
}

/// When a cluster launched at `now` first loses a spot instance, for an
/// exponential draw `draw`: its `instances` spot instances are lost at
/// `base` per hour in all, plus each at a storm's rate while one lasts
/// (a piecewise constant hazard, walked storm edge by storm edge). `None`
/// past 30 days.
pub fn first_loss(
    now: Timestamp,
    mut draw: f64,
    base: f64,
    instances: f64,
    storms: &[crate::scenario::Storm],
) -> Option<Timestamp> {
    let horizon = now + SignedDuration::from_hours(24 * 30);
    let mut t = now;
    while t < horizon {
        let storm: f64 = storms
            .iter()
            .filter(|s| s.from <= t && t < s.to)
            .map(|s| s.per_instance_hour)
            .sum();
        let rate = base + instances * storm;
        let edge = storms
            .iter()
            .flat_map(|s| [s.from, s.to])
            .filter(|e| *e > t)
            .min()
            .unwrap_or(horizon);
        let hours = edge.duration_since(t).as_secs_f64() / 3600.0;
        if rate > 0.0 && draw <= rate * hours {
            return Some(t + SignedDuration::from_secs_f64(draw / rate * 3600.0));
        }
        draw -= rate * hours;
        t = edge;
    }
    None
}

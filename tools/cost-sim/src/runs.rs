//! The runs of one pool's day, as the operator's EtlJob and EtlRun
//! controllers and its queue treat them: a due run is created when its job's
//! `parallelism` allows (a backfill keeps that many runs at a time), the
//! pool's queue admits created runs first come first (`maxConcurrentRuns`),
//! and a run whose cluster was lost is tried again as its next attempt, up to
//! the operator's [`MAX_INTERRUPTIONS`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use ade_operator::controllers::etl_run::plan::MAX_INTERRUPTIONS;
use jiff::Timestamp;

use crate::workload::Arrival;

/// One run's day.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// `job/index`.
    pub id: String,
    /// Its job.
    pub job: String,
    /// When it was due.
    pub due_at: Timestamp,
    /// Seconds of work an attempt takes.
    pub seconds: f64,
    /// When it was created: due, and a slot of its job's parallelism free.
    pub ready_at: Option<Timestamp>,
    /// When its first attempt started on a cluster.
    pub started_at: Option<Timestamp>,
    /// When it completed.
    pub finished_at: Option<Timestamp>,
    /// When it gave up: its cluster was lost more than [`MAX_INTERRUPTIONS`] times.
    pub failed_at: Option<Timestamp>,
    /// Attempts so far.
    pub attempts: u32,
    /// Seconds its attempts ran on clusters, lost ones included.
    pub ran_seconds: f64,
}

impl RunRecord {
    /// Seconds from its creation to its end not spent running: queued for
    /// the pool, waiting for a cluster, and again after each lost attempt.
    pub fn waited(&self) -> Option<f64> {
        let end = self.finished_at.or(self.failed_at)?;
        Some((end.duration_since(self.ready_at?).as_secs_f64() - self.ran_seconds).max(0.0))
    }
}

/// Every run of the pool and where it is.
#[derive(Debug)]
pub struct Book {
    /// The runs, in arrival order.
    pub runs: Vec<RunRecord>,
    parallelism: Vec<u32>,
    due: BTreeSet<usize>,
    created: VecDeque<usize>,
    admitted: Vec<usize>,
    per_job: BTreeMap<String, u32>,
    by_step: BTreeMap<String, usize>,
    settled: usize,
}

impl Book {
    /// The runs of `arrivals`, none due yet.
    pub fn new(arrivals: &[&Arrival]) -> Self {
        Self {
            runs: arrivals
                .iter()
                .map(|a| RunRecord {
                    id: a.id(),
                    job: a.job.clone(),
                    due_at: a.at,
                    seconds: a.seconds,
                    ready_at: None,
                    started_at: None,
                    finished_at: None,
                    failed_at: None,
                    attempts: 0,
                    ran_seconds: 0.0,
                })
                .collect(),
            parallelism: arrivals.iter().map(|a| a.parallelism).collect(),
            due: BTreeSet::new(),
            created: VecDeque::new(),
            admitted: Vec::new(),
            per_job: BTreeMap::new(),
            by_step: BTreeMap::new(),
            settled: 0,
        }
    }

    /// Run `i` is due.
    pub fn due(&mut self, i: usize) {
        self.due.insert(i);
    }

    /// Creates the due runs their jobs' parallelism allows, then admits
    /// created runs first come first while fewer than `max_concurrent` are admitted.
    pub fn admit(&mut self, now: Timestamp, max_concurrent: Option<usize>) {
        let due: Vec<usize> = self.due.iter().copied().collect();
        for i in due {
            let count = self.per_job.entry(self.runs[i].job.clone()).or_default();
            if *count < self.parallelism[i] {
                *count += 1;
                self.due.remove(&i);
                self.runs[i].ready_at = Some(now);
                self.created.push_back(i);
            }
        }
        while max_concurrent.is_none_or(|max| self.admitted.len() < max) {
            let Some(i) = self.created.pop_front() else { break };
            self.runs[i].attempts = 1;
            self.by_step.insert(self.step_name(i), i);
            self.admitted.push(i);
        }
    }

    /// The step name of run `i`'s current attempt: `job/index#attempt`.
    pub fn step_name(&self, i: usize) -> String {
        format!("{}#{}", self.runs[i].id, self.runs[i].attempts)
    }

    /// The run a step belongs to.
    pub fn run_of(&self, step: &str) -> Option<usize> {
        self.by_step.get(step).copied()
    }

    /// Step names of admitted runs whose current attempt is on no cluster
    /// (`placed` says which are), in admission order.
    pub fn queued(&self, placed: impl Fn(&str) -> bool) -> Vec<String> {
        self.admitted
            .iter()
            .map(|&i| self.step_name(i))
            .filter(|s| !placed(s))
            .collect()
    }

    /// Run `i`'s attempt started at `now`.
    pub fn started(&mut self, i: usize, now: Timestamp) {
        self.runs[i].started_at.get_or_insert(now);
    }

    /// Run `i`'s attempt, started at `since`, completed at `now`.
    pub fn completed(&mut self, i: usize, since: Option<Timestamp>, now: Timestamp) {
        self.ran(i, since, now);
        self.runs[i].finished_at = Some(now);
        self.settle(i);
    }

    /// Run `i`'s attempt, started at `since` (if it had), lost with its
    /// cluster at `now`: its next attempt is queued, or it fails once it was
    /// lost more than [`MAX_INTERRUPTIONS`] times.
    pub fn lost(&mut self, i: usize, since: Option<Timestamp>, now: Timestamp) {
        self.ran(i, since, now);
        if self.runs[i].attempts as usize > MAX_INTERRUPTIONS {
            self.runs[i].failed_at = Some(now);
            self.settle(i);
        } else {
            self.runs[i].attempts += 1;
            self.by_step.insert(self.step_name(i), i);
        }
    }

    /// Every run completed or failed.
    pub fn all_settled(&self) -> bool {
        self.settled == self.runs.len()
    }

    fn ran(&mut self, i: usize, since: Option<Timestamp>, now: Timestamp) {
        if let Some(since) = since {
            self.runs[i].ran_seconds += now.duration_since(since).as_secs_f64().max(0.0);
        }
    }

    fn settle(&mut self, i: usize) {
        self.settled += 1;
        if let Some(n) = self.per_job.get_mut(&self.runs[i].job) {
            *n = n.saturating_sub(1);
        }
        self.admitted.retain(|r| *r != i);
    }
}

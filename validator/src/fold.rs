//! Folding a partition's batches into its accumulator, on the partition's own task
//! or, when a core would otherwise idle, on a helper thread.
//!
//! Each partition is decoded and folded on one runtime worker, so a file whose row
//! groups do not divide evenly among the workers ends with partitions running alone
//! (5 row groups on 2 workers: the fifth, a fifth of the work and a third of the wall
//! time, on one core). Partitions take their turns in order, at most one per worker
//! at a time ([`Cores::turn`]): the last row group of a file, often the smallest, is
//! the one left alone, and not whichever read finished first. Once fewer partitions
//! are left than workers, a partition hands its remaining batches to a helper thread
//! with an accumulator of its own, merged when the partition ends: decoding and
//! folding then overlap on two cores. Folding batches another core decoded costs
//! more CPU than folding them in place (measured 2026-12-05, validator/BENCHMARK.md),
//! so helpers only take cores no partition is waiting for: [`Cores`] counts
//! unfinished partitions and helpers together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::scan::{ScanAccumulator, ScanPlan};

/// Batches queued for a helper: enough to keep it busy while the next is decoded.
const QUEUE: usize = 2;

/// The workers of a scan: whose turn it is, and which cores are claimed.
#[derive(Debug)]
pub struct Cores {
    /// Unfinished partitions (started or waiting) and running helpers.
    claimed: AtomicUsize,
    /// Which partitions have finished, by index.
    finished: watch::Sender<Vec<bool>>,
    workers: usize,
}

impl Cores {
    /// `partitions` partitions to run on `workers` workers.
    pub fn new(workers: usize, partitions: usize) -> Arc<Self> {
        Arc::new(Self {
            claimed: AtomicUsize::new(partitions),
            finished: watch::Sender::new(vec![false; partitions]),
            workers: workers.max(1),
        })
    }

    /// Waits until partition `index` (0-based) may run: fewer than `workers` of the
    /// partitions before it are unfinished (an empty partition after it, finished at
    /// once, does not let it start early).
    pub async fn turn(&self, index: usize) {
        let mut finished = self.finished.subscribe();
        let before_unfinished = |done: &Vec<bool>| done.iter().take(index).filter(|&&d| !d).count() < self.workers;
        // The sender lives in `self`, so the wait ends only by its condition.
        let _ = finished.wait_for(before_unfinished).await;
    }

    /// Marks partition `index` finished: gives back its core and the next one's turn.
    pub fn finish_partition(&self, index: usize) {
        self.release();
        self.finished.send_modify(|done| {
            if let Some(d) = done.get_mut(index) {
                *d = true;
            }
        });
    }

    /// Claims an idle core for a helper, if there is one.
    fn try_claim(&self) -> bool {
        self.claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < self.workers).then_some(c + 1)
            })
            .is_ok()
    }

    /// Gives back a partition's or a helper's core.
    fn release(&self) {
        self.claimed.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A helper thread folding the batches sent to it into its own accumulator.
#[derive(Debug)]
struct Helper {
    batches: mpsc::Sender<RecordBatch>,
    done: JoinHandle<Result<ScanAccumulator, ArrowError>>,
}

impl Helper {
    fn start(plan: Arc<ScanPlan>) -> Self {
        let (batches, mut queue) = mpsc::channel::<RecordBatch>(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut state = ScanAccumulator::new(&plan);
            while let Some(batch) = queue.blocking_recv() {
                state.update(&plan, &batch)?;
            }
            Ok(state)
        });
        Self { batches, done }
    }

    /// Waits for the helper to fold what it was sent; its state or its error.
    async fn join(self) -> Result<ScanAccumulator, ArrowError> {
        drop(self.batches);
        self.done.await.map_err(|e| ArrowError::ExternalError(Box::new(e)))?
    }
}

/// One partition's fold. Dropped unfinished (a failed scan), it still marks the
/// partition finished, so no other partition waits for its turn forever.
#[derive(Debug)]
pub struct PartitionFold {
    plan: Arc<ScanPlan>,
    cores: Arc<Cores>,
    index: usize,
    started: bool,
    state: Option<ScanAccumulator>,
    helper: Option<Helper>,
}

impl PartitionFold {
    /// An empty fold for partition `index` of those counted in `cores`.
    pub fn new(plan: Arc<ScanPlan>, cores: Arc<Cores>, index: usize) -> Self {
        let state = Some(ScanAccumulator::new(&plan));
        Self {
            plan,
            cores,
            index,
            started: false,
            state,
            helper: None,
        }
    }

    /// Folds one batch in: here, or on the helper once a core is idle. The first
    /// batch waits for the partition's turn (it is read before, so reads overlap).
    pub async fn fold(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        if !self.started {
            self.cores.turn(self.index).await;
            self.started = true;
        }
        if self.helper.is_none() && self.cores.try_claim() {
            self.helper = Some(Helper::start(self.plan.clone()));
        }
        let Some(helper) = &self.helper else {
            let state = self.state.as_mut().expect("state until finished");
            return state.update(&self.plan, &batch);
        };
        if helper.batches.send(batch).await.is_ok() {
            return Ok(());
        }
        // The helper stopped early: it failed, and says why.
        let helper = self.helper.take().expect("helper present");
        self.cores.release();
        helper.join().await?;
        Err(ArrowError::ComputeError(
            "the folding helper stopped before its batches ended".into(),
        ))
    }

    /// The partition's state, the helper's merged in.
    pub async fn finish(mut self) -> Result<ScanAccumulator, ArrowError> {
        let mut state = self.state.take().expect("state until finished");
        if let Some(helper) = self.helper.take() {
            let helped = helper.join().await;
            self.cores.release();
            state.merge(&self.plan, helped?);
        }
        Ok(state)
    }
}

impl Drop for PartitionFold {
    fn drop(&mut self) {
        if self.helper.take().is_some() {
            self.cores.release();
        }
        self.cores.finish_partition(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ColumnOptions;
    use crate::scalar::ColumnKind;
    use crate::scan::{ColumnPlan, ViewPlan};
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    fn plan() -> Arc<ScanPlan> {
        Arc::new(ScanPlan {
            views: vec![ViewPlan {
                filter: None,
                columns: vec![ColumnPlan {
                    name: "v".into(),
                    index: 0,
                    kind: ColumnKind::Integer,
                    options: ColumnOptions::FULL,
                }],
                row_checks: Vec::new(),
            }],
        })
    }

    fn batch(start: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let values: ArrayRef = Arc::new(Int64Array::from_iter(
            (start..start + 1000).map(|v| (v % 7 != 0).then_some(v % 300)),
        ));
        RecordBatch::try_new(schema, vec![values]).unwrap()
    }

    /// Unit test: a partition alone on two workers folds on a helper, and the result
    /// is the fold of every batch; with no idle worker no helper starts; every core
    /// claimed is given back.
    #[tokio::test]
    async fn a_helper_takes_only_an_idle_core_and_loses_no_batch() {
        let plan = plan();
        let mut direct = ScanAccumulator::new(&plan);
        for start in (0..20_000).step_by(1000) {
            direct.update(&plan, &batch(start)).unwrap();
        }
        for (partitions, helped) in [(1, true), (2, false)] {
            let cores = Cores::new(2, partitions);
            let mut fold = PartitionFold::new(plan.clone(), cores.clone(), 0);
            for start in (0..20_000).step_by(1000) {
                fold.fold(batch(start)).await.unwrap();
            }
            assert_eq!(fold.helper.is_some(), helped, "partitions {partitions}");
            let state = fold.finish().await.unwrap();
            let (got, want) = (&state.views[0].columns[0], &direct.views[0].columns[0]);
            assert_eq!(
                (got.rows, got.nulls, got.distinct()),
                (want.rows, want.nulls, want.distinct())
            );
            assert_eq!((&got.min, &got.max), (&want.min, &want.max));
            assert_eq!(cores.claimed.load(Ordering::Acquire), partitions - 1);
        }
    }

    /// Unit test: partitions take their turns in order, one per worker, and a fold
    /// dropped unfinished (a failed scan) still passes its turn on.
    #[tokio::test]
    async fn partitions_run_in_order_one_per_worker() {
        use futures::FutureExt;
        let cores = Cores::new(2, 5);
        assert!(cores.turn(0).now_or_never().is_some());
        assert!(cores.turn(1).now_or_never().is_some());
        assert!(cores.turn(2).now_or_never().is_none(), "two partitions already run");
        // An empty partition after it finishes at once: partition 2 still waits.
        drop(PartitionFold::new(plan(), cores.clone(), 4));
        assert!(
            cores.turn(2).now_or_never().is_none(),
            "a later partition's end is not a turn"
        );
        let mut fold = PartitionFold::new(plan(), cores.clone(), 0);
        fold.fold(batch(0)).await.unwrap();
        fold.finish().await.unwrap();
        assert!(cores.turn(2).now_or_never().is_some());
        assert!(cores.turn(3).now_or_never().is_none());
        drop(PartitionFold::new(plan(), cores.clone(), 1));
        assert!(cores.turn(3).now_or_never().is_some());
        assert_eq!(*cores.finished.borrow(), vec![true, true, false, false, true]);
    }
}

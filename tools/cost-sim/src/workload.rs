//! The runs of a simulated day: scheduled jobs at each cron tick (the
//! operator's own cron, in the scenario's time zone), backfills all due at
//! once, or a CSV trace; each with a duration drawn from its distribution.

use jiff::{SignedDuration, Timestamp, Zoned};

use crate::scenario::{JobSpec, Pool, at_time, cron};

/// One run of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// When it is due.
    pub at: Timestamp,
    /// Its job: runs of one job share its `parallelism`.
    pub job: String,
    /// Its place among the job's runs (the batch).
    pub index: u32,
    /// Index of its pool in the scenario.
    pub pool: usize,
    /// Seconds it takes once it runs.
    pub seconds: f64,
    /// Most runs of its job at once.
    pub parallelism: u32,
}

impl Arrival {
    /// The run's identity: `job/index`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.job, self.index)
    }
}

/// The runs of `jobs` in `[start, end)`; durations drawn with `seed`.
pub fn expand(jobs: &[JobSpec], pools: &[Pool], start: &Zoned, end: &Zoned, seed: u64) -> anyhow::Result<Vec<Arrival>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::new();
    for spec in jobs {
        let pool = pool_index(pools, spec.pool.as_deref(), &spec.name)?;
        let draw = spec.duration.check(&format!("job {}: duration", spec.name))?;
        anyhow::ensure!(
            spec.parallelism >= 1,
            "job {}: parallelism must be at least 1",
            spec.name
        );
        let ticks = match (&spec.schedule, &spec.backfill) {
            (Some(expr), None) => {
                let cron = cron(&spec.name, expr)?;
                let mut ticks = Vec::new();
                let mut after = start.timestamp() - SignedDuration::from_nanos(1);
                while let Some(t) = cron
                    .next_after(after, start.time_zone())
                    .filter(|t| *t < end.timestamp())
                {
                    ticks.push(t);
                    after = t;
                }
                ticks
            }
            (None, Some(b)) => {
                let due = at_time(start, &b.at, &format!("job {}: backfill.at", spec.name))?;
                vec![due; b.batches as usize]
            }
            _ => anyhow::bail!("job {}: give either `schedule` or `backfill`", spec.name),
        };
        for copy in 1..=spec.copies {
            let job = if spec.copies == 1 {
                spec.name.clone()
            } else {
                format!("{}-{copy}", spec.name)
            };
            for (index, at) in (0u32..).zip(&ticks) {
                out.push(Arrival {
                    at: *at,
                    job: job.clone(),
                    index,
                    pool,
                    seconds: draw.sample(&mut rng),
                    parallelism: spec.parallelism,
                });
            }
        }
    }
    Ok(out)
}

/// The runs of a CSV trace: `arrival,job,pool,duration` per line (RFC 3339,
/// a name, a pool name or empty for the only pool, e.g. `15m`); `#` comments
/// and a header line starting `arrival` are skipped. Runs of one job run one at a time.
pub fn trace(csv: &str, pools: &[Pool]) -> anyhow::Result<Vec<Arrival>> {
    let mut out = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for row in crate::csv_rows(csv, "trace", ["arrival", "job", "pool", "duration"]) {
        let (n, [at, job, pool, duration]) = row?;
        let bad = |what: String| anyhow::anyhow!("trace line {n}: {what}");
        let at: Timestamp = at.parse().map_err(|e| bad(format!("arrival {at:?}: {e}")))?;
        let seconds = ade_operator::api::v1alpha1::Duration(duration.to_owned())
            .to_std()
            .map_err(|e| bad(e.to_string()))?
            .as_secs_f64();
        let pool = pool_index(pools, (!pool.is_empty()).then_some(pool), job).map_err(|e| bad(e.to_string()))?;
        let index = counts.entry(job.to_owned()).or_default();
        out.push(Arrival {
            at,
            job: job.to_owned(),
            index: *index,
            pool,
            seconds,
            parallelism: 1,
        });
        *index += 1;
    }
    Ok(out)
}

fn pool_index(pools: &[Pool], name: Option<&str>, job: &str) -> anyhow::Result<usize> {
    match name {
        Some(name) => pools
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| anyhow::anyhow!("job {job}: no pool named {name:?}")),
        None if pools.len() == 1 => Ok(0),
        None => anyhow::bail!("job {job}: name its pool (the scenario has {} pools)", pools.len()),
    }
}

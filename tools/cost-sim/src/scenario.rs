//! The scenario file: pools, workload, start-up times, prices and
//! interruption rates, read from YAML and checked before anything runs.

use std::{collections::BTreeMap, path::Path, time::Duration};

use ade_operator::{
    api::v1alpha1::{ClusterPoolSpec, Duration as SpecDuration, EmrPool, Provider},
    config::{self, PriceTable},
    providers::emr::{breaker, planner::Limits},
    schedule::{Cron, time_zone},
};
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use serde::Deserialize;

/// A scenario as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioFile {
    /// The simulated day, e.g. `2026-11-25`, from midnight to midnight in `timeZone`.
    pub day: Date,
    /// IANA time zone of the day and of the schedules (default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Seed of every random draw: the same seed gives the same day.
    #[serde(default)]
    pub seed: u64,
    /// Availability zone whose spot prices apply.
    pub zone: String,
    /// CSV of spot prices (`time,instance_type,zone,usd_per_hour`), relative to the scenario file.
    pub spot_prices: String,
    /// Spot interruption frequency per instance type: an AWS spot advisor
    /// bucket (`<5%`, `5-10%`, `10-15%`, `15-20%`, `>20%`) or a fraction
    /// (`0.3`), per instance and month. Types not named are never interrupted.
    #[serde(default)]
    pub interruptions: BTreeMap<String, String>,
    /// Spans of the day when spot capacity is reclaimed far more often (a
    /// capacity crunch): every spot instance is lost at `perInstanceHour` on
    /// top of its usual rate.
    #[serde(default)]
    pub storms: Vec<StormSpec>,
    /// How long an EMR cluster takes from `RunJobFlow` to WAITING.
    pub startup: Distribution,
    /// How long a terminating cluster is still billed (default 1m).
    #[serde(default = "one_minute")]
    pub teardown: SpecDuration,
    /// Price tables, as the operator's flags take them; default the operator's defaults.
    #[serde(default)]
    pub prices: Prices,
    /// The pools, each a ClusterPool spec with a name.
    pub pools: Vec<NamedPool>,
    /// Jobs, each becoming runs over the day.
    #[serde(default)]
    pub workload: Vec<JobSpec>,
    /// CSV of run arrivals instead of (or beside) `workload`:
    /// `arrival,job,pool,duration` (RFC 3339, name, pool name, e.g. `15m`).
    #[serde(default)]
    pub trace: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn one_minute() -> SpecDuration {
    SpecDuration::from_static("1m")
}

/// A spot storm as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StormSpec {
    /// `HH:MM` on the simulated day.
    pub from: String,
    /// `HH:MM` on the simulated day, after `from`.
    pub to: String,
    /// Interruptions per spot instance-hour while it lasts.
    pub per_instance_hour: f64,
}

/// A spot storm, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Storm {
    /// When it starts.
    pub from: Timestamp,
    /// When it ends.
    pub to: Timestamp,
    /// Interruptions per spot instance-hour meanwhile.
    pub per_instance_hour: f64,
}

/// The instant of `HH:MM` on the day starting at `start`.
pub fn at_time(start: &jiff::Zoned, hhmm: &str, what: &str) -> anyhow::Result<Timestamp> {
    let time: jiff::civil::Time = hhmm
        .parse()
        .map_err(|e| anyhow::anyhow!("{what} {hhmm:?}: {e} (write HH:MM)"))?;
    Ok(start
        .with()
        .time(time)
        .build()
        .map_err(|e| anyhow::anyhow!("{what} {hhmm:?}: {e}"))?
        .timestamp())
}

/// Price tables, `type=price,...` as `--ec2-on-demand-prices` and `--emr-uplift-prices`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prices {
    /// On-demand US dollars per instance-hour.
    pub on_demand: Option<String>,
    /// EMR's fee in US dollars per instance-hour.
    pub emr_uplift: Option<String>,
}

/// A ClusterPool spec with its name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedPool {
    /// Its name, which jobs refer to.
    pub name: String,
    /// The spec, exactly as in a ClusterPool.
    pub spec: ClusterPoolSpec,
}

/// A kind of job: `copies` jobs alike, on a schedule or as one backfill.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    /// Name (copies get `-1`, `-2`, … appended).
    pub name: String,
    /// The pool its runs use (default: the only pool).
    #[serde(default)]
    pub pool: Option<String>,
    /// How many jobs alike (default 1).
    #[serde(default = "one")]
    pub copies: u32,
    /// A cron schedule: a run at every tick of the day.
    #[serde(default)]
    pub schedule: Option<String>,
    /// A backfill instead: all its batches due at once.
    #[serde(default)]
    pub backfill: Option<Backfill>,
    /// Most runs of one job at once (default 1; a backfill's `parallelism`).
    #[serde(default = "one")]
    pub parallelism: u32,
    /// How long each run takes on its cluster.
    pub duration: Distribution,
}

fn one() -> u32 {
    1
}

/// A backfill: `batches` runs due at `at` (local time of the day).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backfill {
    /// `HH:MM` on the simulated day.
    pub at: String,
    /// How many batches.
    pub batches: u32,
}

/// A duration drawn at random: `fixed`, uniform in `min`..`max`, or
/// log-normal with `median` and `p95`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Distribution {
    /// Always this.
    pub fixed: Option<SpecDuration>,
    /// Uniform from here…
    pub min: Option<SpecDuration>,
    /// …to here.
    pub max: Option<SpecDuration>,
    /// Log-normal: half the draws are shorter…
    pub median: Option<SpecDuration>,
    /// …and 95 % are shorter than this.
    pub p95: Option<SpecDuration>,
}

/// A distribution, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Draw {
    /// Always this many seconds.
    Fixed(f64),
    /// Uniform seconds.
    Uniform(f64, f64),
    /// Log-normal: `mu` and `sigma` of the log of seconds.
    LogNormal(f64, f64),
}

/// The 95th percentile of the standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

impl Draw {
    /// A draw in seconds.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> f64 {
        match *self {
            Self::Fixed(s) => s,
            Self::Uniform(lo, hi) => lo + (hi - lo) * rng.f64(),
            Self::LogNormal(mu, sigma) => {
                // Box–Muller: one standard normal from two uniforms.
                let u1 = rng.f64().max(f64::MIN_POSITIVE);
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos();
                (mu + sigma * z).exp()
            }
        }
    }

    /// The median in seconds.
    pub fn median(&self) -> f64 {
        match *self {
            Self::Fixed(s) => s,
            Self::Uniform(lo, hi) => (lo + hi) / 2.0,
            Self::LogNormal(mu, _) => mu.exp(),
        }
    }
}

impl Distribution {
    /// The distribution, or why it is not one.
    pub fn check(&self, what: &str) -> anyhow::Result<Draw> {
        let secs = |d: &SpecDuration| -> anyhow::Result<f64> {
            Ok(d.to_std().map_err(|e| anyhow::anyhow!("{what}: {e}"))?.as_secs_f64())
        };
        match (&self.fixed, &self.min, &self.max, &self.median, &self.p95) {
            (Some(f), None, None, None, None) => Ok(Draw::Fixed(secs(f)?)),
            (None, Some(lo), Some(hi), None, None) => {
                let (lo, hi) = (secs(lo)?, secs(hi)?);
                anyhow::ensure!(lo <= hi, "{what}: min must not exceed max");
                Ok(Draw::Uniform(lo, hi))
            }
            (None, None, None, Some(m), Some(p)) => {
                let (m, p) = (secs(m)?, secs(p)?);
                anyhow::ensure!(m > 0.0 && p >= m, "{what}: need 0 < median <= p95");
                Ok(Draw::LogNormal(m.ln(), (p / m).ln() / Z95))
            }
            _ => anyhow::bail!("{what}: give `fixed`, or `min` and `max`, or `median` and `p95`"),
        }
    }
}

/// A pool ready to simulate.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Its name.
    pub name: String,
    /// Its spec.
    pub spec: ClusterPoolSpec,
    /// Its `spec.emr`.
    pub emr: EmrPool,
    /// Its capacity limits, as the operator parses them.
    pub limits: Limits,
    /// Its breaker settings, as the operator parses them.
    pub breaker: breaker::Settings,
}

impl Pool {
    /// Checks that `named` is an emr pool the operator would accept.
    pub fn new(named: &NamedPool) -> anyhow::Result<Self> {
        let name = &named.name;
        anyhow::ensure!(
            named.spec.provider == Provider::Emr,
            "pool {name}: only emr pools can be simulated (the eks planner does not exist yet; kubernetes pools buy no capacity)"
        );
        let emr = named
            .spec
            .emr
            .clone()
            .ok_or_else(|| anyhow::anyhow!("pool {name}: provider emr needs spec.emr"))?;
        anyhow::ensure!(
            !emr.primary.instance_types.is_empty() && !emr.core.instance_types.is_empty(),
            "pool {name}: the primary and core fleets need at least one instance type"
        );
        let limits = Limits::from_capacity(&named.spec.capacity).map_err(|e| anyhow::anyhow!("pool {name}: {e}"))?;
        let breaker =
            breaker::Settings::from_spec(&emr.interruptions).map_err(|e| anyhow::anyhow!("pool {name}: {e}"))?;
        Ok(Self {
            name: name.clone(),
            spec: named.spec.clone(),
            emr,
            limits,
            breaker,
        })
    }
}

/// A scenario, checked: everything the simulation needs.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Start of the day.
    pub start: Timestamp,
    /// End of the day.
    pub end: Timestamp,
    /// Time zone of the day and the schedules.
    pub tz: TimeZone,
    /// Seed.
    pub seed: u64,
    /// Pools by name.
    pub pools: Vec<Pool>,
    /// Runs, in arrival order.
    pub runs: Vec<crate::workload::Arrival>,
    /// Cluster start-up.
    pub startup: Draw,
    /// Billed teardown.
    pub teardown: Duration,
    /// On-demand prices.
    pub on_demand: PriceTable,
    /// EMR uplift.
    pub emr_uplift: PriceTable,
    /// Spot prices of `zone`.
    pub spot: Vec<ade_operator::providers::emr::pricing::SpotPrice>,
    /// Interruptions per instance-hour, by instance type.
    pub hazard: BTreeMap<String, f64>,
    /// Spot storms.
    pub storms: Vec<Storm>,
}

impl Scenario {
    /// Reads and checks the scenario at `path` (files it names are relative to it).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let file: ScenarioFile =
            serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        };
        let prices = read(&file.spot_prices)?;
        let trace = file.trace.as_deref().map(read).transpose()?;
        Self::from_file(&file, &prices, trace.as_deref())
    }

    /// Checks `file`, with the spot price CSV and the trace CSV already read.
    pub fn from_file(file: &ScenarioFile, spot_csv: &str, trace_csv: Option<&str>) -> anyhow::Result<Self> {
        let tz = time_zone(&file.time_zone).map_err(anyhow::Error::msg)?;
        let start = file
            .day
            .to_zoned(tz.clone())
            .map_err(|e| anyhow::anyhow!("day {}: {e}", file.day))?;
        let end = start.tomorrow().map_err(|e| anyhow::anyhow!("day {}: {e}", file.day))?;
        let pools = file.pools.iter().map(Pool::new).collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!pools.is_empty(), "no pools: name at least one emr ClusterPool spec");
        let parse = |table: &Option<String>, default: &str, what: &str| {
            config::parse_prices(table.as_deref().unwrap_or(default)).map_err(|e| anyhow::anyhow!("prices.{what}: {e}"))
        };
        let mut runs = crate::workload::expand(&file.workload, &pools, &start, &end, file.seed)?;
        if let Some(csv) = trace_csv {
            runs.extend(crate::workload::trace(csv, &pools)?);
        }
        runs.sort_by(|a, b| (a.at, &a.job, a.index).cmp(&(b.at, &b.job, b.index)));
        let mut ids = std::collections::BTreeSet::new();
        for r in &runs {
            anyhow::ensure!(
                !r.job.contains(['/', '#']),
                "job {:?}: a job name may not contain '/' or '#'",
                r.job
            );
            anyhow::ensure!(
                ids.insert((r.job.as_str(), r.index)),
                "job {} has two runs numbered {}: job names must be unique across the workload (copies get -1, -2, …) and the trace",
                r.job,
                r.index
            );
        }
        anyhow::ensure!(!runs.is_empty(), "the workload has no runs on {}", file.day);
        let spot = crate::prices::read_csv(spot_csv, &file.zone)?;
        let hazard = file
            .interruptions
            .iter()
            .map(|(t, rate)| {
                Ok((
                    t.clone(),
                    crate::prices::hourly_hazard(rate).map_err(|e| anyhow::anyhow!("interruptions.{t}: {e}"))?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let storms = file
            .storms
            .iter()
            .map(|st| {
                let storm = Storm {
                    from: at_time(&start, &st.from, "storms.from")?,
                    to: at_time(&start, &st.to, "storms.to")?,
                    per_instance_hour: st.per_instance_hour,
                };
                anyhow::ensure!(storm.from < storm.to, "storms: {} must come before {}", st.from, st.to);
                anyhow::ensure!(
                    st.per_instance_hour.is_finite() && st.per_instance_hour >= 0.0,
                    "storms.perInstanceHour must be a non-negative number"
                );
                Ok(storm)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            start: start.timestamp(),
            storms,
            end: end.timestamp(),
            tz,
            seed: file.seed,
            pools,
            runs,
            startup: file.startup.check("startup")?,
            teardown: file.teardown.to_std().map_err(|e| anyhow::anyhow!("teardown: {e}"))?,
            on_demand: parse(&file.prices.on_demand, config::DEFAULT_ON_DEMAND, "onDemand")?,
            emr_uplift: parse(&file.prices.emr_uplift, config::DEFAULT_EMR_UPLIFT, "emrUplift")?,
            spot,
            hazard,
        })
    }
}

/// A cron expression, with a message naming the job.
pub fn cron(job: &str, expr: &str) -> anyhow::Result<Cron> {
    expr.parse::<Cron>()
        .map_err(|e| anyhow::anyhow!("job {job}: schedule {expr:?}: {e}"))
}

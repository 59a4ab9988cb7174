//! `kubectl ade`: everyday operations on ADE's objects, as a kubectl plugin
//! (put `kubectl-ade` on PATH):
//!
//! ```text
//! kubectl ade rerun JOB BATCH [--wait]          a new EtlRun of the batch (reason rerun)
//! kubectl ade run-now JOB [--wait]              a new EtlRun of the job's current batch (reason manual)
//! kubectl ade backfill JOB --from T --to T [--parallelism N]
//! kubectl ade why RUN                           where the run stands and what holds it
//! kubectl ade cost [JOB|POOL] [--since 24h]     what runs cost, per job or for one job or pool
//! kubectl ade batches JOB                       the job's batches: phase, attempts, validation, cost
//! ```
//!
//! It reads and writes through the Kubernetes API with the kubeconfig kubectl
//! uses (`KUBECONFIG`, its current context and namespace); `--kubeconfig`,
//! `--context` and `-n` override them (after `ade`: kubectl passes no flags
//! of its own to plugins).
//!
//! Exit codes: 0 done; 1 an error, or with `--wait` a run that failed,
//! was cancelled or whose batch was quarantined; 2 `--wait` timed out.

mod batches;
mod rerun;
mod why;

use ade_api::v1alpha1::{ClusterPool, Duration as SpecDuration, EtlJob, EtlRun};
use clap::{Parser, Subcommand};
use kube::{
    Api, Client, Config,
    api::{ListParams, Patch, PatchParams},
    config::{KubeConfigOptions, Kubeconfig},
};

#[derive(Debug, Parser)]
#[command(
    name = "kubectl ade",
    about = "Rerun, backfill and explain ADE's batches, and see what they cost"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context (default: the current one).
    #[arg(long, global = true)]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates an EtlRun that runs BATCH of JOB again (its window comes from the batch id).
    Rerun {
        /// The EtlJob.
        job: String,
        /// The batch id, e.g. 2026-11-25T13.
        batch: String,
        /// Wait until the run finishes and, for a gated job, until its batch
        /// is validated; exit 1 unless it succeeded and passed, 2 on timeout.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits.
        #[arg(long, default_value = "1h")]
        timeout: String,
    },
    /// Runs the job's current batch now (status.currentBatch: the schedule's
    /// newest due batch), as a new EtlRun (reason manual).
    RunNow {
        /// The EtlJob.
        job: String,
        /// Wait as `rerun --wait` does.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits.
        #[arg(long, default_value = "1h")]
        timeout: String,
    },
    /// Sets the job's backfill: the batches whose windows fall in [FROM, TO).
    Backfill {
        /// The EtlJob.
        job: String,
        /// Start, RFC 3339 (e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        from: jiff::Timestamp,
        /// End, RFC 3339, after --from.
        #[arg(long)]
        to: jiff::Timestamp,
        /// Batches at a time.
        #[arg(long, default_value_t = 1)]
        parallelism: i32,
    },
    /// Explains where an EtlRun stands and what holds it, in one sentence.
    Why {
        /// The EtlRun.
        run: String,
    },
    /// What runs cost: per job, or for one EtlJob or ClusterPool.
    Cost {
        /// An EtlJob or a ClusterPool.
        name: Option<String>,
        /// Only runs created this recently, e.g. 24h.
        #[arg(long)]
        since: Option<String>,
    },
    /// The job's batches: phase, attempts, runs, validation verdict and cost.
    Batches {
        /// The EtlJob.
        job: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&cli.kubeconfig, &cli.context) {
        (Some(path), _) => Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, &options).await?,
        (None, Some(_)) => Config::from_kubeconfig(&options).await?,
        (None, None) => Config::infer().await?,
    };
    let ns = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config)?;
    let runs: Api<EtlRun> = Api::namespaced(client.clone(), &ns);
    let jobs: Api<EtlJob> = Api::namespaced(client.clone(), &ns);
    match cli.command {
        Command::Rerun {
            job,
            batch,
            wait,
            timeout,
        } => {
            let timeout = SpecDuration(timeout).to_std()?;
            let owner = rerun::job(&jobs, &job, &ns).await?;
            let name = rerun::create(&runs, &owner, &batch, "rerun").await?;
            println!("etlrun.ade.dev/{name} created: batch {batch} of EtlJob {job} runs again");
            return rerun::finish(&runs, &owner, &name, wait, timeout).await;
        }
        Command::RunNow { job, wait, timeout } => {
            let timeout = SpecDuration(timeout).to_std()?;
            let owner = rerun::job(&jobs, &job, &ns).await?;
            anyhow::ensure!(
                owner.spec.schedule.is_some(),
                "EtlJob {job} has no schedule, so no current batch: rerun a batch by its id \
                 (`kubectl ade rerun {job} BATCH`)"
            );
            let batch = owner
                .status
                .as_ref()
                .and_then(|s| s.current_batch.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "EtlJob {job} names no current batch yet (status.currentBatch): \
                         its schedule has had no tick since it was created, or the operator has not looked at it"
                    )
                })?;
            let name = rerun::create(&runs, &owner, &batch, "manual").await?;
            println!("etlrun.ade.dev/{name} created: batch {batch} of EtlJob {job}, its current batch, runs now");
            return rerun::finish(&runs, &owner, &name, wait, timeout).await;
        }
        Command::Backfill {
            job,
            from,
            to,
            parallelism,
        } => {
            anyhow::ensure!(from < to, "--from must be before --to");
            anyhow::ensure!((1..=100).contains(&parallelism), "--parallelism must be 1 to 100");
            let patch = serde_json::json!({"spec": {"backfill": {
                "from": from.to_string(), "to": to.to_string(), "parallelism": parallelism}}});
            jobs.patch(&job, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| anyhow::anyhow!("EtlJob {job} in namespace {ns}: {e}"))?;
            println!(
                "etljob.ade.dev/{job}: backfill {from} to {to}, {parallelism} at a time; follow it with `kubectl ade batches {job}`"
            );
        }
        Command::Why { run } => {
            let run = runs
                .get(&run)
                .await
                .map_err(|e| anyhow::anyhow!("EtlRun {run} in namespace {ns}: {e}"))?;
            println!("{}", why::explain(&run));
        }
        Command::Batches { job } => {
            let all = runs.list(&ListParams::default()).await?.items;
            print!("{}", batches::table(&job, &all));
        }
        Command::Cost { name, since } => {
            let since = since
                .map(|s| -> anyhow::Result<jiff::Timestamp> {
                    let d = SpecDuration(s).to_std()?;
                    Ok(jiff::Timestamp::now() - jiff::SignedDuration::try_from(d)?)
                })
                .transpose()?;
            let all = runs.list(&ListParams::default()).await?.items;
            let pools: Api<ClusterPool> = Api::namespaced(client, &ns);
            print!("{}", cost(&ns, name.as_deref(), &all, &jobs, &pools, since).await?);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// What `kubectl ade cost [NAME]` prints: per job, or for the pool and/or
/// job named NAME.
async fn cost(
    ns: &str,
    name: Option<&str>,
    runs: &[EtlRun],
    jobs: &Api<EtlJob>,
    pools: &Api<ClusterPool>,
    since: Option<jiff::Timestamp>,
) -> anyhow::Result<String> {
    let window = since.map_or(String::new(), |s| {
        format!(" created since {}", s.strftime("%Y-%m-%d %H:%M:%S UTC"))
    });
    let Some(name) = name else {
        let mut rows = vec![[
            "JOB".to_owned(),
            "RUNS".to_owned(),
            "SUCCEEDED".to_owned(),
            "FAILED".to_owned(),
            "COST-USD".to_owned(),
        ]];
        let per_job = batches::cost_by_job(runs, since);
        let total: f64 = per_job.iter().map(|j| j.4).sum();
        for (job, n, ok, failed, usd) in per_job {
            rows.push([
                job,
                n.to_string(),
                ok.to_string(),
                failed.to_string(),
                format!("{usd:.4}"),
            ]);
        }
        return Ok(format!(
            "{}total {total:.4} USD for the runs in namespace {ns}{window}\n",
            batches::format_table(&rows)
        ));
    };
    let mut out = String::new();
    if let Some(pool) = pools.get_opt(name).await? {
        // by the pool the run ran on (status.pool), not the job's pool of today
        let of_pool: Vec<EtlRun> = runs
            .iter()
            .filter(|r| r.status.as_ref().and_then(|s| s.pool.as_deref()) == Some(name))
            .cloned()
            .collect();
        let per_job = batches::cost_by_job(&of_pool, since);
        let usd: f64 = per_job.iter().map(|j| j.4).sum();
        let job_names: Vec<&str> = per_job.iter().map(|j| j.0.as_str()).collect();
        let live = pool
            .status
            .as_ref()
            .and_then(|s| s.estimated_cost_usd.as_ref())
            .map_or("-".to_owned(), |c| c.0.clone());
        out.push_str(&format!(
            "ClusterPool {name}: {usd:.4} USD for the runs on it ({}){window}; the pool's own estimate (its clusters, or its runs on kubernetes): {live} USD\n",
            if job_names.is_empty() { "none".to_owned() } else { job_names.join(", ") }
        ));
    }
    if jobs.get_opt(name).await?.is_some() {
        let per_job = batches::cost_by_job(runs, since);
        let (n, ok, failed, usd) = per_job
            .iter()
            .find(|j| j.0 == name)
            .map_or((0, 0, 0, 0.0), |j| (j.1, j.2, j.3, j.4));
        out.push_str(&format!(
            "EtlJob {name}: {usd:.4} USD for {n} runs ({ok} succeeded, {failed} failed){window}\n"
        ));
    }
    if !out.is_empty() {
        return Ok(out);
    }
    anyhow::bail!("no EtlJob or ClusterPool named {name} in namespace {ns}")
}

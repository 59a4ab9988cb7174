//! `rerun` and `run-now`: a new EtlRun of one batch of a job, owned by the
//! job as the runs the operator creates (Argo CD shows it under the job, and
//! it goes when the job does), and waiting for it.

use std::time::Duration;

use ade_api::v1alpha1::{EtlJob, EtlRun, RunPhase, find_condition};
use kube::{Api, Resource, ResourceExt, api::PostParams};

use crate::why;

/// The EtlJob `name`, with an error that names it.
pub async fn job(jobs: &Api<EtlJob>, name: &str, ns: &str) -> anyhow::Result<EtlJob> {
    jobs.get(name)
        .await
        .map_err(|e| anyhow::anyhow!("EtlJob {name} in namespace {ns}: {e}"))
}

/// Creates a run of `batch` of `job` for `reason` (`rerun`, `manual`): its name.
pub async fn create(runs: &Api<EtlRun>, job: &EtlJob, batch: &str, reason: &str) -> anyhow::Result<String> {
    let name = job.name_any();
    let suffix = if reason == "rerun" { "rerun" } else { "now" };
    let run: EtlRun = serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1",
        "kind": "EtlRun",
        "metadata": {
            "generateName": format!("{}-{suffix}-", ade_api::names::run_name(&name, batch)),
            "ownerReferences": [{
                "apiVersion": EtlJob::api_version(&()),
                "kind": EtlJob::kind(&()),
                "name": name,
                "uid": job.uid().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {"jobRef": {"name": name}, "batchId": batch, "reason": reason},
    }))?;
    let created = runs.create(&PostParams::default(), &run).await?;
    Ok(created.metadata.name.unwrap_or_default())
}

/// Without `wait`, done. With it, waits until run `name` finishes and, for a
/// gated job, until its batch is validated: exit 0 when it succeeded and
/// passed, 1 otherwise, 2 when `timeout` passes first.
pub async fn finish(
    runs: &Api<EtlRun>,
    job: &EtlJob,
    name: &str,
    wait: bool,
    timeout: Duration,
) -> anyhow::Result<std::process::ExitCode> {
    if !wait {
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let gated = job.spec.gates.as_ref().is_some_and(|g| !g.after.is_empty());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let run = runs.get(name).await?;
        let status = run.status.as_ref();
        let phase = status.and_then(|s| s.phase);
        let verdict = status.and_then(|s| find_condition(&s.conditions, "Quarantined"));
        // a gated job's batch is done once a suite has judged it
        let settled = phase.is_some_and(RunPhase::is_final)
            && (phase != Some(RunPhase::Succeeded) || !gated || verdict.is_some());
        if settled {
            println!("{}", why::explain(&run));
            let ok = phase == Some(RunPhase::Succeeded) && verdict.is_none_or(|c| c.status != "True");
            return Ok(std::process::ExitCode::from(if ok { 0 } else { 1 }));
        }
        if tokio::time::Instant::now() > deadline {
            eprintln!("timed out: {}", why::explain(&run));
            return Ok(std::process::ExitCode::from(2));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

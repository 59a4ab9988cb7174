//! `kubectl ade batches JOB` and `kubectl ade cost`: a job's batches as a
//! table, and what runs cost, from the EtlRuns' status.

use std::collections::BTreeMap;

use ade_api::v1alpha1::{EtlRun, RunPhase, Usd, find_condition as condition};
use jiff::Timestamp;

/// The US dollars of a run's estimate (0 without one).
pub fn cost_of(run: &EtlRun) -> f64 {
    run.status
        .as_ref()
        .and_then(|s| s.estimated_cost_usd.as_ref())
        .and_then(Usd::dollars)
        .unwrap_or(0.0)
}

fn created(run: &EtlRun) -> Option<Timestamp> {
    run.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The validation verdict of a run: `failed` / `not validated` when
/// quarantined, `passed` when a suite vouched for it, `-` when ungated.
fn verdict(run: &EtlRun) -> String {
    let conditions = run.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    match condition(conditions, "Quarantined") {
        Some(c) if c.status == "True" && c.reason == "NotValidated" => "not validated".to_owned(),
        Some(c) if c.status == "True" => format!("failed ({})", c.reason),
        Some(_) => "passed".to_owned(),
        None => "-".to_owned(),
    }
}

/// The batches of `job` among `runs`, oldest batch first: for each, the
/// newest run's phase, attempts and verdict, how many runs it had, and the
/// cost of all of them.
pub fn table(job: &str, runs: &[EtlRun]) -> String {
    let mut by_batch: BTreeMap<&str, Vec<&EtlRun>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.spec.job_ref.name == job) {
        by_batch.entry(r.spec.batch_id.as_str()).or_default().push(r);
    }
    let mut rows = vec![[
        "BATCH".to_owned(),
        "PHASE".to_owned(),
        "ATTEMPTS".to_owned(),
        "RUNS".to_owned(),
        "VALIDATION".to_owned(),
        "COST-USD".to_owned(),
        "NEWEST-RUN".to_owned(),
    ]];
    for (batch, mut runs) in by_batch {
        runs.sort_by_key(|r| (created(r), r.metadata.name.clone()));
        let Some(newest) = runs.last() else { continue };
        let status = newest.status.as_ref();
        let phase = status
            .and_then(|s| s.phase)
            .map_or("-".to_owned(), |p| format!("{p:?}"));
        rows.push([
            batch.to_owned(),
            phase,
            status.map_or(0, |s| s.attempts.len()).to_string(),
            runs.len().to_string(),
            verdict(newest),
            format!("{:.4}", runs.iter().map(|r| cost_of(r)).sum::<f64>()),
            newest.metadata.name.clone().unwrap_or_default(),
        ]);
    }
    if rows.len() == 1 {
        return format!("EtlJob {job} has no runs in this namespace\n");
    }
    format_table(&rows)
}

/// Left-aligned columns, two spaces apart.
pub fn format_table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Cost of the runs created since `since` (all when `None`), per job:
/// (job, runs, succeeded, failed, USD), most expensive first.
pub fn cost_by_job(runs: &[EtlRun], since: Option<Timestamp>) -> Vec<(String, usize, usize, usize, f64)> {
    let mut jobs: BTreeMap<&str, (usize, usize, usize, f64)> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| since.is_none_or(|s| created(r).is_some_and(|c| c >= s)))
    {
        let e = jobs.entry(r.spec.job_ref.name.as_str()).or_default();
        let phase = r.status.as_ref().and_then(|s| s.phase);
        e.0 += 1;
        e.1 += usize::from(phase == Some(RunPhase::Succeeded));
        e.2 += usize::from(phase == Some(RunPhase::Failed));
        e.3 += cost_of(r);
    }
    let mut out: Vec<_> = jobs
        .into_iter()
        .map(|(j, (n, ok, failed, usd))| (j.to_owned(), n, ok, failed, usd))
        .collect();
    out.sort_by(|a, b| b.4.total_cmp(&a.4).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, batch: &str, created: &str, status: &str) -> EtlRun {
        serde_json::from_str(&format!(
            r#"{{"apiVersion":"ade.dev/v1alpha1","kind":"EtlRun",
                "metadata":{{"name":"{name}","creationTimestamp":"{created}"}},
                "spec":{{"jobRef":{{"name":"orders"}},"batchId":"{batch}"}},"status":{status}}}"#
        ))
        .expect("run")
    }

    const QUARANTINED: &str = r#"{"type":"Quarantined","status":"True","reason":"ChecksFailed","message":"m","lastTransitionTime":"2026-11-25T14:00:00Z"}"#;
    const PASSED: &str = r#"{"type":"Quarantined","status":"False","reason":"Passed","message":"m","lastTransitionTime":"2026-11-25T14:00:00Z"}"#;

    #[test]
    fn batches_show_the_newest_run_and_every_runs_cost() {
        let runs = vec![
            run(
                "o-00",
                "2026-11-25T00",
                "2026-11-25T01:00:00Z",
                &format!(
                    r#"{{"phase":"Succeeded","attempts":[{{"attempt":1}}],"estimatedCostUSD":"0.0100","conditions":[{QUARANTINED}]}}"#
                ),
            ),
            run(
                "o-00-rerun",
                "2026-11-25T00",
                "2026-11-25T03:00:00Z",
                &format!(
                    r#"{{"phase":"Succeeded","attempts":[{{"attempt":1}},{{"attempt":2}}],"estimatedCostUSD":"0.0200","conditions":[{PASSED}]}}"#
                ),
            ),
            run(
                "o-01",
                "2026-11-25T01",
                "2026-11-25T02:00:00Z",
                r#"{"phase":"Running","attempts":[{"attempt":1}]}"#,
            ),
        ];
        assert_eq!(
            table("orders", &runs),
            "BATCH          PHASE      ATTEMPTS  RUNS  VALIDATION  COST-USD  NEWEST-RUN\n\
             2026-11-25T00  Succeeded  2         2     passed      0.0300    o-00-rerun\n\
             2026-11-25T01  Running    1         1     -           0.0000    o-01\n"
        );
        assert_eq!(table("other", &runs), "EtlJob other has no runs in this namespace\n");
        let costs = cost_by_job(&runs, None);
        assert_eq!(costs.len(), 1);
        assert_eq!((costs[0].1, costs[0].2, costs[0].3), (3, 2, 0));
        assert!((costs[0].4 - 0.03).abs() < 1e-12);
        let since = "2026-11-25T02:30:00Z".parse().ok();
        assert_eq!(cost_by_job(&runs, since)[0].1, 1, "only the rerun is that recent");
    }
}

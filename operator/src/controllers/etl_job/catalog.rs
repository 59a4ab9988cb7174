//! Batches in the Glue Data Catalog. An output with `catalog` gets one
//! partition per batch once the batch is final — its newest run succeeded
//! and, when the job is gated, every gating suite checked it without
//! quarantining it (`etl_run::final_run`, what dependents wait for too) — so
//! readers never see a batch a gate has not passed. A batch a gate then
//! quarantines (a rerun that failed its checks) is removed again, with a
//! Warning Event; a rerun that passes registers it again.
//!
//! [`plan`] decides, purely, from the job's runs: each call's outcome is
//! recorded on the run that decided it (`status.partitions`, field manager
//! `ade-operator/catalog`), after the catalog answered. A crash between the
//! call and the record repeats the call, which lands on the same partition
//! (`ade_catalog::register` creates or updates). [`apply`] makes the calls.

use std::collections::BTreeMap;

use ade_catalog::{CatalogError, Partition};
use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::events::EventType,
};
use serde_json::json;

use super::gates;
use crate::{
    api::v1alpha1::{EtlJob, EtlRun, PartitionState, RegisteredPartition, Time},
    controllers::{
        Context,
        conditions::{Desired, Status},
        etl_run::{final_run, resolve_window},
    },
    template,
};

/// The field manager of `status.partitions` on EtlRuns.
pub const MANAGER: &str = "ade-operator/catalog";
/// The job's condition: whether the catalog holds every final batch.
pub const CATALOGED: &str = "Cataloged";
/// Most runs whose partitions one reconcile registers or removes; the rest
/// follow on the next reconcile, soon.
const MAX_WORK: usize = 25;

/// What the catalog must be told for one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// The batch is final: its partitions go in.
    Register,
    /// A gate quarantined it: its partitions go out.
    Remove,
}

/// One run's partitions to register or remove.
#[derive(Debug, Clone)]
pub struct Work {
    /// The run that decides its batch, where the outcome is recorded.
    pub run: EtlRun,
    /// Register or remove.
    pub act: Act,
    /// Output name → its partition for this batch.
    pub partitions: Vec<(String, Partition)>,
}

/// What [`plan`] decided.
#[derive(Debug, Default)]
pub struct Plan {
    /// Calls to make, oldest batch first.
    pub work: Vec<Work>,
    /// Batches already registered as wanted: (window start, batch id).
    pub registered: Vec<(Timestamp, String)>,
    /// Outputs that cannot be rendered, in words (a missing region).
    pub problems: Vec<String>,
}

/// What the job's status gets from the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The `Cataloged` condition.
    pub condition: Desired,
    /// The newest batch registered, when any is.
    pub newest: Option<String>,
    /// Work was left for the next reconcile.
    pub more: bool,
}

/// Plans the catalog of `job` from its `runs`; nothing to do when no output
/// has a catalog. `region` is the default for catalogs that name none.
///
/// Pure.
pub fn plan(job: &EtlJob, runs: &[EtlRun], region: Option<&str>) -> Plan {
    let mut out = Plan::default();
    if !job.spec.outputs.iter().any(|o| o.catalog.is_some()) {
        return out;
    }
    let name = job.name_any();
    // Each batch's runs, the batch ordered by its window.
    let mut batches: BTreeMap<&str, (Timestamp, Vec<&EtlRun>)> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.spec.job_ref.name == name) {
        batches
            .entry(run.spec.batch_id.as_str())
            .or_insert_with(|| (window_start(job, run), Vec::new()))
            .1
            .push(run);
    }
    let mut batches: Vec<(Timestamp, &str, Vec<&EtlRun>)> = batches
        .into_iter()
        .map(|(batch, (start, runs))| (start, batch, runs))
        .collect();
    batches.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let quarantined = gates::quarantined(runs, &name);
    for (start, batch, its_runs) in batches {
        let (run, act) = match quarantined.iter().find(|r| r.spec.batch_id == batch) {
            Some(run) => (*run, Act::Remove),
            None => match final_run(job, batch, its_runs) {
                Ok(run) => (run, Act::Register),
                // Not final yet (or a rerun is under way): leave the catalog as it is.
                Err(_) => continue,
            },
        };
        let partitions = match partitions(job, run, region) {
            Ok(p) => p,
            Err(problem) => {
                if !out.problems.contains(&problem) {
                    out.problems.push(problem);
                }
                continue;
            }
        };
        let state = match act {
            Act::Register => PartitionState::Registered,
            Act::Remove => PartitionState::Removed,
        };
        if recorded(run, &partitions, state) {
            if act == Act::Register {
                out.registered.push((start, batch.to_owned()));
            }
            continue;
        }
        out.work.push(Work {
            run: run.clone(),
            act,
            partitions,
        });
    }
    out
}

/// The partitions of `run`'s batch, one per cataloged output of `job`.
fn partitions(job: &EtlJob, run: &EtlRun, region: Option<&str>) -> Result<Vec<(String, Partition)>, String> {
    let window = resolve_window(run, Some(job)).ok();
    let values = template::dataset_values(
        &run.spec.batch_id,
        (window.as_ref().map(|w| w.start), window.as_ref().map(|w| w.end)),
        &job.name_any(),
    );
    let render = |field: String, text: &str| template::render(&field, text, &values).map_err(|e| e.to_string());
    let mut out = Vec::new();
    for (i, output) in job.spec.outputs.iter().enumerate() {
        let Some(catalog) = &output.catalog else { continue };
        let region = catalog.region.as_deref().or(region).ok_or_else(|| {
            format!(
                "spec.outputs[{i}].catalog.region is not set and the operator has no default region (--aws-region): name the catalog's region"
            )
        })?;
        let mut partition_values = BTreeMap::new();
        for (key, value) in &catalog.partition {
            partition_values.insert(
                key.clone(),
                render(format!("spec.outputs[{i}].catalog.partition.{key}"), value)?,
            );
        }
        out.push((
            output.name.clone(),
            Partition {
                region: region.to_owned(),
                database: catalog.database.clone(),
                table: catalog.table.clone(),
                values: partition_values,
                location: render(format!("spec.outputs[{i}].uri"), &output.uri)?,
            },
        ));
    }
    Ok(out)
}

/// Whether `run` records every one of `partitions` in `state` (a removal need
/// not match the values: whatever the batch had is gone).
fn recorded(run: &EtlRun, partitions: &[(String, Partition)], state: PartitionState) -> bool {
    let have = run.status.as_ref().map(|s| s.partitions.as_slice()).unwrap_or_default();
    partitions.iter().all(|(output, p)| {
        have.iter().any(|h| {
            h.output == *output
                && h.state == state
                && h.database == p.database
                && h.table == p.table
                && (state == PartitionState::Removed || (h.location == p.location && h.values == p.values))
        })
    })
}

fn window_start(job: &EtlJob, run: &EtlRun) -> Timestamp {
    resolve_window(run, Some(job)).map_or(Timestamp::UNIX_EPOCH, |w| w.start)
}

/// Makes the calls `plan` asks for (at most [`MAX_WORK`] runs), records
/// each on its run, and says what the job's status gets.
pub async fn apply(ctx: &Context, job: &EtlJob, plan: Plan) -> Option<Outcome> {
    if !job.spec.outputs.iter().any(|o| o.catalog.is_some()) {
        return None;
    }
    let mut registered = plan.registered;
    let mut errors: Vec<CatalogError> = Vec::new();
    // Tables found missing or refused: not asked again in this reconcile.
    let mut refused: Vec<String> = Vec::new();
    let more = plan.work.len() > MAX_WORK;
    for work in plan.work.into_iter().take(MAX_WORK) {
        if work.partitions.iter().any(|(_, p)| refused.contains(&p.table_name())) {
            continue;
        }
        match tell(ctx, job, &work).await {
            Ok(()) if work.act == Act::Register => {
                registered.push((window_start(job, &work.run), work.run.spec.batch_id.clone()));
            }
            Ok(()) => {}
            Err((table, e)) => {
                if !e.kind.is_transient() {
                    refused.push(table);
                }
                errors.push(e);
            }
        }
    }
    let newest = registered.into_iter().max().map(|(_, batch)| batch);
    let condition = condition(&plan.problems, &errors, newest.as_deref(), more);
    Some(Outcome {
        condition,
        newest,
        more,
    })
}

/// The `Cataloged` condition.
///
/// Pure.
fn condition(problems: &[String], errors: &[CatalogError], newest: Option<&str>, more: bool) -> Desired {
    if let Some(problem) = problems.first() {
        return Desired::new(CATALOGED, Status::False, "InvalidCatalog", problem.clone());
    }
    if let Some(first) = errors.first() {
        let mut messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        messages.dedup();
        let retry = if first.kind.is_transient() {
            "; retried on the next reconcile"
        } else {
            ""
        };
        return Desired::new(
            CATALOGED,
            Status::False,
            first.kind.reason(),
            format!("{}{retry}", messages.join("; ")),
        );
    }
    match (newest, more) {
        (_, true) => Desired::new(
            CATALOGED,
            Status::False,
            "Registering",
            "registering final batches in the catalog; more follow shortly",
        ),
        (Some(batch), false) => Desired::new(
            CATALOGED,
            Status::True,
            "Registered",
            format!("every final batch is in the catalog; the newest is {batch}"),
        ),
        (None, false) => Desired::new(CATALOGED, Status::True, "NothingFinal", "no batch is final yet"),
    }
}

/// Registers or removes `work`'s partitions, then records it on its run; a
/// failure names the table it was about.
async fn tell(ctx: &Context, job: &EtlJob, work: &Work) -> Result<(), (String, CatalogError)> {
    let mut removed_any = false;
    for (_, partition) in &work.partitions {
        let told = match work.act {
            Act::Register => ctx.catalog.register(partition).await.map(|_| false),
            Act::Remove => ctx.catalog.remove(partition).await,
        };
        removed_any |= told.map_err(|e| (partition.table_name(), e))?;
    }
    let state = match work.act {
        Act::Register => PartitionState::Registered,
        Act::Remove => PartitionState::Removed,
    };
    let run = &work.run;
    let records = records(run, &work.partitions, state, Timestamp::now());
    let api: Api<EtlRun> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": "ade.dev/v1alpha1",
        "kind": "EtlRun",
        "status": { "partitions": records },
    });
    match api
        .patch_status(
            &run.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(written) => ctx.caches.runs.wrote(written),
        // The call is made again on the next reconcile; it lands on the same partition.
        Err(error) => tracing::warn!(%error, run = run.name_any(), "recording the catalog's partitions failed"),
    }
    let (batch, shown) = (&run.spec.batch_id, describe(&work.partitions));
    match work.act {
        Act::Register => {
            let note = format!("batch {batch} is in the catalog: {shown}");
            ctx.publish_event(run, EventType::Normal, "PartitionRegistered", &note, "Catalog")
                .await;
        }
        Act::Remove if removed_any => {
            let note = format!(
                "batch {batch} was quarantined by a failed quality gate: removed from the catalog ({shown}); readers no longer see it until a rerun passes"
            );
            ctx.publish_event(run, EventType::Warning, "PartitionRemoved", &note, "Catalog")
                .await;
            ctx.publish_event(job, EventType::Warning, "PartitionRemoved", &note, "Catalog")
                .await;
        }
        Act::Remove => {}
    }
    Ok(())
}

/// `run`'s partition records with `partitions` in `state`, other outputs' kept.
fn records(
    run: &EtlRun,
    partitions: &[(String, Partition)],
    state: PartitionState,
    now: Timestamp,
) -> Vec<RegisteredPartition> {
    let mut out: Vec<RegisteredPartition> = run
        .status
        .as_ref()
        .map(|s| s.partitions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !partitions.iter().any(|(output, _)| *output == h.output))
        .collect();
    out.extend(partitions.iter().map(|(output, p)| RegisteredPartition {
        output: output.clone(),
        database: p.database.clone(),
        table: p.table.clone(),
        values: p.values.clone(),
        location: p.location.clone(),
        state,
        at: Time(now),
    }));
    out.sort_by(|a, b| a.output.cmp(&b.output));
    out
}

/// `lake.orders (batch=2026-11-25T13) at s3://…`, for each partition.
fn describe(partitions: &[(String, Partition)]) -> String {
    partitions
        .iter()
        .map(|(_, p)| {
            let values: Vec<String> = p.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} ({}) at {}", p.table_name(), values.join(", "), p.location)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

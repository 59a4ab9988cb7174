//! The scan: registers the dataset's files with DataFusion, compiles the suite
//! against the schema ([`crate::plan`]), runs one query (needed columns plus one
//! boolean column per SQL predicate or filter) split into partitions, folds each
//! partition's batches into its own accumulator on its own task (or a helper on an
//! idle core, [`crate::fold`]), and merges them.
//! Parquet footers are read first; they answer row counts and min/max and reject
//! corrupt files before the scan.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::execute_stream_partitioned;
use datafusion::prelude::{SessionConfig, SessionContext, ident};
use futures::StreamExt;

use crate::fold::{Cores, PartitionFold};
use crate::footer::{self, FooterError, FooterStats};
use crate::plan::{self, Compiled, PlanError, PlanInput};
use crate::rowcheck::{ReferenceSet, RowTest};
use crate::scalar::Scalar;
use crate::scan::ScanAccumulator;
use crate::schema::{self, SchemaField};
use crate::source::Dataset;
use ade_api::v1alpha1::{DatasetFormat, ValidationSuiteSpec};

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Partitions scanned in parallel.
    pub threads: usize,
    /// Distinct values the exact uniqueness check keeps per check before giving up.
    pub unique_cap: usize,
}

/// The scan's output.
#[derive(Debug)]
pub struct ScanOutput {
    pub compiled: Compiled,
    pub state: ScanAccumulator,
    pub footer: Option<FooterStats>,
    /// The dataset's columns, as read.
    pub schema: Vec<SchemaField>,
    pub scan_seconds: f64,
}

/// A reference check's dataset, resolved (the reference checks in spec order).
#[derive(Clone, Debug)]
pub struct Reference {
    /// The check's name.
    pub check: String,
    pub dataset: Dataset,
}

/// Why the scan failed; every variant is bad input except `Execute` on an I/O problem.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Footer(#[from] FooterError),
    #[error("cannot read the schema of {uri}: {source}")]
    ReadSchema { uri: String, source: DataFusionError },
    #[error("cannot register the dataset: {0}")]
    Register(DataFusionError),
    /// Names the dataset, like every other variant: the spec may be right and the file wrong.
    #[error("the suite does not fit the dataset {uri}:\n  - {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Plan { uri: String, errors: Vec<PlanError> },
    #[error("invalid SQL in the suite: {0}")]
    PlanQuery(DataFusionError),
    #[error("cannot read {uri}: {source}")]
    Execute { uri: String, source: DataFusionError },
}

/// A table registered with the session, and its schema.
async fn register(
    ctx: &SessionContext,
    name: &str,
    dataset: &Dataset,
) -> Result<Arc<arrow::datatypes::Schema>, EngineError> {
    ctx.register_object_store(&dataset.location.store_url, dataset.location.store.clone());
    let format: Arc<dyn FileFormat> = match dataset.format {
        DatasetFormat::Parquet => Arc::new(ParquetFormat::default()),
        DatasetFormat::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
        DatasetFormat::Json => Arc::new(JsonFormat::default()),
    };
    let uri = dataset.location.uri.clone();
    let schema = format
        .infer_schema(&ctx.state(), &dataset.location.store, &dataset.files)
        .await
        .map_err(|source| EngineError::ReadSchema {
            uri: uri.clone(),
            source,
        })?;
    let urls = dataset
        .files
        .iter()
        .map(|f| ListingTableUrl::parse(format!("{}{}", dataset.location.store_url, f.location)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(EngineError::Register)?;
    let listing = ListingOptions::new(format).with_file_extension("");
    let table_config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(listing)
        .with_schema(schema.clone());
    let table = ListingTable::try_new(table_config).map_err(EngineError::Register)?;
    ctx.register_table(name, Arc::new(table))
        .map_err(EngineError::Register)?;
    Ok(schema)
}

/// Reads a reference dataset's key columns into a set of key hashes (up to `cap` keys).
async fn load_reference(
    ctx: &SessionContext,
    table: &str,
    columns: &[String],
    cap: usize,
    uri: &str,
) -> Result<ReferenceSet, EngineError> {
    let execute = |source| EngineError::Execute {
        uri: uri.to_owned(),
        source,
    };
    let df = ctx.table(table).await.map_err(EngineError::Register)?;
    let df = df
        .select(columns.iter().map(|c| ident(c.as_str())).collect::<Vec<_>>())
        .map_err(EngineError::PlanQuery)?;
    let mut stream = df.execute_stream().await.map_err(execute)?;
    let mut set = ReferenceSet::default();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(execute)?;
        let arrays: Vec<&arrow::array::ArrayRef> = batch.columns().iter().collect();
        set.extend(&arrays, cap)
            .map_err(|e| execute(DataFusionError::ArrowError(Box::new(e), None)))?;
        if set.cap_exceeded {
            break;
        }
    }
    Ok(set)
}

/// Profiles and row-checks the dataset in one pass.
pub async fn scan(
    spec: &ValidationSuiteSpec,
    dataset: &Dataset,
    references: &[Reference],
    has_window: bool,
    options: EngineOptions,
) -> Result<ScanOutput, EngineError> {
    let started = Instant::now();
    let footer = match dataset.format {
        DatasetFormat::Parquet => Some(footer::read(dataset).await?),
        _ => None,
    };
    let partitions = partitions(options.threads, footer.as_ref().map(|f| f.row_groups));
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(8192);
    let ctx = SessionContext::new_with_config(config);
    let uri = dataset.location.uri.clone();
    let schema = register(&ctx, "dataset", dataset).await?;
    let mut reference_fields = HashMap::new();
    for (i, r) in references.iter().enumerate() {
        let schema = register(&ctx, &format!("reference_{i}"), &r.dataset).await?;
        let fields = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>();
        reference_fields.insert(r.check.clone(), fields);
    }
    let df = ctx.table("dataset").await.map_err(EngineError::Register)?;

    let mut compiled = plan::compile(
        PlanInput {
            spec,
            schema: df.schema(),
            footer: footer.as_ref(),
            has_window,
            unique_cap: options.unique_cap,
            references: &reference_fields,
        },
        &ctx,
    )
    .map_err(|errors| EngineError::Plan {
        uri: uri.clone(),
        errors,
    })?;
    for load in compiled.references.clone() {
        let name = &spec.checks[load.check].name;
        let Some(i) = references.iter().position(|r| &r.check == name) else {
            continue;
        };
        let set = load_reference(
            &ctx,
            &format!("reference_{i}"),
            &load.columns,
            options.unique_cap,
            &references[i].dataset.location.uri,
        )
        .await?;
        if let RowTest::Reference { set: slot, .. } =
            &mut compiled.scan.views[load.view].row_checks[load.row_check].test
        {
            *slot = Arc::new(set);
        }
    }
    let physical = df
        .select(compiled.projection.clone())
        .map_err(EngineError::PlanQuery)?
        .create_physical_plan()
        .await
        .map_err(EngineError::PlanQuery)?;
    let streams = execute_stream_partitioned(physical, ctx.task_ctx()).map_err(EngineError::PlanQuery)?;

    let scan_plan = Arc::new(compiled.scan.clone());
    let cores = Cores::new(options.threads, streams.len());
    let arrow_error = |e| DataFusionError::ArrowError(Box::new(e), None);
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(index, mut stream)| {
            let mut fold = PartitionFold::new(scan_plan.clone(), cores.clone(), index);
            // Unconstrained: DataFusion's streams spend tokio's cooperative budget, and a
            // task whose budget runs out yields to the others on its worker, where an idle
            // worker does not take it: partitions were interleaved in pairs on one worker
            // while the other idled, and [`Cores`] could not tell a core was free. The task
            // still yields whenever it waits for I/O or for its helper.
            tokio::spawn(tokio::task::unconstrained(async move {
                while let Some(batch) = stream.next().await {
                    fold.fold(batch?).await.map_err(arrow_error)?;
                }
                fold.finish().await.map_err(arrow_error)
            }))
        })
        .collect();
    let mut merged: Option<ScanAccumulator> = None;
    for task in tasks {
        let state = task
            .await
            .map_err(|e| EngineError::Execute {
                uri: uri.clone(),
                source: DataFusionError::External(Box::new(e)),
            })?
            .map_err(|source| EngineError::Execute {
                uri: uri.clone(),
                source,
            })?;
        match &mut merged {
            Some(m) => m.merge(&scan_plan, state),
            None => merged = Some(state),
        }
    }
    let mut state = merged.unwrap_or_else(|| ScanAccumulator::new(&scan_plan));
    if let Some(footer) = &footer {
        apply_footer(&compiled, &mut state, footer);
    }
    Ok(ScanOutput {
        compiled,
        state,
        footer,
        schema: schema::fields_of(schema.fields()),
        scan_seconds: started.elapsed().as_secs_f64(),
    })
}

/// How many partitions to scan with `threads` workers. DataFusion gives each
/// partition a byte range of the files and each row group to the range holding its
/// middle, so with about as many row groups as threads the split is uneven (5 row
/// groups on 2 threads: 3 and 2). Up to four row groups per thread, each gets its own
/// partition, and a worker that runs out of partitions takes a waiting one. A
/// partition runs on its worker until it waits for I/O (see [`scan`]), so the last
/// ones run alone (5 row groups on 2 threads: the fifth), and [`crate::fold`] lends
/// their folding the idle core. With more row groups, one partition per thread
/// already balances within a row group.
pub fn partitions(threads: usize, row_groups: Option<usize>) -> usize {
    let threads = threads.max(1);
    match row_groups {
        Some(groups) if groups > threads && groups <= 4 * threads => groups,
        _ => threads,
    }
}

/// Fills in min/max the scan skipped because the footers answer them (view 0 only).
fn apply_footer(compiled: &Compiled, state: &mut ScanAccumulator, footer: &FooterStats) {
    let (Some(view), Some(acc)) = (compiled.scan.views.first(), state.views.first_mut()) else {
        return;
    };
    for (plan, column) in view.columns.iter().zip(&mut acc.columns) {
        if plan.options.min_max {
            continue;
        }
        if let Some(f) = footer.columns.get(&plan.name) {
            column.min = Scalar::min_of(column.min.take(), f.min.clone());
            column.max = Scalar::max_of(column.max.take(), f.max.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::partitions;

    #[test]
    fn partitions_follow_row_groups_when_few() {
        // (threads, row groups, partitions)
        let cases = [
            (2, None, 2),
            (2, Some(1), 2),
            (2, Some(2), 2),
            (2, Some(5), 5),
            (2, Some(8), 8),
            (2, Some(9), 2),
            (0, Some(3), 3),
            (4, Some(40), 4),
        ];
        for (threads, groups, want) in cases {
            assert_eq!(
                partitions(threads, groups),
                want,
                "{threads} threads, {groups:?} row groups"
            );
        }
    }
}

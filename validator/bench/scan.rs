//! The benchmark's floor: reads every record batch of a Parquet file with the
//! parquet crate and does nothing with it, reading the way `ade-validate`'s scan
//! does, so the ratio measures the profile and not the I/O plan: the same number of
//! runtime threads, the same partitions ([`ade_validator::engine::partitions`]: one
//! per row group when there are few, taking turns in order, each on its worker until
//! it waits for I/O, as the parquet crate's stream spends no cooperative budget),
//! async reads through object_store, 8192-row batches and strings decoded as `Utf8View` (DataFusion's
//! default). Prints rows read and seconds.

use std::sync::Arc;
use std::time::Instant;

use ade_validator::fold::Cores;
use arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
// Deprecated in parquet 59 in favour of each caller implementing `AsyncFileReader`
// (DataFusion has its own, over the same object_store calls); a benchmark floor has
// no reason to carry a copy of it.
#[expect(deprecated, reason = "the stock object_store reader is enough for the floor")]
use parquet::arrow::async_reader::ParquetObjectReader;

fn main() -> anyhow::Result<()> {
    let file = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: ade-bench-scan FILE [THREADS]"))?;
    let threads: usize = match std::env::args().nth(2) {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let started = Instant::now();
    let rows = runtime.block_on(scan(&file, threads))?;
    println!("{rows} rows in {:.3}s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn scan(file: &str, threads: usize) -> anyhow::Result<usize> {
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
    let path = Path::from_absolute_path(std::path::absolute(file)?)?;
    #[expect(deprecated, reason = "see the import")]
    let reader = || ParquetObjectReader::new(store.clone(), path.clone());
    let builder = ParquetRecordBatchStreamBuilder::new(reader()).await?;
    let groups = builder.metadata().num_row_groups();
    let schema = Arc::new(Schema::new(
        builder
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => Field::new(f.name(), DataType::Utf8View, f.is_nullable()),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let partitions = ade_validator::engine::partitions(threads, Some(groups));
    let cores = Cores::new(threads, partitions);
    let tasks: Vec<_> = (0..partitions)
        .map(|p| {
            let mine: Vec<usize> = (p..groups).step_by(partitions).collect();
            let (reader, schema, cores) = (reader(), schema.clone(), cores.clone());
            tokio::spawn(async move {
                let rows = read(reader, schema, mine, &cores, p).await;
                cores.finish_partition(p);
                rows
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total)
}

/// Reads one partition's row groups, taking its turn after its first batch as the
/// scan does ([`Cores::turn`]); the rows read.
#[expect(deprecated, reason = "see the import")]
async fn read(
    reader: ParquetObjectReader,
    schema: Arc<Schema>,
    row_groups: Vec<usize>,
    cores: &Cores,
    partition: usize,
) -> anyhow::Result<usize> {
    if row_groups.is_empty() {
        return Ok(0);
    }
    let options = ArrowReaderOptions::new().with_schema(schema);
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_options(reader, options)
        .await?
        .with_row_groups(row_groups)
        .with_batch_size(8192)
        .build()?;
    let mut rows = 0;
    let mut started = false;
    while let Some(batch) = stream.next().await {
        if !started {
            cores.turn(partition).await;
            started = true;
        }
        rows += batch?.num_rows();
    }
    Ok(rows)
}

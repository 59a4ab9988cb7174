//! The benchmark's floor: reads every record batch of a Parquet file and does
//! nothing with it, using as many threads as `ade-validate` does (row groups are
//! split between them). Prints rows read and seconds.

use std::fs::File;
use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: ade-bench-scan FILE [THREADS]"))?;
    let threads: usize = match std::env::args().nth(2) {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let started = Instant::now();
    let groups = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?
        .metadata()
        .num_row_groups();
    let rows = std::thread::scope(|s| -> anyhow::Result<usize> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let path = path.clone();
                s.spawn(move || -> anyhow::Result<usize> {
                    let mine: Vec<usize> = (t..groups).step_by(threads).collect();
                    if mine.is_empty() {
                        return Ok(0);
                    }
                    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?
                        .with_row_groups(mine)
                        .with_batch_size(8192)
                        .build()?;
                    let mut rows = 0;
                    for batch in reader {
                        rows += batch?.num_rows();
                    }
                    Ok(rows)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| anyhow::anyhow!("scan thread panicked"))??;
        }
        Ok(total)
    })?;
    println!("{rows} rows in {:.3}s", started.elapsed().as_secs_f64());
    Ok(())
}

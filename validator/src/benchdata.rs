//! Benchmark data: a deterministic Parquet file of `rows` rows and 12 columns —
//! integers, floats with nulls, low- and high-cardinality strings, timestamps —
//! written in row groups of 1 Mi rows with Snappy compression.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const STATUSES: [&str; 5] = ["new", "paid", "shipped", "delivered", "returned"];
const COUNTRIES: [&str; 20] = [
    "DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "NO", "DK", "FI", "BE", "AT", "CH", "PT", "IE", "CZ", "JP",
    "BR",
];

/// The schema of the benchmark file.
pub fn schema() -> Arc<Schema> {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("quantity", DataType::Int32, false),
        Field::new("amount", DataType::Float64, true),
        Field::new("price", DataType::Float64, false),
        Field::new("discount", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, true),
        Field::new("sku", DataType::Utf8, false),
        Field::new("created_at", ts.clone(), false),
        Field::new("updated_at", ts, true),
    ]))
}

/// One batch of rows `start..start+len`.
pub fn batch(start: usize, len: usize, rng: &mut fastrand::Rng) -> RecordBatch {
    let base_us: i64 = 1_790_000_000_000_000;
    let created: Vec<i64> = (0..len)
        .map(|i| base_us + (start + i) as i64 * 17_000 + rng.i64(0..1_000_000))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values((start..start + len).map(|i| i as i64))),
        Arc::new(Int64Array::from_iter_values((0..len).map(|_| rng.i64(0..1_000_000)))),
        Arc::new(Int32Array::from_iter_values((0..len).map(|_| rng.i32(1..100)))),
        Arc::new(Float64Array::from_iter((0..len).map(|_| {
            (rng.f64() >= 0.05).then(|| (rng.f64() * 50_000.0).round() / 100.0)
        }))),
        Arc::new(Float64Array::from_iter_values(
            (0..len).map(|_| (rng.f64() * 20_000.0).round() / 100.0),
        )),
        Arc::new(Float64Array::from_iter(
            (0..len).map(|_| (rng.f64() >= 0.2).then(|| rng.f64() * 0.5)),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..len).map(|_| STATUSES[rng.usize(0..STATUSES.len())]),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..len).map(|_| COUNTRIES[rng.usize(0..COUNTRIES.len())]),
        )),
        Arc::new(StringArray::from_iter((0..len).map(|_| {
            (rng.f64() >= 0.01).then(|| format!("user{}@example{}.com", rng.u32(0..5_000_000), rng.u8(0..10)))
        }))),
        Arc::new(StringArray::from_iter_values((0..len).map(|_| {
            let a = [b'A' + rng.u8(0..26), b'A' + rng.u8(0..26), b'A' + rng.u8(0..4)];
            format!("{}-{}", String::from_utf8_lossy(&a), rng.u32(0..10_000))
        }))),
        Arc::new(TimestampMicrosecondArray::from(created.clone()).with_timezone("UTC")),
        Arc::new(
            TimestampMicrosecondArray::from_iter(
                created
                    .iter()
                    .map(|&c| (rng.f64() >= 0.1).then(|| c + rng.i64(0..86_400_000_000))),
            )
            .with_timezone("UTC"),
        ),
    ];
    // The schema and arrays are built together above; a mismatch is a programming error caught by tests.
    RecordBatch::try_new(schema(), columns).unwrap_or_else(|e| panic!("benchmark batch: {e}"))
}

/// Writes the file.
pub fn write(path: &Path, rows: usize) -> Result<(), parquet::errors::ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path)?, schema(), Some(props))?;
    let mut rng = fastrand::Rng::with_seed(42);
    let chunk = 65_536;
    let mut start = 0;
    while start < rows {
        let len = chunk.min(rows - start);
        writer.write(&batch(start, len, &mut rng))?;
        start += len;
    }
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_match_the_schema() {
        let b = batch(0, 1000, &mut fastrand::Rng::with_seed(1));
        assert_eq!((b.num_rows(), b.num_columns()), (1000, 12));
    }
}

//! What Parquet footers answer without reading data: row counts, and per column
//! null counts and min/max (only when every row group of every file carries exact
//! statistics for it). Reading footers first also rejects a corrupt or non-Parquet
//! file before anything is scanned.

use std::collections::HashMap;

use arrow::array::Array;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::errors::ParquetError;
use parquet::file::metadata::{FooterTail, ParquetMetaData, ParquetMetaDataReader};

use crate::profile::min_max;
use crate::scalar::{ColumnKind, Scalar};
use crate::source::Dataset;

/// Footer answers for a whole dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FooterStats {
    pub rows: u64,
    /// Row groups in all files (the scan balances its partitions by them).
    pub row_groups: usize,
    pub columns: HashMap<String, ColumnFooter>,
}

/// Footer answers for one column; `None` where some row group cannot answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnFooter {
    pub nulls: Option<u64>,
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
}

/// A file whose footer could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the Parquet footer of {file}: {source}")]
pub struct FooterError {
    pub file: String,
    pub source: parquet::errors::ParquetError,
}

/// Reads every file's footer (8 at a time) and combines them.
pub async fn read(dataset: &Dataset) -> Result<FooterStats, FooterError> {
    let per_file: Vec<FooterStats> = futures::stream::iter(dataset.files.iter().cloned())
        .map(|meta| {
            let store = dataset.location.store.clone();
            let file = dataset.location.uri_of(&meta.location);
            async move {
                let metadata = read_metadata(store.as_ref(), &meta.location, meta.size)
                    .await
                    .map_err(|source| FooterError {
                        file: file.clone(),
                        source,
                    })?;
                check_chunks(&metadata, meta.size)
                    .and_then(|()| file_stats_caught(&metadata))
                    .map_err(|source| FooterError { file, source })
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    let mut files = per_file.into_iter();
    let Some(mut total) = files.next() else {
        return Ok(FooterStats::default());
    };
    for file in files {
        total.rows += file.rows;
        total.row_groups += file.row_groups;
        total.columns.retain(|name, column| {
            let Some(other) = file.columns.get(name) else {
                return false;
            };
            column.nulls = column.nulls.zip(other.nulls).map(|(a, b)| a + b);
            column.min = column
                .min
                .take()
                .zip(other.min.clone())
                .and_then(|(a, b)| Scalar::min_of(Some(a), Some(b)));
            column.max = column
                .max
                .take()
                .zip(other.max.clone())
                .and_then(|(a, b)| Scalar::max_of(Some(a), Some(b)));
            true
        });
    }
    Ok(total)
}

/// Reads a file's metadata with two ranged reads: the 8-byte tail, then the footer it points to.
async fn read_metadata(
    store: &dyn ObjectStore,
    location: &object_store::path::Path,
    size: u64,
) -> Result<ParquetMetaData, ParquetError> {
    let io = |e: object_store::Error| ParquetError::External(Box::new(e));
    if size < 12 {
        return Err(ParquetError::General(format!(
            "{size} bytes is too small for a Parquet file"
        )));
    }
    let tail = store.get_range(location, size - 8..size).await.map_err(io)?;
    let tail = FooterTail::try_from(tail.as_ref())?;
    let length = tail.metadata_length() as u64;
    if length + 8 > size {
        return Err(ParquetError::General(format!(
            "footer length {length} exceeds the file size {size}"
        )));
    }
    let footer = store
        .get_range(location, size - 8 - length..size - 8)
        .await
        .map_err(io)?;
    ParquetMetaDataReader::decode_metadata(&footer)
}

/// Rejects a footer whose column chunks do not lie inside the file: the reader
/// would read past the end, or panic on a negative offset or length.
fn check_chunks(metadata: &ParquetMetaData, size: u64) -> Result<(), ParquetError> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let start = column
                .dictionary_page_offset()
                .unwrap_or_else(|| column.data_page_offset());
            let length = column.compressed_size();
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(length).ok())
                .and_then(|(start, length)| start.checked_add(length));
            if end.is_none_or(|end| end > size) {
                return Err(ParquetError::General(format!(
                    "row group {g}, column {}: the chunk at offset {start} ({length} bytes) is not inside the file ({size} bytes)",
                    column.column_path()
                )));
            }
        }
    }
    Ok(())
}

/// [`file_stats`], with a panic turned into an error: arrow-ipc panics on some
/// corrupt Arrow schemas embedded in the footer (an unsupported integer width or
/// time unit, a missing field list) instead of returning an error, and a corrupt
/// file is bad input, not a crash. The scan decodes the same schema after this,
/// so a footer that passes here does not panic there.
fn file_stats_caught(metadata: &ParquetMetaData) -> Result<FooterStats, ParquetError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| file_stats(metadata))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(ParquetError::General(format!(
            "corrupt metadata (decoding it panicked: {message})"
        )))
    })
}

fn file_stats(metadata: &ParquetMetaData) -> Result<FooterStats, parquet::errors::ParquetError> {
    let file_metadata = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file_metadata.schema_descr(), file_metadata.key_value_metadata())?;
    let groups = metadata.row_groups();
    let mut columns = HashMap::new();
    for field in schema.fields() {
        let kind = ColumnKind::of(field.data_type());
        let Ok(converter) = StatisticsConverter::try_new(field.name(), &schema, file_metadata.schema_descr()) else {
            continue;
        };
        let nulls = converter.row_group_null_counts(groups)?;
        let nulls = (nulls.null_count() == 0).then(|| nulls.values().iter().sum());
        let (min, max) = if kind == ColumnKind::Other {
            (None, None)
        } else {
            let exact = converter.row_group_is_min_value_exact(groups)?.true_count() == groups.len()
                && converter.row_group_is_max_value_exact(groups)?.true_count() == groups.len();
            let mins = converter.row_group_mins(groups)?;
            let maxs = converter.row_group_maxes(groups)?;
            let complete = exact && mins.null_count() == 0 && maxs.null_count() == 0;
            if complete && !groups.is_empty() {
                (min_max(&mins, kind)?.0, min_max(&maxs, kind)?.1)
            } else {
                (None, None)
            }
        };
        columns.insert(field.name().clone(), ColumnFooter { nulls, min, max });
    }
    Ok(FooterStats {
        rows: file_metadata.num_rows().max(0) as u64,
        row_groups: groups.len(),
        columns,
    })
}

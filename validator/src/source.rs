//! Dataset resolution: a file, a glob (`*`, `?`, `[...]`) or a partition folder,
//! local or `s3://`, becomes the list of data files to scan. Folders are listed
//! recursively; hidden and marker files (`.crc`, `_SUCCESS`, names starting with
//! `.` or `_`) and files whose extension belongs to another format are skipped.
//! No matching file is an error naming the URI, so a missing dataset fails before
//! anything is scanned or published.

use object_store::ObjectMeta;

use crate::store::{Location, StoreConfig, StoreError};
use ade_api::v1alpha1::DatasetFormat;

/// The files of a dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub location: Location,
    pub files: Vec<ObjectMeta>,
    pub format: DatasetFormat,
}

impl Dataset {
    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Why a dataset could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dataset not found: no {format:?} file matches {uri:?}")]
    NotFound { uri: String, format: DatasetFormat },
    #[error("invalid glob {uri:?}: {reason}")]
    InvalidGlob { uri: String, reason: String },
}

/// Lists the files a dataset URI names.
pub async fn resolve(uri: &str, format: DatasetFormat, config: &StoreConfig) -> Result<Dataset, SourceError> {
    let not_found = || SourceError::NotFound {
        uri: uri.to_owned(),
        format,
    };
    let (base, pattern) = split_glob(uri);
    let location = Location::parse(&base, config)?;
    let files = if let Some(pattern) = pattern {
        let full = format!("{}/{}", location.path, pattern);
        let glob = glob::Pattern::new(&full).map_err(|e| SourceError::InvalidGlob {
            uri: uri.to_owned(),
            reason: e.to_string(),
        })?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        location
            .list()
            .await?
            .into_iter()
            .filter(|o| glob.matches_with(o.location.as_ref(), options) && is_data_file(relative(&location, o), format))
            .collect()
    } else if let Some(meta) = location.head().await? {
        vec![meta]
    } else {
        location
            .list()
            .await?
            .into_iter()
            .filter(|o| is_data_file(relative(&location, o), format))
            .collect()
    };
    let files: Vec<ObjectMeta> = files.into_iter().filter(|f| f.size > 0).collect();
    if files.is_empty() {
        return Err(not_found());
    }
    Ok(Dataset {
        location,
        files,
        format,
    })
}

/// The object's path below the listed location (hidden-file rules apply only there).
fn relative<'a>(location: &Location, object: &'a ObjectMeta) -> &'a str {
    let full = object.location.as_ref();
    full.strip_prefix(location.path.as_ref())
        .map_or(full, |rest| rest.trim_start_matches('/'))
}

/// Splits `dir/sub/*.parquet` into (`dir/sub`, `Some("*.parquet")`); a URI without glob characters has no pattern.
pub fn split_glob(uri: &str) -> (String, Option<String>) {
    let Some(first) = uri.find(['*', '?', '[']) else {
        return (uri.trim_end_matches('/').to_owned(), None);
    };
    let cut = uri[..first].rfind('/').map_or(0, |i| i + 1);
    let base = uri[..cut].trim_end_matches('/');
    (
        if base.is_empty() {
            ".".to_owned()
        } else {
            base.to_owned()
        },
        Some(uri[cut..].to_owned()),
    )
}

/// Whether a listed object is a data file of this format.
pub fn is_data_file(path: &str, format: DatasetFormat) -> bool {
    if path
        .split('/')
        .any(|part| part.starts_with('.') || part.starts_with('_'))
    {
        return false;
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let Some((_, ext)) = name.rsplit_once('.') else {
        // Spark-style part files often have no extension.
        return true;
    };
    match format {
        DatasetFormat::Parquet => matches!(ext, "parquet" | "parq" | "pq"),
        DatasetFormat::Csv => matches!(ext, "csv" | "txt"),
        DatasetFormat::Json => matches!(ext, "json" | "jsonl" | "ndjson"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_split_at_the_directory() {
        let cases = [
            ("/data/x.parquet", ("/data/x.parquet", None)),
            ("/data/dir/", ("/data/dir", None)),
            ("/data/*/part-*.parquet", ("/data", Some("*/part-*.parquet"))),
            ("s3://b/p/dt=2026-*/x", ("s3://b/p", Some("dt=2026-*/x"))),
            ("*.csv", (".", Some("*.csv"))),
        ];
        for (uri, (base, pattern)) in cases {
            assert_eq!(split_glob(uri), (base.to_owned(), pattern.map(str::to_owned)), "{uri}");
        }
    }

    #[test]
    fn data_files_by_format() {
        let cases = [
            ("a/part-0.snappy.parquet", DatasetFormat::Parquet, true),
            ("a/part-00000", DatasetFormat::Parquet, true),
            ("a/_SUCCESS", DatasetFormat::Parquet, false),
            ("a/.part-0.parquet.crc", DatasetFormat::Parquet, false),
            ("a/_temporary/x.parquet", DatasetFormat::Parquet, false),
            ("a/x.csv", DatasetFormat::Parquet, false),
            ("a/x.csv.gz", DatasetFormat::Csv, false),
            ("a/x.csv", DatasetFormat::Csv, true),
            ("a/x.jsonl", DatasetFormat::Json, true),
            ("a/x.json", DatasetFormat::Csv, false),
        ];
        for (path, format, want) in cases {
            assert_eq!(is_data_file(path, format), want, "{path}");
        }
    }
}

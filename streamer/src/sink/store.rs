//! Writing a batch's objects to the object store (object_store's S3 client,
//! configured from the standard `AWS_*` variables including
//! `AWS_ENDPOINT_URL[_S3]` and `AWS_ALLOW_HTTP`).

use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt, PutPayload, aws::AmazonS3Builder, memory::InMemory, path::Path};

use super::{
    DataRecord, DeadLetter, Entry, ObjectKind, catalog::SinkCatalog, encode, partition::PartitionTemplate, plan_objects,
};
use crate::config::{SinkConfig, SinkFormat};

/// A sink failure.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The URI cannot be used.
    #[error("sink URI {uri}: {message}")]
    Uri {
        /// The URI.
        uri: String,
        /// Why.
        message: String,
    },
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] encode::EncodeError),
    /// The put failed.
    #[error("writing {key}: {source}")]
    Put {
        /// The object's key.
        key: String,
        /// Why.
        source: object_store::Error,
    },
    /// Registering a partition in the catalog failed (nothing was put under it).
    #[error("registering the partition of {key} in the catalog: {source}")]
    Catalog {
        /// The object's key.
        key: String,
        /// Why.
        source: ade_catalog::CatalogError,
    },
}

/// A bucket and a key prefix.
#[derive(Debug, Clone)]
pub struct Location {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// Prefix inside it, without trailing `/`.
    pub prefix: String,
}

impl Location {
    /// `s3://bucket/prefix/` (or `memory://…`, a fresh in-memory store, for tests).
    pub fn parse(uri: &str, region: &str) -> Result<Self, SinkError> {
        let err = |message: &str| SinkError::Uri {
            uri: uri.to_owned(),
            message: message.to_owned(),
        };
        if let Some(rest) = uri.strip_prefix("memory://") {
            return Ok(Self {
                store: Arc::new(InMemory::new()),
                prefix: rest.trim_matches('/').to_owned(),
            });
        }
        let rest = uri.strip_prefix("s3://").ok_or_else(|| err("must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(err("has no bucket"));
        }
        let store = AmazonS3Builder::from_env()
            .with_region(region)
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| err(&e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }
}

/// Writes batches of one consumer.
#[derive(Debug, Clone)]
pub struct Sink {
    data: Location,
    dead: Location,
    template: PartitionTemplate,
    format: SinkFormat,
    catalog: Option<Arc<SinkCatalog>>,
}

/// What a flush wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Full object paths.
    pub objects: Vec<String>,
    /// Data records.
    pub records: usize,
    /// Dead letters.
    pub dead_letters: usize,
}

impl Sink {
    /// A sink for `config` in `region`.
    pub fn new(config: &SinkConfig, region: &str) -> Result<Self, SinkError> {
        Ok(Self {
            data: Location::parse(&config.uri, region)?,
            dead: Location::parse(&config.dead_letter_uri(), region)?,
            template: PartitionTemplate::parse(&config.partition_by).map_err(|message| SinkError::Uri {
                uri: config.uri.clone(),
                message,
            })?,
            format: config.format,
            catalog: None,
        })
    }

    /// The same sink, registering each data partition in `catalog` before
    /// its first object is put.
    #[must_use]
    pub fn with_catalog(mut self, catalog: SinkCatalog) -> Self {
        self.catalog = Some(Arc::new(catalog));
        self
    }

    /// A sink on given locations (tests).
    pub fn with_locations(data: Location, dead: Location, template: PartitionTemplate, format: SinkFormat) -> Self {
        Self {
            data,
            dead,
            template,
            format,
            catalog: None,
        }
    }

    /// Encodes and puts every object of `batch`. Returns once all are
    /// durably written; any failure fails the whole flush (nothing is
    /// checkpointed, and a retry rewrites the same objects).
    pub async fn write(&self, shard: &str, batch: &[Entry]) -> Result<Written, SinkError> {
        let mut written = Written::default();
        for object in plan_objects(shard, batch, &self.template, self.format) {
            let (location, body) = match object.kind {
                ObjectKind::Data => {
                    let records: Vec<&DataRecord> = object
                        .entries
                        .iter()
                        .filter_map(|&i| match &batch[i] {
                            Entry::Data(d) => Some(d),
                            Entry::Dead(_) => None,
                        })
                        .collect();
                    written.records += records.len();
                    if let Some(catalog) = &self.catalog {
                        catalog
                            .ensure(&object.partition, object.arrival_ms, shard)
                            .await
                            .map_err(|source| SinkError::Catalog {
                                key: object.key.clone(),
                                source,
                            })?;
                    }
                    let body = match self.format {
                        SinkFormat::Parquet => encode::parquet(shard, &records)?,
                        SinkFormat::Json => encode::json_lines(shard, &records),
                    };
                    (&self.data, body)
                }
                ObjectKind::DeadLetter => {
                    let letters: Vec<&DeadLetter> = object
                        .entries
                        .iter()
                        .filter_map(|&i| match &batch[i] {
                            Entry::Dead(d) => Some(d),
                            Entry::Data(_) => None,
                        })
                        .collect();
                    written.dead_letters += letters.len();
                    (&self.dead, encode::dead_letters(shard, &letters))
                }
            };
            let path = location.path(&object.key);
            location
                .store
                .put(&path, PutPayload::from(body))
                .await
                .map_err(|source| SinkError::Put {
                    key: path.to_string(),
                    source,
                })?;
            written.objects.push(path.to_string());
        }
        Ok(written)
    }
}

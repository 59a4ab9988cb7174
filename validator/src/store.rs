//! Object-store locations: turns a local path or `s3://bucket/prefix` into an
//! `ObjectStore` plus a path inside it, and reads, writes and lists objects there.
//! S3 settings come from the standard AWS environment variables (static
//! credentials, `AWS_REGION`, `AWS_ENDPOINT_URL`), with `--s3-endpoint` taking
//! precedence; plain-http endpoints (emulators) are allowed.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

/// How to reach S3.
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    /// Endpoint override, e.g. `http://127.0.0.1:5000`; else `AWS_ENDPOINT_URL` or AWS itself.
    pub s3_endpoint: Option<String>,
}

/// Why a location could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid location {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("cannot configure S3 for {uri:?}: {source}")]
    ConfigureS3 { uri: String, source: object_store::Error },
    #[error("cannot read {uri}: {source}")]
    Read { uri: String, source: object_store::Error },
    #[error("cannot write {uri}: {source}")]
    Write { uri: String, source: object_store::Error },
    #[error("cannot list {uri}: {source}")]
    List { uri: String, source: object_store::Error },
}

/// A store and a path inside it.
#[derive(Clone, Debug)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// `s3://bucket/` or `file:///`: what DataFusion registers the store under.
    pub store_url: Url,
    /// The path inside the store (a key or a prefix, no leading slash).
    pub path: Path,
    /// The URI as given, for messages.
    pub uri: String,
}

impl Location {
    /// Resolves a local path (absolute or relative, or `file://`) or an `s3://` URI.
    pub fn parse(uri: &str, config: &StoreConfig) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUri {
            uri: uri.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket"));
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &config.s3_endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
                builder = builder.with_region("us-east-1");
            }
            let store = builder
                .with_allow_http(true)
                .build()
                .map_err(|source| StoreError::ConfigureS3 {
                    uri: uri.to_owned(),
                    source,
                })?;
            let store_url = Url::parse(&format!("s3://{bucket}/")).map_err(|e| invalid(&e.to_string()))?;
            let path = Path::parse(key.trim_end_matches('/')).map_err(|e| invalid(&e.to_string()))?;
            return Ok(Self {
                store: Arc::new(store),
                store_url,
                path,
                uri: uri.to_owned(),
            });
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(invalid("use a local path or s3://bucket/prefix"));
        }
        let local = uri.strip_prefix("file://").unwrap_or(uri);
        if local.is_empty() {
            return Err(invalid("empty path"));
        }
        let absolute = std::path::absolute(local).map_err(|e| invalid(&e.to_string()))?;
        let path = Path::from_absolute_path(&absolute).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new()),
            store_url: Url::parse("file:///").map_err(|e| invalid(&e.to_string()))?,
            path,
            uri: uri.to_owned(),
        })
    }

    /// A location below this one.
    pub fn child(&self, relative: &str) -> Self {
        let mut path = self.path.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        Self {
            store: self.store.clone(),
            store_url: self.store_url.clone(),
            uri: format!("{}/{}", self.uri.trim_end_matches('/'), relative),
            path,
        }
    }

    /// The full URI of an object of this store (`s3://bucket/key` or `/abs/path`).
    pub fn uri_of(&self, path: &Path) -> String {
        if self.store_url.scheme() == "s3" {
            format!("{}{}", self.store_url, path)
        } else {
            format!("/{path}")
        }
    }

    /// Writes the object at this location (a whole-object put: readers see the old or the new one).
    pub async fn put(&self, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store
            .put(&self.path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| StoreError::Write {
                uri: self.uri.clone(),
                source,
            })
    }

    /// Reads the object at this location; `Ok(None)` if there is none.
    pub async fn get(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&self.path).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(|source| StoreError::Read {
                    uri: self.uri.clone(),
                    source,
                })?;
                Ok(Some(bytes.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(StoreError::Read {
                uri: self.uri.clone(),
                source,
            }),
        }
    }

    /// The object at exactly this path, if there is one.
    pub async fn head(&self) -> Result<Option<ObjectMeta>, StoreError> {
        match self.store.head(&self.path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // A directory: LocalFileSystem reports it as not-a-file.
            Err(object_store::Error::Generic { .. }) if self.store_url.scheme() == "file" => Ok(None),
            Err(source) => Err(StoreError::Read {
                uri: self.uri.clone(),
                source,
            }),
        }
    }

    /// Every object under this prefix (recursively); none if the prefix does not exist.
    pub async fn list(&self) -> Result<Vec<ObjectMeta>, StoreError> {
        let prefix = (!self.path.as_ref().is_empty()).then_some(&self.path);
        match self.store.list(prefix).try_collect::<Vec<_>>().await {
            Ok(mut objects) => {
                objects.sort_by(|a, b| a.location.cmp(&b.location));
                Ok(objects)
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(source) => Err(StoreError::List {
                uri: self.uri.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let config = StoreConfig::default();
        let s3 = Location::parse("s3://bucket/a/b/", &config).unwrap();
        assert_eq!((s3.store_url.as_str(), s3.path.as_ref()), ("s3://bucket/", "a/b"));
        assert_eq!(
            s3.child("suite=x/batch=1/metrics.json").path.as_ref(),
            "a/b/suite=x/batch=1/metrics.json"
        );
        assert_eq!(s3.uri_of(&s3.path), "s3://bucket/a/b");
        let local = Location::parse("/tmp/x/y", &config).unwrap();
        assert_eq!((local.store_url.as_str(), local.path.as_ref()), ("file:///", "tmp/x/y"));
        assert_eq!(local.uri_of(&local.path), "/tmp/x/y");
        for bad in ["s3://", "http://host/x", ""] {
            assert!(Location::parse(bad, &config).is_err(), "{bad}");
        }
    }
}

//! Stream partitions in the Glue Data Catalog (`sink.catalog`): the first
//! time this process writes a data object under a partition prefix, the
//! prefix is registered (`ade_catalog::register`, which creates or updates,
//! so other pods and replays land on the same partition), before the object
//! is put and so before any checkpoint covers it. A failure fails the flush,
//! which is retried: nothing is checkpointed that readers cannot find.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use ade_api::v1alpha1::CatalogPartition;
use ade_catalog::{Catalog, CatalogError, Partition, Registered};
use futures::{FutureExt, future::BoxFuture};

use super::partition::PartitionTemplate;

/// The catalog a sink registers its partitions in.
pub struct SinkCatalog {
    catalog: Arc<dyn Catalog>,
    region: String,
    database: String,
    table: String,
    /// Partition key → its value's template.
    values: Vec<(String, PartitionTemplate)>,
    /// The sink's URI without its trailing `/`.
    base: String,
    /// Locations this process registered.
    registered: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for SinkCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkCatalog")
            .field("table", &format!("{}.{}", self.database, self.table))
            .finish_non_exhaustive()
    }
}

impl SinkCatalog {
    /// The catalog of a sink at `sink_uri` described by `config`, in
    /// `default_region` unless it names one; an unknown variable in a value is an error.
    pub fn new(
        config: &CatalogPartition,
        sink_uri: &str,
        default_region: &str,
        catalog: Arc<dyn Catalog>,
    ) -> Result<Self, String> {
        let values = config
            .partition
            .iter()
            .map(|(key, value)| {
                PartitionTemplate::parse(value)
                    .map(|t| (key.clone(), t))
                    .map_err(|e| format!("sink.catalog.partition.{key}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            catalog,
            region: config.region.clone().unwrap_or_else(|| default_region.to_owned()),
            database: config.database.clone(),
            table: config.table.clone(),
            values,
            base: sink_uri.trim_end_matches('/').to_owned(),
            registered: Mutex::default(),
        })
    }

    /// The catalog partition of the data under `prefix`, whose first record
    /// arrived at `arrival_ms` on `shard`.
    pub fn partition(&self, prefix: &str, arrival_ms: i64, shard: &str) -> Partition {
        let location = if prefix.is_empty() {
            format!("{}/", self.base)
        } else {
            format!("{}/{prefix}/", self.base)
        };
        Partition {
            region: self.region.clone(),
            database: self.database.clone(),
            table: self.table.clone(),
            values: self
                .values
                .iter()
                .map(|(key, template)| (key.clone(), template.render(arrival_ms, shard)))
                .collect(),
            location,
        }
    }

    /// Registers the partition of `prefix` unless this process did already.
    pub async fn ensure(&self, prefix: &str, arrival_ms: i64, shard: &str) -> Result<(), CatalogError> {
        let partition = self.partition(prefix, arrival_ms, shard);
        if self.done().contains(&partition.location) {
            return Ok(());
        }
        let registered = self.catalog.register(&partition).await?;
        tracing::info!(
            location = %partition.location,
            table = %partition.table_name(),
            created = registered == Registered::Created,
            "partition registered in the catalog"
        );
        self.done().insert(partition.location);
        Ok(())
    }

    fn done(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The Glue Data Catalog through one client (the catalog's region).
#[derive(Debug, Clone)]
pub struct GlueCatalog(aws_sdk_glue::Client);

impl GlueCatalog {
    /// A client of `region` from the shared AWS configuration (credentials
    /// from the default chain, `AWS_ENDPOINT_URL` for emulators).
    pub fn new(aws: &aws_config::SdkConfig, region: &str) -> Self {
        Self(aws_sdk_glue::Client::from_conf(
            aws_sdk_glue::config::Builder::from(aws)
                .region(aws_sdk_glue::config::Region::new(region.to_owned()))
                .build(),
        ))
    }
}

impl Catalog for GlueCatalog {
    fn register<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<Registered, CatalogError>> {
        ade_catalog::register(&self.0, partition).boxed()
    }

    fn remove<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<bool, CatalogError>> {
        ade_catalog::remove(&self.0, partition).boxed()
    }
}

#[cfg(test)]
mod tests {
    use ade_catalog::MemoryCatalog;

    use super::*;

    fn config() -> CatalogPartition {
        CatalogPartition {
            database: "lake".into(),
            table: "app_events".into(),
            partition: [("dt", "{{date}}"), ("hour", "{{hour}}")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            region: None,
        }
    }

    fn at(ts: &str) -> i64 {
        ts.parse::<jiff::Timestamp>().expect("ts").as_millisecond()
    }

    #[tokio::test]
    async fn each_prefix_is_registered_once_per_process() {
        let memory = Arc::new(MemoryCatalog::default());
        memory.create_table("lake", "app_events", &["dt", "hour"]);
        let sink =
            SinkCatalog::new(&config(), "s3://lake/raw/app_events/", "eu-west-1", memory.clone()).expect("valid");
        let p = sink.partition("dt=2026-11-26/hour=08", at("2026-11-26T08:05:00Z"), "shardId-0");
        assert_eq!(p.location, "s3://lake/raw/app_events/dt=2026-11-26/hour=08/");
        assert_eq!(p.region, "eu-west-1");
        assert_eq!(p.values.values().collect::<Vec<_>>(), ["2026-11-26", "08"], "dt, hour");
        for minute in ["05", "06", "59"] {
            let arrival = at(&format!("2026-11-26T08:{minute}:00Z"));
            sink.ensure("dt=2026-11-26/hour=08", arrival, "shardId-0")
                .await
                .expect("registered");
        }
        sink.ensure("dt=2026-11-26/hour=09", at("2026-11-26T09:00:00Z"), "shardId-1")
            .await
            .expect("registered");
        assert_eq!(memory.calls().len(), 2, "{:?}", memory.calls());
        assert_eq!(memory.partitions("lake", "app_events").len(), 2);
    }

    #[tokio::test]
    async fn a_failure_is_returned_and_tried_again() {
        let memory = Arc::new(MemoryCatalog::default());
        let sink = SinkCatalog::new(&config(), "s3://lake/raw/", "us-east-1", memory.clone()).expect("valid");
        let arrival = at("2026-11-26T08:05:00Z");
        let missing = sink
            .ensure("dt=2026-11-26/hour=08", arrival, "s")
            .await
            .expect_err("no table");
        assert_eq!(missing.kind, ade_catalog::ErrorKind::TableNotFound);
        memory.create_table("lake", "app_events", &["dt", "hour"]);
        sink.ensure("dt=2026-11-26/hour=08", arrival, "s").await.expect("now");
        assert_eq!(memory.partitions("lake", "app_events").len(), 1);
        let bad = CatalogPartition {
            partition: [("dt".to_owned(), "{{day}}".to_owned())].into(),
            ..config()
        };
        let e = SinkCatalog::new(&bad, "s3://lake/raw/", "us-east-1", memory).expect_err("unknown variable");
        assert!(e.contains("sink.catalog.partition.dt"), "{e}");
    }
}

//! The Glue Data Catalog the EtlJob controller registers batches in: the
//! calls `ade_catalog` writes once for the operator and `ade-stream`, over one
//! Glue client per region (credentials from the default chain, the endpoint
//! overridable for emulators: `--aws-endpoint-url`).

use ade_catalog::{Catalog, CatalogError, Partition, Registered};
use aws_sdk_glue::Client;
use futures::{FutureExt, future::BoxFuture};

/// See the module's doc.
#[derive(Debug)]
pub struct AwsCatalog {
    clients: crate::aws::Regional<Client>,
}

impl AwsCatalog {
    /// Nothing is loaded until the first call.
    pub fn new(endpoint: Option<String>) -> Self {
        Self {
            clients: crate::aws::Regional::new(endpoint, None),
        }
    }

    /// Fixed credentials instead of the default chain: for emulators and tests.
    pub fn with_static_credentials(endpoint: Option<String>, access_key: &str, secret_key: &str) -> Self {
        Self {
            clients: crate::aws::Regional::with_static_credentials(endpoint, access_key, secret_key),
        }
    }

    async fn client(&self, region: &str) -> Client {
        self.clients
            .get(region, |base, region| {
                Client::from_conf(
                    aws_sdk_glue::config::Builder::from(base)
                        .region(aws_sdk_glue::config::Region::new(region))
                        .build(),
                )
            })
            .await
    }
}

impl Catalog for AwsCatalog {
    fn register<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<Registered, CatalogError>> {
        async move { ade_catalog::register(&self.client(&partition.region).await, partition).await }.boxed()
    }

    fn remove<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<bool, CatalogError>> {
        async move { ade_catalog::remove(&self.client(&partition.region).await, partition).await }.boxed()
    }
}

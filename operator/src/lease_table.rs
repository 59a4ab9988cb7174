//! The DynamoDB lease table of a StreamConsumer with `checkpoint.store:
//! dynamodb`, read the way the operator reads Kubernetes Leases: every item,
//! as attribute name → text (numbers as their decimal text). What the items
//! mean is `ade_api::lease::table`; turning them into the consumer's status is
//! the StreamConsumer controller's. The SDK types stay in this module.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::{Client, error::ProvideErrorMetadata, types::AttributeValue};
use futures::{FutureExt, future::BoxFuture};

/// One item of the table, attribute name → text.
pub type Item = BTreeMap<String, String>;

/// Why the table could not be read, in words a person can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading the DynamoDB lease table {table} in {region}: {message}")]
pub struct TableError {
    /// The table.
    pub table: String,
    /// Its region.
    pub region: String,
    /// What AWS said, or why it could not be reached.
    pub message: String,
    /// A bounded category: `not-found`, `access-denied`, `throttled`, `aws-api`, `aws-unreachable`.
    pub category: &'static str,
}

/// Reads lease tables.
pub trait LeaseTable: Send + Sync {
    /// Every item of `table` in `region` (a `Scan`, every page).
    fn items<'a>(&'a self, region: &'a str, table: &'a str) -> BoxFuture<'a, Result<Vec<Item>, TableError>>;
}

/// The real DynamoDB: credentials from the default chain, the endpoint
/// overridable for emulators (the operator's `--aws-endpoint-url`).
#[derive(Debug)]
pub struct AwsLeaseTable {
    clients: crate::aws::Regional<Client>,
}

impl AwsLeaseTable {
    /// Nothing is loaded until the first read.
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
                    aws_sdk_dynamodb::config::Builder::from(base)
                        .region(aws_sdk_dynamodb::config::Region::new(region))
                        .build(),
                )
            })
            .await
    }

    async fn scan(&self, region: &str, table: &str) -> Result<Vec<Item>, TableError> {
        let client = self.client(region).await;
        let error = |message: String, category| TableError {
            table: table.to_owned(),
            region: region.to_owned(),
            message,
            category,
        };
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| {
                    let category = match e.code() {
                        Some("ResourceNotFoundException") => "not-found",
                        Some("AccessDeniedException") => "access-denied",
                        Some("ThrottlingException" | "ProvisionedThroughputExceededException") => "throttled",
                        Some(_) => "aws-api",
                        None => "aws-unreachable",
                    };
                    let said = match (e.code(), e.message()) {
                        (Some(code), Some(message)) => format!("AWS answered {code}: {message}"),
                        (Some(code), None) => format!("AWS answered {code}"),
                        _ => format!(
                            "AWS could not be reached: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                        ),
                    };
                    error(said, category)
                })?;
            out.extend(page.items().iter().map(text_item));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(out),
            }
        }
    }
}

/// An item's string and number attributes as text; other types are skipped.
fn text_item(item: &std::collections::HashMap<String, AttributeValue>) -> Item {
    item.iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) | AttributeValue::N(s) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

impl LeaseTable for AwsLeaseTable {
    fn items<'a>(&'a self, region: &'a str, table: &'a str) -> BoxFuture<'a, Result<Vec<Item>, TableError>> {
        self.scan(region, table).boxed()
    }
}

/// Lease tables in memory: for callers and tests without AWS.
#[derive(Debug, Default)]
pub struct MemoryLeaseTable(std::sync::Mutex<BTreeMap<String, Vec<Item>>>);

impl MemoryLeaseTable {
    /// Replaces the items of `table`.
    pub fn put(&self, table: &str, items: Vec<Item>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(table.to_owned(), items);
    }
}

impl LeaseTable for MemoryLeaseTable {
    fn items<'a>(&'a self, region: &'a str, table: &'a str) -> BoxFuture<'a, Result<Vec<Item>, TableError>> {
        let found = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(table).cloned();
        let answer = found.ok_or_else(|| TableError {
            table: table.to_owned(),
            region: region.to_owned(),
            message: "AWS answered ResourceNotFoundException: Requested resource not found".to_owned(),
            category: "not-found",
        });
        futures::future::ready(answer).boxed()
    }
}

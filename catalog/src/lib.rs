//! Partitions in the AWS Glue Data Catalog, written once for both writers:
//! the operator registers an EtlJob's batch once it is final (and removes a
//! batch a quality gate quarantined), `ade-stream` registers each partition
//! prefix it writes before it checkpoints the first object under it.
//!
//! A registration is idempotent. [`register`] reads the table (its partition
//! keys and storage descriptor), then `BatchCreatePartition`; a partition
//! that exists already is replaced with `UpdatePartition` when its location
//! differs (a rerun) and left alone when it does not. A call retried after
//! its answer was lost therefore lands on the same partition, never on two.
//! [`remove`] is `DeletePartition`; a partition that is not there is no error.
//!
//! The SDK calls are in [`glue`]; what to send is decided here, purely.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

pub mod glue;
mod memory;

pub use memory::MemoryCatalog;

/// One partition of one table, as the writer means it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Region of the catalog.
    pub region: String,
    /// Glue database.
    pub database: String,
    /// Table in the database.
    pub table: String,
    /// Partition column → value. Every partition key of the table must have
    /// exactly one value; the order Glue wants is the table's.
    pub values: BTreeMap<String, String>,
    /// Where the partition's objects are, e.g. `s3://lake/orders/batch=2026-11-25T13/`.
    pub location: String,
}

impl Partition {
    /// `database.table`, as messages name it.
    pub fn table_name(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }
}

/// What [`register`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// The partition was new.
    Created,
    /// It existed (a rerun, a retried call): replaced with this location and
    /// the table's current storage descriptor.
    Updated,
}

/// Why a call failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CatalogError {
    /// What kind of failure: decides whether retrying can help.
    pub kind: ErrorKind,
    /// What happened, naming the table.
    pub message: String,
}

/// Kinds of [`CatalogError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The database or the table does not exist: a person must create it.
    TableNotFound,
    /// The partition values do not name the table's partition keys.
    KeysMismatch,
    /// Access denied: the credentials lack a Glue permission.
    AccessDenied,
    /// Throttled, an AWS error or AWS unreachable: retrying may help.
    Transient,
}

impl ErrorKind {
    /// The reason a condition names, e.g. `CatalogTableNotFound`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TableNotFound => "CatalogTableNotFound",
            Self::KeysMismatch => "CatalogPartitionKeysMismatch",
            Self::AccessDenied => "CatalogAccessDenied",
            Self::Transient => "CatalogUnavailable",
        }
    }

    /// Whether the same call may succeed later without a person acting.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Transient)
    }
}

/// A partition catalog: Glue, or memory in tests.
pub trait Catalog: Send + Sync {
    /// Makes `partition` exist with its location (see [`register`]).
    fn register<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<Registered, CatalogError>>;
    /// Makes `partition` not exist; true when it existed.
    fn remove<'a>(&'a self, partition: &'a Partition) -> BoxFuture<'a, Result<bool, CatalogError>>;
}

/// `values` in the order of the table's partition `keys`, or why they do not fit.
pub fn ordered_values(
    table: &str,
    keys: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, CatalogError> {
    let mismatch = |what: String| CatalogError {
        kind: ErrorKind::KeysMismatch,
        message: format!(
            "table {table} is partitioned by [{}], {what}: name exactly its partition keys in catalog.partition",
            keys.join(", ")
        ),
    };
    if keys.is_empty() {
        return Err(mismatch("no key at all".to_owned()));
    }
    let unknown: Vec<&str> = values
        .keys()
        .filter(|k| !keys.contains(k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(mismatch(format!("not by [{}]", unknown.join(", "))));
    }
    keys.iter()
        .map(|k| {
            values
                .get(k)
                .cloned()
                .ok_or_else(|| mismatch(format!("and no value is given for {k}")))
        })
        .collect()
}

/// Registers `partition` through the Glue client `client` (see the module's doc).
pub async fn register(client: &aws_sdk_glue::Client, partition: &Partition) -> Result<Registered, CatalogError> {
    glue::register(client, partition).await
}

/// Deletes `partition` through `client`; true when it existed.
pub async fn remove(client: &aws_sdk_glue::Client, partition: &Partition) -> Result<bool, CatalogError> {
    glue::remove(client, partition).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn values_follow_the_tables_key_order_or_say_what_does_not_fit() {
        let keys = ["dt".to_owned(), "hour".to_owned()];
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a [&'a str], &'a str>);
        let cases: &[Case] = &[
            (&[("hour", "13"), ("dt", "2026-11-25")], Ok(&["2026-11-25", "13"])),
            (&[("dt", "2026-11-25")], Err("no value is given for hour")),
            (
                &[("dt", "2026-11-25"), ("hour", "13"), ("minute", "05")],
                Err("not by [minute]"),
            ),
        ];
        for (given, want) in cases {
            let got = ordered_values("lake.events", &keys, &values(given));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want),
                (Err(e), Err(want)) => {
                    assert_eq!(e.kind, ErrorKind::KeysMismatch);
                    assert!(e.message.contains(want), "{}", e.message);
                    assert!(e.message.contains("[dt, hour]"), "{}", e.message);
                }
                (got, want) => panic!("{given:?}: got {got:?}, want {want:?}"),
            }
        }
        let unpartitioned = ordered_values("lake.dim", &[], &values(&[("dt", "x")])).expect_err("no keys");
        assert!(
            unpartitioned.message.contains("no key at all"),
            "{}",
            unpartitioned.message
        );
    }

    #[test]
    fn every_kind_has_a_reason_and_only_transient_ones_retry() {
        let kinds = [
            ErrorKind::TableNotFound,
            ErrorKind::KeysMismatch,
            ErrorKind::AccessDenied,
            ErrorKind::Transient,
        ];
        let reasons: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.reason()).collect();
        assert_eq!(reasons.len(), kinds.len());
        assert_eq!(
            kinds.iter().filter(|k| k.is_transient()).count(),
            1,
            "only AWS being unavailable retries by itself"
        );
    }
}

//! A catalog in memory with Glue's rules (a table must exist, values must
//! name its partition keys, a partition exists once): for the writers' unit
//! and scenario tests.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
};

use futures::{FutureExt, future::BoxFuture};

use crate::{Catalog, CatalogError, ErrorKind, Partition, Registered, ordered_values};

type TableKey = (String, String);

#[derive(Debug, Default)]
struct State {
    /// (database, table) → partition keys.
    tables: BTreeMap<TableKey, Vec<String>>,
    /// (database, table) → values → location.
    partitions: BTreeMap<TableKey, BTreeMap<Vec<String>, String>>,
    /// Calls that reached the catalog, e.g. `register lake.orders [2026-11-25T13]`.
    calls: Vec<String>,
    /// Calls to refuse next, as AWS being unavailable.
    unavailable: usize,
}

/// See the module's doc.
#[derive(Debug, Default)]
pub struct MemoryCatalog(Mutex<State>);

impl MemoryCatalog {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `database.table` partitioned by `keys`.
    pub fn create_table(&self, database: &str, table: &str, keys: &[&str]) {
        self.state().tables.insert(
            (database.to_owned(), table.to_owned()),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        );
    }

    /// The partitions of `database.table`: values (in key order) → location.
    pub fn partitions(&self, database: &str, table: &str) -> BTreeMap<Vec<String>, String> {
        self.state()
            .partitions
            .get(&(database.to_owned(), table.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// Every call so far, e.g. `register lake.orders [2026-11-25T13]`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// The next `n` calls fail as if AWS were unavailable.
    pub fn fail_next(&self, n: usize) {
        self.state().unavailable = n;
    }

    fn call(&self, verb: &str, p: &Partition) -> Result<(TableKey, Option<Vec<String>>), CatalogError> {
        let mut state = self.state();
        let key = (p.database.clone(), p.table.clone());
        let shown: Vec<&str> = p.values.values().map(String::as_str).collect();
        state
            .calls
            .push(format!("{verb} {} [{}]", p.table_name(), shown.join(", ")));
        if state.unavailable > 0 {
            state.unavailable -= 1;
            return Err(CatalogError {
                kind: ErrorKind::Transient,
                message: format!("{verb} {}: AWS answered ServiceUnavailable", p.table_name()),
            });
        }
        let values = match state.tables.get(&key) {
            Some(keys) => Some(ordered_values(&p.table_name(), keys, &p.values)?),
            None => None,
        };
        Ok((key, values))
    }
}

impl Catalog for MemoryCatalog {
    fn register<'a>(&'a self, p: &'a Partition) -> BoxFuture<'a, Result<Registered, CatalogError>> {
        let answer = self.call("register", p).and_then(|(key, values)| {
            let values = values.ok_or_else(|| CatalogError {
                kind: ErrorKind::TableNotFound,
                message: format!("the Glue table {} does not exist in {}", p.table_name(), p.region),
            })?;
            let mut state = self.state();
            let had = state
                .partitions
                .entry(key)
                .or_default()
                .insert(values, p.location.clone());
            Ok(if had.is_some() {
                Registered::Updated
            } else {
                Registered::Created
            })
        });
        futures::future::ready(answer).boxed()
    }

    fn remove<'a>(&'a self, p: &'a Partition) -> BoxFuture<'a, Result<bool, CatalogError>> {
        let answer = self.call("remove", p).map(|(key, values)| {
            let mut state = self.state();
            values.is_some_and(|values| {
                state
                    .partitions
                    .get_mut(&key)
                    .is_some_and(|parts| parts.remove(&values).is_some())
            })
        });
        futures::future::ready(answer).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(batch: &str, location: &str) -> Partition {
        Partition {
            region: "us-east-1".into(),
            database: "lake".into(),
            table: "orders".into(),
            values: [("batch".to_owned(), batch.to_owned())].into(),
            location: location.into(),
        }
    }

    #[tokio::test]
    async fn it_keeps_glues_rules() {
        let catalog = MemoryCatalog::default();
        let p = partition("b1", "s3://lake/orders/batch=b1/");
        let missing = catalog.register(&p).await.expect_err("no table yet");
        assert_eq!(missing.kind, ErrorKind::TableNotFound);
        assert!(!catalog.remove(&p).await.expect("nothing to remove"));
        catalog.create_table("lake", "orders", &["batch"]);
        assert_eq!(catalog.register(&p).await, Ok(Registered::Created));
        assert_eq!(
            catalog.register(&p).await,
            Ok(Registered::Updated),
            "once, however often"
        );
        assert_eq!(catalog.partitions("lake", "orders").len(), 1);
        catalog.fail_next(1);
        assert!(catalog.remove(&p).await.expect_err("unavailable").kind.is_transient());
        assert!(catalog.remove(&p).await.expect("removed"));
        assert!(catalog.partitions("lake", "orders").is_empty());
        assert_eq!(catalog.calls().len(), 6);
    }
}

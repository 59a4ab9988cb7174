//! The alternative [`LeaseStore`] for very large streams: a DynamoDB table
//! keyed by `leaseKey` (the shard id; `worker#<id>` for worker heartbeats),
//! with the same fields as the Kubernetes Leases as attributes. Every write
//! of an existing item is conditional on its `leaseCounter`, which each write
//! increments (the KCL's scheme).

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};

use super::{Checkpoint, PendingFlush, ShardLease, StoreError, WorkerLease, store::LeaseStore};

// The contract with the operator, written once in ade-api.
use ade_api::lease::{
    KIND_SHARD, KIND_WORKER, table,
    table::{COUNTER, KEY, WORKER_PREFIX},
};

type Item = HashMap<String, AttributeValue>;

/// Leases of one consumer in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn backend<E: ProvideErrorMetadata + std::fmt::Debug>(call: &str, e: &SdkError<E>) -> StoreError {
    let detail = e
        .as_service_error()
        .and_then(|s| s.message().map(str::to_owned))
        .unwrap_or_else(|| format!("{e:?}"));
    StoreError::Backend(format!("DynamoDB {call}: {detail}"))
}

fn conditional_failed<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.code() == Some("ConditionalCheckFailedException"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}
fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> Option<T> {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn shard_item(l: &ShardLease, counter: u64) -> Item {
    let mut item = Item::new();
    item.insert(KEY.into(), s(&l.shard_id));
    item.insert(COUNTER.into(), n(counter));
    item.insert(table::KIND.into(), s(KIND_SHARD));
    item.insert(table::PARENT_SHARDS.into(), s(l.parents.join(",")));
    item.insert(table::DURATION_SECONDS.into(), n(l.duration_secs));
    item.insert(table::TRANSITIONS.into(), n(l.transitions));
    let optional = [
        (table::HOLDER, l.owner.clone().filter(|o| !o.is_empty())),
        (table::RENEW_TIME, l.renew_time.map(|t| t.to_string())),
        (table::ACQUIRE_TIME, l.acquire_time.map(|t| t.to_string())),
        (table::CHECKPOINT, l.checkpoint.as_ref().map(|c| c.as_str().to_owned())),
        (table::PENDING_FLUSH, l.pending.as_ref().map(PendingFlush::encode)),
        (table::LAST_FLUSH, l.last_flush.map(|t| t.to_string())),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            item.insert(k.into(), s(v));
        }
    }
    if let Some(m) = l.millis_behind_latest {
        item.insert(table::MILLIS_BEHIND.into(), n(m));
    }
    if let Some(r) = l.records_per_second {
        item.insert(table::RECORDS_PER_SECOND.into(), n(format!("{r:.3}")));
    }
    item
}

fn shard_from_item(item: &Item) -> Option<ShardLease> {
    if get_s(item, table::KIND) != Some(KIND_SHARD) {
        return None;
    }
    Some(ShardLease {
        shard_id: get_s(item, KEY)?.to_owned(),
        parents: get_s(item, table::PARENT_SHARDS)
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        owner: get_s(item, table::HOLDER).map(str::to_owned),
        duration_secs: get_n(item, table::DURATION_SECONDS).unwrap_or(0),
        renew_time: get_s(item, table::RENEW_TIME).and_then(|t| t.parse().ok()),
        acquire_time: get_s(item, table::ACQUIRE_TIME).and_then(|t| t.parse().ok()),
        transitions: get_n(item, table::TRANSITIONS).unwrap_or(0),
        checkpoint: get_s(item, table::CHECKPOINT).and_then(Checkpoint::parse),
        pending: get_s(item, table::PENDING_FLUSH).and_then(PendingFlush::decode),
        millis_behind_latest: get_n(item, table::MILLIS_BEHIND),
        records_per_second: get_n(item, table::RECORDS_PER_SECOND),
        last_flush: get_s(item, table::LAST_FLUSH).and_then(|t| t.parse().ok()),
        version: get_n::<u64>(item, COUNTER)?.to_string(),
    })
}

fn worker_item(w: &WorkerLease, counter: u64) -> Item {
    let mut item = Item::new();
    item.insert(KEY.into(), s(format!("{WORKER_PREFIX}{}", w.worker_id)));
    item.insert(COUNTER.into(), n(counter));
    item.insert(table::KIND.into(), s(KIND_WORKER));
    item.insert(table::HOLDER.into(), s(&w.worker_id));
    item.insert(table::DURATION_SECONDS.into(), n(w.duration_secs));
    if let Some(t) = w.renew_time {
        item.insert(table::RENEW_TIME.into(), s(t.to_string()));
    }
    if let Some(o) = w.open_shards {
        item.insert(table::OPEN_SHARDS.into(), n(o));
    }
    if let Some((reason, message)) = &w.error {
        item.insert(table::ERROR_REASON.into(), s(reason));
        item.insert(table::ERROR_MESSAGE.into(), s(message));
    }
    item
}

fn worker_from_item(item: &Item) -> Option<WorkerLease> {
    if get_s(item, table::KIND) != Some(KIND_WORKER) {
        return None;
    }
    Some(WorkerLease {
        worker_id: get_s(item, table::HOLDER)?.to_owned(),
        duration_secs: get_n(item, table::DURATION_SECONDS).unwrap_or(0),
        renew_time: get_s(item, table::RENEW_TIME).and_then(|t| t.parse().ok()),
        open_shards: get_n(item, table::OPEN_SHARDS),
        error: get_s(item, table::ERROR_REASON)
            .map(|r| (r.to_owned(), get_s(item, table::ERROR_MESSAGE).unwrap_or("").to_owned())),
        version: get_n::<u64>(item, COUNTER)?.to_string(),
    })
}

impl DynamoStore {
    /// A store on `table`, created (on-demand billing) if it does not exist.
    pub async fn connect(config: &aws_config::SdkConfig, table: &str) -> Result<Self, StoreError> {
        let store = Self {
            client: Client::new(config),
            table: table.to_owned(),
        };
        store.ensure_table().await?;
        Ok(store)
    }

    async fn ensure_table(&self) -> Result<(), StoreError> {
        let key = KeySchemaElement::builder()
            .attribute_name(KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let attr = AttributeDefinition::builder()
            .attribute_name(KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key)
            .attribute_definitions(attr)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.code() == Some("ResourceInUseException")) => {}
            Err(e) => return Err(backend("CreateTable", &e)),
        }
        for _ in 0..60 {
            let d = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| backend("DescribeTable", &e))?;
            let status = d.table().and_then(|t| t.table_status()).map(|s| s.as_str().to_owned());
            if status.as_deref() == Some("ACTIVE") {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Err(StoreError::Backend(format!(
            "table {} did not become ACTIVE",
            self.table
        )))
    }

    async fn scan(&self) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("Scan", &e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Puts `item`: only if absent when `expected` is `None`, else only if its
    /// counter is `expected`.
    async fn put(&self, item: Item, expected: Option<u64>) -> Result<(), StoreError> {
        let req = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let req = match expected {
            None => req.condition_expression(format!("attribute_not_exists({KEY})")),
            Some(c) => req
                .condition_expression(format!("{COUNTER} = :expected"))
                .expression_attribute_values(":expected", n(c)),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Err(StoreError::Conflict),
            Err(e) => Err(backend("PutItem", &e)),
        }
    }
}

fn counter_of(version: &str) -> Result<u64, StoreError> {
    version.parse().map_err(|_| StoreError::Conflict)
}

impl LeaseStore for DynamoStore {
    async fn list_shards(&self) -> Result<Vec<ShardLease>, StoreError> {
        Ok(self.scan().await?.iter().filter_map(shard_from_item).collect())
    }

    async fn get_shard(&self, shard_id: &str) -> Result<Option<ShardLease>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(shard_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", &e))?;
        Ok(out.item().and_then(shard_from_item))
    }

    async fn create_shard(&self, lease: &ShardLease) -> Result<Option<ShardLease>, StoreError> {
        match self.put(shard_item(lease, 1), None).await {
            Ok(()) => {
                let mut stored = lease.clone();
                stored.version = "1".into();
                Ok(Some(stored))
            }
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn update_shard(&self, lease: &ShardLease) -> Result<ShardLease, StoreError> {
        let counter = counter_of(&lease.version)?;
        self.put(shard_item(lease, counter + 1), Some(counter)).await?;
        let mut stored = lease.clone();
        stored.version = (counter + 1).to_string();
        Ok(stored)
    }

    async fn list_workers(&self) -> Result<Vec<WorkerLease>, StoreError> {
        Ok(self.scan().await?.iter().filter_map(worker_from_item).collect())
    }

    async fn put_worker(&self, lease: &WorkerLease) -> Result<WorkerLease, StoreError> {
        let (next, expected) = if lease.version.is_empty() {
            (1, None)
        } else {
            let c = counter_of(&lease.version)?;
            (c + 1, Some(c))
        };
        self.put(worker_item(lease, next), expected).await?;
        let mut stored = lease.clone();
        stored.version = next.to_string();
        Ok(stored)
    }

    async fn delete_worker(&self, worker_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, s(format!("{WORKER_PREFIX}{worker_id}")))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let mut l = ShardLease::new("shardId-1", vec!["shardId-0".into()], 30);
        l.owner = Some("w".into());
        l.renew_time = Some("2026-11-26T10:00:00Z".parse().expect("ts"));
        l.checkpoint = Some(Checkpoint::Sequence("42".into()));
        l.pending = Some(PendingFlush {
            first: "43".into(),
            last: "50".into(),
        });
        l.millis_behind_latest = Some(7);
        l.version = "3".into();
        assert_eq!(shard_from_item(&shard_item(&l, 3)), Some(l));
        let w = WorkerLease {
            worker_id: "pod".into(),
            duration_secs: 30,
            renew_time: None,
            open_shards: Some(4),
            error: Some(("StreamNotFound".into(), "no stream".into())),
            version: "9".into(),
        };
        assert_eq!(worker_from_item(&worker_item(&w, 9)), Some(w.clone()));
        assert_eq!(shard_from_item(&worker_item(&w, 9)), None);
    }
}

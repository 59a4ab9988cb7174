//! The default [`LeaseStore`]: `coordination.k8s.io/v1` Leases in the
//! consumer's namespace (layout in README.md: names from [`super::names`],
//! labels, annotations, owner reference). Writes send the `resourceVersion`
//! that was read, so the API server rejects a stale writer with 409.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference},
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
};

use super::{Checkpoint, PendingFlush, ShardLease, StoreError, WorkerLease, names, store::LeaseStore};

// The contract with the operator, written once in ade-api.
use ade_api::{
    labels::MANAGED_BY as LABEL_MANAGED_BY,
    lease::{
        CHECKPOINT as ANN_CHECKPOINT, ERROR_MESSAGE as ANN_ERROR_MESSAGE, ERROR_REASON as ANN_ERROR_REASON, KIND_SHARD,
        KIND_WORKER, LAST_FLUSH as ANN_LAST_FLUSH, MILLIS_BEHIND as ANN_LAG, OPEN_SHARDS as ANN_OPEN_SHARDS,
        PARENT_SHARDS as ANN_PARENTS, PENDING_FLUSH as ANN_PENDING, RECORDS_PER_SECOND as ANN_RATE,
        SHARD_ID as ANN_SHARD,
    },
};
pub use ade_api::{labels::STREAM_CONSUMER as LABEL_CONSUMER, lease::KIND as LABEL_KIND};

const MANAGER: &str = "ade-stream";

/// Leases of one StreamConsumer as Kubernetes Lease objects.
#[derive(Clone)]
pub struct KubeStore {
    api: Api<Lease>,
    consumer: String,
    owner: Option<OwnerReference>,
}

impl std::fmt::Debug for KubeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStore").field("consumer", &self.consumer).finish()
    }
}

impl KubeStore {
    /// Leases of `consumer` in `namespace`; owned by the StreamConsumer when
    /// `consumer_uid` is not empty.
    pub fn new(client: Client, namespace: &str, consumer: &str, consumer_uid: &str) -> Self {
        let owner = (!consumer_uid.is_empty()).then(|| OwnerReference {
            api_version: "ade.dev/v1alpha1".into(),
            kind: "StreamConsumer".into(),
            name: consumer.into(),
            uid: consumer_uid.into(),
            ..OwnerReference::default()
        });
        Self {
            api: Api::namespaced(client, namespace),
            consumer: consumer.into(),
            owner,
        }
    }

    fn meta(&self, name: String, kind: &str, annotations: BTreeMap<String, String>, version: &str) -> ObjectMeta {
        let labels = [
            (LABEL_CONSUMER, names::bounded(&self.consumer)),
            (LABEL_KIND, kind.to_owned()),
            (LABEL_MANAGED_BY, MANAGER.to_owned()),
        ];
        ObjectMeta {
            name: Some(name),
            labels: Some(labels.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            annotations: Some(annotations),
            owner_references: self.owner.clone().map(|o| vec![o]),
            resource_version: (!version.is_empty()).then(|| version.to_owned()),
            ..ObjectMeta::default()
        }
    }

    fn selector(&self, kind: &str) -> ListParams {
        ListParams::default().labels(&format!(
            "{LABEL_CONSUMER}={},{LABEL_KIND}={kind}",
            names::bounded(&self.consumer)
        ))
    }

    fn to_lease(&self, l: &ShardLease) -> Lease {
        let mut ann = BTreeMap::new();
        ann.insert(ANN_SHARD.to_owned(), l.shard_id.clone());
        ann.insert(ANN_PARENTS.to_owned(), l.parents.join(","));
        let optional = [
            (ANN_CHECKPOINT, l.checkpoint.as_ref().map(|c| c.as_str().to_owned())),
            (ANN_PENDING, l.pending.as_ref().map(PendingFlush::encode)),
            (ANN_LAG, l.millis_behind_latest.map(|m| m.to_string())),
            (ANN_RATE, l.records_per_second.map(|r| format!("{r:.3}"))),
            (ANN_LAST_FLUSH, l.last_flush.map(|t| t.to_string())),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                ann.insert(key.to_owned(), v);
            }
        }
        Lease {
            metadata: self.meta(
                names::shard_lease(&self.consumer, &l.shard_id),
                KIND_SHARD,
                ann,
                &l.version,
            ),
            spec: Some(LeaseSpec {
                holder_identity: l.owner.clone().filter(|o| !o.is_empty()),
                lease_duration_seconds: Some(i32::try_from(l.duration_secs).unwrap_or(i32::MAX)),
                renew_time: l.renew_time.map(MicroTime),
                acquire_time: l.acquire_time.map(MicroTime),
                lease_transitions: Some(l.transitions),
                ..LeaseSpec::default()
            }),
        }
    }

    fn to_worker_lease(&self, w: &WorkerLease) -> Lease {
        let mut ann = BTreeMap::new();
        if let Some(n) = w.open_shards {
            ann.insert(ANN_OPEN_SHARDS.to_owned(), n.to_string());
        }
        if let Some((reason, message)) = &w.error {
            ann.insert(ANN_ERROR_REASON.to_owned(), reason.clone());
            ann.insert(ANN_ERROR_MESSAGE.to_owned(), message.clone());
        }
        Lease {
            metadata: self.meta(
                names::worker_lease(&self.consumer, &w.worker_id),
                KIND_WORKER,
                ann,
                &w.version,
            ),
            spec: Some(LeaseSpec {
                holder_identity: Some(w.worker_id.clone()),
                lease_duration_seconds: Some(i32::try_from(w.duration_secs).unwrap_or(i32::MAX)),
                renew_time: w.renew_time.map(MicroTime),
                ..LeaseSpec::default()
            }),
        }
    }
}

fn annotation<'a>(lease: &'a Lease, key: &str) -> Option<&'a str> {
    lease.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

fn time(t: Option<&MicroTime>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

/// Reads a shard lease from its Lease object; `None` if it is not one.
pub fn from_lease(lease: &Lease) -> Option<ShardLease> {
    let spec = lease.spec.clone().unwrap_or_default();
    Some(ShardLease {
        shard_id: annotation(lease, ANN_SHARD)?.to_owned(),
        parents: annotation(lease, ANN_PARENTS)
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        owner: spec.holder_identity.filter(|h| !h.is_empty()),
        duration_secs: u32::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        renew_time: time(spec.renew_time.as_ref()),
        acquire_time: time(spec.acquire_time.as_ref()),
        transitions: spec.lease_transitions.unwrap_or(0),
        checkpoint: annotation(lease, ANN_CHECKPOINT).and_then(Checkpoint::parse),
        pending: annotation(lease, ANN_PENDING).and_then(PendingFlush::decode),
        millis_behind_latest: annotation(lease, ANN_LAG).and_then(|v| v.parse().ok()),
        records_per_second: annotation(lease, ANN_RATE).and_then(|v| v.parse().ok()),
        last_flush: annotation(lease, ANN_LAST_FLUSH).and_then(|v| v.parse().ok()),
        version: lease.metadata.resource_version.clone().unwrap_or_default(),
    })
}

fn worker_from_lease(lease: &Lease) -> Option<WorkerLease> {
    let spec = lease.spec.clone().unwrap_or_default();
    let error = match (
        annotation(lease, ANN_ERROR_REASON),
        annotation(lease, ANN_ERROR_MESSAGE),
    ) {
        (Some(r), m) => Some((r.to_owned(), m.unwrap_or("").to_owned())),
        _ => None,
    };
    Some(WorkerLease {
        worker_id: spec.holder_identity.filter(|h| !h.is_empty())?,
        duration_secs: u32::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        renew_time: time(spec.renew_time.as_ref()),
        open_shards: annotation(lease, ANN_OPEN_SHARDS).and_then(|v| v.parse().ok()),
        error,
        version: lease.metadata.resource_version.clone().unwrap_or_default(),
    })
}

fn map_err(call: &str, e: kube::Error) -> StoreError {
    match e {
        kube::Error::Api(s) if s.code == 409 => StoreError::Conflict,
        kube::Error::Api(s) if s.code == 404 => StoreError::NotFound,
        other => StoreError::Backend(format!("{call} Lease: {other}")),
    }
}

impl LeaseStore for KubeStore {
    async fn list_shards(&self) -> Result<Vec<ShardLease>, StoreError> {
        let list = self
            .api
            .list(&self.selector(KIND_SHARD))
            .await
            .map_err(|e| map_err("list", e))?;
        Ok(list.items.iter().filter_map(from_lease).collect())
    }

    async fn get_shard(&self, shard_id: &str) -> Result<Option<ShardLease>, StoreError> {
        let name = names::shard_lease(&self.consumer, shard_id);
        let lease = self.api.get_opt(&name).await.map_err(|e| map_err("get", e))?;
        Ok(lease.as_ref().and_then(from_lease))
    }

    async fn create_shard(&self, lease: &ShardLease) -> Result<Option<ShardLease>, StoreError> {
        let mut fresh = lease.clone();
        fresh.version.clear();
        match self.api.create(&PostParams::default(), &self.to_lease(&fresh)).await {
            Ok(created) => Ok(from_lease(&created)),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
            Err(e) => Err(map_err("create", e)),
        }
    }

    async fn update_shard(&self, lease: &ShardLease) -> Result<ShardLease, StoreError> {
        if lease.version.is_empty() {
            return Err(StoreError::Conflict);
        }
        let name = names::shard_lease(&self.consumer, &lease.shard_id);
        let stored = self
            .api
            .replace(&name, &PostParams::default(), &self.to_lease(lease))
            .await
            .map_err(|e| map_err("replace", e))?;
        from_lease(&stored).ok_or_else(|| StoreError::Backend(format!("Lease {name} lost its shard annotation")))
    }

    async fn list_workers(&self) -> Result<Vec<WorkerLease>, StoreError> {
        let list = self
            .api
            .list(&self.selector(KIND_WORKER))
            .await
            .map_err(|e| map_err("list", e))?;
        Ok(list.items.iter().filter_map(worker_from_lease).collect())
    }

    async fn put_worker(&self, lease: &WorkerLease) -> Result<WorkerLease, StoreError> {
        let object = self.to_worker_lease(lease);
        let name = names::worker_lease(&self.consumer, &lease.worker_id);
        let stored = if lease.version.is_empty() {
            self.api.create(&PostParams::default(), &object).await
        } else {
            self.api.replace(&name, &PostParams::default(), &object).await
        }
        .map_err(|e| map_err("write", e))?;
        worker_from_lease(&stored).ok_or_else(|| StoreError::Backend(format!("Lease {name} has no holder")))
    }

    async fn delete_worker(&self, worker_id: &str) -> Result<(), StoreError> {
        let name = names::worker_lease(&self.consumer, worker_id);
        match self.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(map_err("delete", e)),
        }
    }
}

//! The reconcile of a consumer on runtime `kubernetes`: read the Deployment
//! and the leases, decide the replicas, apply the children by server-side
//! apply (only children this consumer controls), write the status, publish
//! Events on scaling and on changes of `Degraded`.

use std::{collections::BTreeMap, fmt::Debug, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    NamespaceResourceScope,
    api::{apps::v1::Deployment, coordination::v1::Lease},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
    runtime::{controller::Action, events::EventType},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    Error, FIELD_MANAGER,
    children::{self, LABEL_CONSUMER},
    config, health, leases,
    scaling::{self, Inputs},
};
use crate::{
    api::v1alpha1::{CheckpointStore, StreamConsumer, StreamConsumerStatus},
    controllers::{
        Context,
        conditions::{self, Desired, Status},
        status,
    },
    names,
};

/// How often a running consumer is looked at again: the lag is read this often.
pub const RESYNC: Duration = Duration::from_secs(15);
/// Deployment annotation: since when the lag has been below half the target.
pub const ANNOTATION_LOW_LAG_SINCE: &str = "ade.dev/low-lag-since";
/// Deployment annotation: when the replicas last changed.
pub const ANNOTATION_LAST_SCALED: &str = "ade.dev/last-scaled";

fn controlled_by(meta: &kube::api::ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Applies `desired` unless an object of its name exists that this consumer
/// does not control: then `Ok(Err(message))`, and nothing is written.
async fn apply_child<K>(ctx: &Context, uid: &str, desired: &K) -> Result<Result<K, String>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &desired.namespace().unwrap_or_default());
    let name = desired.name_any();
    let kind = K::kind(&());
    let existing = api.get_opt(&name).await.map_err(|source| Error::Read {
        what: format!("{kind} {name}"),
        source,
    })?;
    if let Some(found) = existing
        && !controlled_by(found.meta(), uid)
    {
        return Ok(Err(format!(
            "{kind} {name} exists and is not controlled by this StreamConsumer: delete or rename it"
        )));
    }
    let applied = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(desired),
        )
        .await
        .map_err(|source| Error::Apply {
            what: format!("{kind} {name}"),
            source,
        })?;
    Ok(Ok(applied))
}

fn timestamp_annotation(deployment: Option<&Deployment>, key: &str) -> Option<Timestamp> {
    deployment?.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// Reconciles `consumer` on runtime `kubernetes`.
pub async fn kubernetes(consumer: &StreamConsumer, ctx: &Context) -> Result<Action, Error> {
    let namespace = consumer.namespace().unwrap_or_default();
    let name = consumer.name_any();
    let uid = consumer.metadata.uid.clone().unwrap_or_default();
    let children_name = names::stream_name(&name);
    let now = Timestamp::now();
    let document = config::build(consumer).map_err(|e| Error::Config(e.to_string()))?;

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let existing = deployments
        .get_opt(&children_name)
        .await
        .map_err(|source| Error::Read {
            what: format!("Deployment {children_name}"),
            source,
        })?;
    let existing = existing.filter(|d| controlled_by(&d.metadata, &uid));
    let lease_list = read_leases(consumer, ctx, &namespace, &name).await?;
    let observed = leases::observe(&lease_list, now);

    let scaling = &consumer.spec.scaling;
    let current = existing.as_ref().and_then(|d| d.spec.as_ref()?.replicas);
    let decision = scaling::decide(&Inputs {
        current,
        min: scaling.min_replicas,
        max: scaling.max_replicas,
        target_lag_ms: scaling
            .target_lag
            .to_std()
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .map_err(|e| Error::Config(e.to_string()))?,
        open_shards: observed.open_shards,
        max_lag_ms: observed.max_lag_ms,
        low_since: timestamp_annotation(existing.as_ref(), ANNOTATION_LOW_LAG_SINCE),
        last_scaled: timestamp_annotation(existing.as_ref(), ANNOTATION_LAST_SCALED),
        now,
    });
    let mut annotations = BTreeMap::new();
    if let Some(t) = decision.low_since {
        annotations.insert(ANNOTATION_LOW_LAG_SINCE.to_owned(), t.to_string());
    }
    if let Some(t) = decision.last_scaled {
        annotations.insert(ANNOTATION_LAST_SCALED.to_owned(), t.to_string());
    }

    // Identity and permissions first, so the pods can hold leases when they start.
    let mut taken = None;
    for outcome in [
        apply_child(ctx, &uid, &children::service_account(consumer))
            .await?
            .err(),
        apply_child(ctx, &uid, &children::role(consumer)).await?.err(),
        apply_child(ctx, &uid, &children::role_binding(consumer)).await?.err(),
    ] {
        taken = taken.or(outcome);
    }
    let deployment = match taken {
        Some(_) => None,
        None => {
            let desired = children::deployment(consumer, &document, &ctx.stream, decision.replicas, annotations);
            match apply_child(ctx, &uid, &desired).await? {
                Ok(applied) => Some(applied),
                Err(message) => {
                    taken = Some(message);
                    None
                }
            }
        }
    };

    let facts = health::Facts {
        namespace: &namespace,
        consumer: &name,
        children: &children_name,
        stream: &document.stream.name,
        region: &document.stream.region,
        sink: &document.sink.uri,
        desired: decision.replicas,
    };
    let (ready, degraded) = match &taken {
        Some(message) => (
            Desired::new("Ready", Status::False, "NameTaken", message.clone()),
            Desired::new("Degraded", Status::True, "NameTaken", message.clone()),
        ),
        None => health::conditions(&facts, deployment.as_ref(), &observed.workers),
    };
    let replicas = deployment
        .as_ref()
        .and_then(|d| d.status.as_ref()?.ready_replicas)
        .unwrap_or(0);
    let body = observed.status(consumer.metadata.generation, replicas);
    write_status(consumer, ctx, body, [ready, degraded.clone()]).await?;

    if deployment.is_some()
        && let (Some(from), Some(why)) = (current, &decision.why)
    {
        ctx.publish_event(
            consumer,
            EventType::Normal,
            "Scaled",
            &format!("scaled from {from} to {} replicas: {why}", decision.replicas),
            "Scale",
        )
        .await;
    }
    publish_degradation(consumer, ctx, &degraded).await;
    Ok(Action::requeue(RESYNC))
}

/// The consumer's leases from its checkpoint store: Kubernetes Leases
/// labelled with it, or the items of its DynamoDB lease table (read as the
/// same Leases). A table the pods have not created yet holds no lease.
pub(super) async fn read_leases(
    consumer: &StreamConsumer,
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Vec<Lease>, Error> {
    let checkpoint = &consumer.spec.checkpoint;
    if let (CheckpointStore::Dynamodb, Some(dynamodb)) = (checkpoint.store, &checkpoint.dynamodb) {
        let region = &consumer.spec.source.kinesis.region;
        return match ctx.lease_table.items(region, &dynamodb.table_name).await {
            Ok(items) => Ok(items.iter().filter_map(leases::lease_of_item).collect()),
            Err(e) if e.category == "not-found" => Ok(Vec::new()),
            Err(e) => Err(Error::LeaseTable(e)),
        };
    }
    let list = Api::<Lease>::namespaced(ctx.client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("{LABEL_CONSUMER}={name}")))
        .await
        .map_err(|source| Error::Read {
            what: "the consumer's Leases".into(),
            source,
        })?;
    Ok(list.items)
}

pub(super) async fn write_status(
    consumer: &StreamConsumer,
    ctx: &Context,
    mut body: StreamConsumerStatus,
    desired: [Desired; 2],
) -> Result<(), Error> {
    let existing = consumer
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let [ready, degraded] = desired;
    let merged = conditions::merge(
        existing,
        &[status::accepted(&[]), ready, degraded],
        consumer.metadata.generation,
        Timestamp::now(),
    );
    body.conditions = merged;
    status::apply(ctx, consumer, FIELD_MANAGER, &body)
        .await
        .map(drop)
        .map_err(|source| Error::ApplyStatus {
            name: consumer.name_any(),
            source,
        })
}

/// A Warning when `Degraded` turns True or changes its reason; a Normal
/// `Recovered` when it turns False again.
pub(super) async fn publish_degradation(consumer: &StreamConsumer, ctx: &Context, degraded: &Desired) {
    let existing = consumer
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let previous = conditions::find(existing, "Degraded");
    let was = previous.filter(|p| p.status == "True").map(|p| p.reason.as_str());
    match (was, degraded.status) {
        (Some(reason), Status::True) if reason == degraded.reason => {}
        (_, Status::True) => {
            ctx.publish_event(
                consumer,
                EventType::Warning,
                degraded.reason,
                &degraded.message,
                "Observe",
            )
            .await;
        }
        (Some(_), _) => {
            ctx.publish_event(
                consumer,
                EventType::Normal,
                "Recovered",
                "no replica reports an error any more",
                "Observe",
            )
            .await;
        }
        (None, _) => {}
    }
}

/// Deletes the consumer's Deployment, if it has one: a consumer that moved to
/// another runtime must stop reading here.
pub async fn remove_deployment(consumer: &StreamConsumer, ctx: &Context) -> Result<(), Error> {
    let name = names::stream_name(&consumer.name_any());
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &consumer.namespace().unwrap_or_default());
    let uid = consumer.metadata.uid.clone().unwrap_or_default();
    let found = api.get_opt(&name).await.map_err(|source| Error::Read {
        what: format!("Deployment {name}"),
        source,
    })?;
    if found.is_some_and(|d| controlled_by(&d.metadata, &uid)) {
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {
                tracing::info!(deployment = %name, "deleted the Deployment of a consumer that left runtime kubernetes")
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(Error::Apply {
                    what: format!("deleting Deployment {name}"),
                    source,
                });
            }
        }
    }
    Ok(())
}

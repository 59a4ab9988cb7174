//! [`PoolCapacity`] for EMR: a pool's clusters planned for its runs' demand
//! ([`EmrProvider::reconcile_pool`]) and released when the pool is deleted.

use std::sync::Arc;

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use kube::ResourceExt;

use super::{EmrProvider, pool_status};
use crate::{
    api::v1alpha1::{ClusterPool, EtlRun, ReclaimPolicy},
    providers::{
        ProviderError,
        pool::{CapacityReport, ClusterCounter, PoolCapacity, PoolEvent, Released, RequestLog},
    },
};

impl EmrProvider {
    async fn capacity(
        &self,
        pool: &ClusterPool,
        runs: &[Arc<EtlRun>],
        streams: &[String],
        log: &dyn RequestLog,
        now: Timestamp,
    ) -> Result<CapacityReport, ProviderError> {
        let mut demand = pool_status::demand(&pool.name_any(), runs.iter().map(AsRef::as_ref));
        demand.queued.extend(streams.iter().cloned());
        let before = pool_status::breaker_state(pool);
        let report = self.reconcile_pool(pool, before, &demand, log, now).await?;
        Ok(pool_status::capacity_report(
            &report,
            &demand,
            before,
            pool.spec.capacity.max_clusters,
        ))
    }

    async fn release_pool(&self, pool: &ClusterPool) -> Result<Released, ProviderError> {
        Ok(match pool.spec.reclaim_policy {
            ReclaimPolicy::Delete => {
                let ids = self.terminate_pool(pool).await?;
                let note = if ids.is_empty() {
                    "the pool had no live EMR cluster".to_owned()
                } else {
                    format!("terminated EMR clusters {} (reclaimPolicy Delete)", ids.join(", "))
                };
                Released {
                    event: PoolEvent {
                        warning: false,
                        reason: "ClustersTerminated",
                        note,
                        counter: Some(ClusterCounter::Terminated("PoolDeleted")),
                    },
                    terminated: ids.len(),
                }
            }
            ReclaimPolicy::Retain => {
                let ids = self.live_cluster_ids(pool).await?;
                Released {
                    event: PoolEvent {
                        warning: true,
                        reason: "ClustersRetained",
                        note: format!(
                            "reclaimPolicy Retain: EMR clusters {} keep running; terminate them yourself",
                            ids.join(", ")
                        ),
                        counter: None,
                    },
                    terminated: 0,
                }
            }
        })
    }
}

impl PoolCapacity for EmrProvider {
    fn calls(&self) -> &'static str {
        "an EMR call"
    }

    fn reconcile<'a>(
        &'a self,
        pool: &'a ClusterPool,
        runs: &'a [Arc<EtlRun>],
        streams: &'a [String],
        log: &'a dyn RequestLog,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CapacityReport, ProviderError>> {
        self.capacity(pool, runs, streams, log, now).boxed()
    }

    fn release<'a>(&'a self, pool: &'a ClusterPool) -> BoxFuture<'a, Result<Released, ProviderError>> {
        self.release_pool(pool).boxed()
    }
}

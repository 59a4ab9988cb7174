//! Reading an eks pool's queue of EC2 notices (`interruptionQueue`) in its
//! capacity reconcile: each notice about an instance of the pool is
//! recorded on the instance (a tag) and its Node (an annotation, and the
//! Node is cordoned), told once as an Event, and deleted from the queue
//! only then, so a crash in between reads it again. What the notices mean
//! is [`super::notices`]; the runs on a noticed node move when their
//! attempt is next observed ([`super::provider`]).
//!
//! The queue is a help, not a dependency: when it is missing or SQS fails,
//! the pool says so in its `Ready` message and still sees reclaims by
//! listing its instances.

use super::{
    api::{ApiResult, InstanceInfo},
    nodes::{self, JobFacts, NodeFacts},
    notices::{self, Disposition, Notice, NoticeKind, TAG_NOTICE},
    provider::{EksProvider, eks_of},
};
use crate::{
    api::v1alpha1::ClusterPool,
    providers::{
        ProviderError,
        pool::{ClusterCounter, PoolEvent},
    },
};

/// Messages read per reconcile, at most (SQS answers at most 10 a call).
const MAX_ROUNDS: usize = 5;
/// How long a message received is hidden from other readers: a reconcile
/// that fails before deleting it reads it again after this.
const HIDE_SECONDS: i32 = 60;

/// What reading the queue did.
#[derive(Debug, Default)]
pub(super) struct QueueReport {
    /// Events to tell.
    pub events: Vec<PoolEvent>,
    /// Why the queue could not be read, for the pool's `Ready` message.
    pub problem: Option<String>,
}

impl EksProvider {
    /// Reads `pool`'s queue, if it names one, and acts on the notices about
    /// its `instances` (their tags and `node_facts` are updated to match).
    pub(super) async fn read_notices(
        &self,
        pool: &ClusterPool,
        region: &str,
        instances: &mut [InstanceInfo],
        node_facts: &mut [NodeFacts],
        job_facts: &[JobFacts],
        now: jiff::Timestamp,
    ) -> Result<QueueReport, ProviderError> {
        let mut report = QueueReport::default();
        let Some(name) = eks_of(pool)?.interruption_queue.as_deref() else {
            return Ok(report);
        };
        let fallback = "reclaims are seen only once EC2 shuts a node down";
        let url = match self.queue_url(region, name).await {
            Ok(Some(url)) => url,
            Ok(None) => {
                report.problem = Some(format!(
                    "interruption queue {name} does not exist in {region}: {fallback}"
                ));
                return Ok(report);
            }
            Err(e) => {
                report.problem = Some(format!("interruption queue {name}: {e}; {fallback}"));
                return Ok(report);
            }
        };
        let mut done = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let messages = match self.queue.receive(region, &url, 10, HIDE_SECONDS).await {
                Ok(m) => m,
                Err(e) => {
                    report.problem = Some(format!("interruption queue {name}: {e}; {fallback}"));
                    break;
                }
            };
            for m in &messages {
                let owned = |id: &str| instances.iter().any(|i| i.id == id);
                match notices::dispose(&m.body, owned, now) {
                    Disposition::Act(notice) => match self.act(region, &notice, instances, node_facts, job_facts).await
                    {
                        Ok(told) => {
                            report.events.extend(told);
                            done.push(m.receipt.clone());
                        }
                        // Kept: read again once its hiding ends.
                        Err(e) => {
                            report.problem = Some(format!(
                                "interruption queue {name}: acting on {} of {}: {e}; it is read again",
                                notice.kind.label(),
                                notice.instance
                            ));
                        }
                    },
                    Disposition::Drop(why) => {
                        tracing::debug!(queue = %name, %why, "deleting a message the pool does not act on");
                        done.push(m.receipt.clone());
                    }
                    Disposition::Leave => {}
                }
            }
            if messages.len() < 10 {
                break;
            }
        }
        if let Err(e) = self.queue.delete(region, &url, &done).await {
            report.problem = Some(format!("interruption queue {name}: {e}; its messages are read again"));
        }
        Ok(report)
    }

    /// The URL of queue `name`, asked once.
    async fn queue_url(&self, region: &str, name: &str) -> ApiResult<Option<String>> {
        let key = (region.to_owned(), name.to_owned());
        if let Some(url) = self.queue_urls.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Some(url.clone()));
        }
        let url = self.queue.queue_url(region, name).await?;
        if let Some(url) = &url {
            self.queue_urls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, url.clone());
        }
        Ok(url)
    }

    /// Records `notice` on its instance and Node; the Event to tell, the
    /// first time only.
    async fn act(
        &self,
        region: &str,
        notice: &Notice,
        instances: &mut [InstanceInfo],
        node_facts: &mut [NodeFacts],
        job_facts: &[JobFacts],
    ) -> Result<Option<PoolEvent>, ProviderError> {
        let Some(instance) = instances.iter_mut().find(|i| i.id == notice.instance) else {
            return Ok(None);
        };
        // A warning is not undone by a later recommendation.
        let before = instance.tags.get(TAG_NOTICE).and_then(|r| notices::read_record(r));
        if notice.kind == NoticeKind::Rebalance && before.is_some() {
            return Ok(None);
        }
        let record = notice.record();
        let node = node_facts
            .iter_mut()
            .find(|n| n.provider_id.as_deref().and_then(nodes::instance_of) == Some(notice.instance.as_str()));
        let node_name = node.as_ref().map(|n| n.name.clone());
        if let Some(node) = node {
            self.cordon_noting(&node.name, Some(&record)).await?;
            node.unschedulable = true;
        }
        // A state change is what listing the instances shows too: the Node
        // is marked so its runs move now, and nothing more is told. Nor is a
        // notice told again, or recorded on an instance already gone.
        let told = before.is_some_and(|(label, _)| label == notice.kind.label());
        if matches!(notice.kind, NoticeKind::StateChange(_)) || told || !instance.state.is_live() {
            return Ok(None);
        }
        self.api
            .tag_instance(region, &instance.id, TAG_NOTICE, &record)
            .await
            .map_err(ProviderError::from)?;
        instance.tags.insert(TAG_NOTICE.to_owned(), record);
        let node = node_name.unwrap_or_else(|| "(not registered yet)".into());
        let at = notice.at.strftime("%H:%M:%S UTC");
        Ok(Some(if notice.kind == NoticeKind::SpotWarning {
            let named = nodes::runs_on(job_facts, &instance.id);
            PoolEvent {
                warning: true,
                reason: "SpotInterruptionWarning",
                note: format!(
                    "EC2 warned at {at} that it reclaims spot instance {} ({}) in two minutes; node {node} is \
                     cordoned and its runs move to another node without using their retries{named}",
                    instance.id, instance.instance_type
                ),
                counter: Some(ClusterCounter::SpotInterruption("warning")),
            }
        } else {
            PoolEvent {
                warning: false,
                reason: "RebalanceRecommended",
                note: format!(
                    "EC2 recommended at {at} moving off spot instance {} ({}), at elevated risk of interruption; \
                     node {node} is cordoned: its runs finish there, new runs go to other nodes, and it is \
                     terminated once empty",
                    instance.id, instance.instance_type
                ),
                counter: None,
            }
        }))
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;

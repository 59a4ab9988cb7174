//! What the operator keeps of each attempt's Job (the kubernetes provider's):
//! who owns it and how it is doing; the controllers' cache of Jobs holds it
//! and hands it to the provider through the registry. Nothing reads a Job's spec or labels once it exists, and a whole
//! `Job` takes 2.6 KB before any of its fields' contents (its spec holds a
//! Pod template inline): the watch of 10,000 runs' Jobs held about 30 MB of
//! what no one reads, and parsed every Job event's Pod template.

use k8s_openapi::{
    api::batch::v1::{Job, JobStatus},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::Resource;
use serde::Deserialize;

/// A `batch/v1` Job read for its owner and status only (the API server's
/// other fields are skipped as it is read).
#[derive(Resource, Clone, Debug, Default, Deserialize)]
#[resource(inherit = Job)]
pub struct SeenJob {
    /// The Job's metadata; the watch that keeps them drops its labels,
    /// annotations and managed fields.
    pub metadata: ObjectMeta,
    /// The Job controller's view of it.
    pub status: Option<JobStatus>,
}

impl SeenJob {
    /// Drops what no reader of a kept Job needs (the cache's feed drops the
    /// managed fields of every object already).
    pub fn trim(&mut self) {
        self.metadata.labels = None;
        self.metadata.annotations = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    /// A Job as the API server sends it, read and trimmed as the watch keeps
    /// it: its owner and status stay, its spec and labels are gone, and what
    /// is kept inline is a fraction of a `Job`.
    #[test]
    fn a_kept_job_holds_its_owner_and_status_only() {
        let sent = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "orders-1-1", "namespace": "data", "uid": "job-uid",
                "labels": {"app.kubernetes.io/managed-by": "ade-operator", "batch.kubernetes.io/job-name": "orders-1-1"},
                "annotations": {"batch.kubernetes.io/job-tracking": ""},
                "ownerReferences": [{"apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun", "name": "orders-1", "uid": "run-uid"}]},
            "spec": {"template": {"spec": {"containers": [{"name": "task", "image": "busybox"}]}}},
            "status": {"active": 1, "startTime": "2026-11-25T14:00:00Z"},
        });
        let mut kept: SeenJob = serde_json::from_value(sent).unwrap();
        kept.trim();
        assert_eq!(kept.metadata.owner_references.as_ref().unwrap()[0].uid, "run-uid");
        assert_eq!(kept.status.as_ref().unwrap().active, Some(1));
        assert_eq!((kept.metadata.labels, kept.metadata.annotations), (None, None));
        let (kept, whole) = (std::mem::size_of::<SeenJob>(), std::mem::size_of::<Job>());
        assert!(kept * 3 < whole, "{kept} bytes kept of a Job's {whole}");
    }
}

//! The operator's Jobs (run attempts, validations) carry no
//! `ttlSecondsAfterFinished` until their outcome is recorded in status; then
//! the owner lets Kubernetes delete them after the TTL. One patch for both.

use k8s_openapi::api::batch::v1::Job;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};

/// Sets Job `name`'s `ttlSecondsAfterFinished` to `seconds`; a Job that is
/// gone already is fine.
pub async fn release(client: &Client, namespace: &str, name: &str, seconds: i32) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"spec": {"ttlSecondsAfterFinished": seconds}});
    let jobs = Api::<Job>::namespaced(client.clone(), namespace);
    match jobs.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

//! The `ade.dev` API: custom resource types, and the CRD documents generated from them.
//!
//! The types are written once, in `ade-api` (`api/src/v1alpha1/`), which
//! ade-validate and ade-stream read too; the operator builds it with the
//! `kube` feature (the `CustomResource` derives and schemas) and re-exports it
//! here, so its modules name them `crate::api::v1alpha1::…`.
//!
//! Types only: nothing in this module talks to the Kubernetes API.

pub use ade_api::v1alpha1;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of every ADE kind.
pub const GROUP: &str = "ade.dev";

/// Every CRD this operator serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        v1alpha1::ClusterPool::crd(),
        v1alpha1::EtlJob::crd(),
        v1alpha1::EtlRun::crd(),
        v1alpha1::StreamConsumer::crd(),
        v1alpha1::ValidationSuite::crd(),
    ]
}

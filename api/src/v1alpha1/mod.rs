//! Version `v1alpha1` of the `ade.dev` API, one file per kind plus shared types.
//!
//! The spec and status types are plain serde types, with the defaults the
//! API server applies. With the `kube` feature each kind also gets its
//! `CustomResource` (the `ClusterPool`, `EtlJob`, … objects), its OpenAPI
//! schema and its CEL rules: what `crdgen` writes into the CRDs.

mod catalog;
mod cluster_pool;
mod etl_job;
mod etl_run;
mod shared;
mod stream_consumer;
mod validation_suite;

pub use catalog::*;
pub use cluster_pool::*;
pub use etl_job::*;
pub use etl_run::*;
pub use shared::*;
pub use stream_consumer::*;
pub use validation_suite::*;

//! ADE operator: a cloud data platform as Kubernetes objects.
//!
//! The crate holds the `ade.dev` API types ([`api`]), the CRD generator used
//! by the `crdgen` binary ([`crdgen`]), and the operator itself:
//! configuration, telemetry, leader election, readiness and one controller per kind.

pub mod api;
pub mod aws;
pub mod busiest;
pub mod catalog;
pub mod config;
pub mod controllers;
pub mod cost;
pub mod crdgen;
pub mod error_category;
pub mod events;
pub mod http;
pub mod human;
pub mod job_ttl;
pub mod leader;
pub mod lease_table;
pub mod locks;
pub mod metrics;
pub mod object_metrics;
/// Deterministic names, written once in `ade-api` (the `kubectl ade` plugin uses them too).
pub use ade_api::names;
pub mod providers;
pub mod readiness;
pub mod schedule;
pub mod telemetry;
pub mod template;
pub mod tenure;
#[cfg(test)]
pub(crate) mod testing;

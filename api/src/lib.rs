//! What crosses a process boundary in ADE, written once: the operator, the
//! validator (`ade-validate`), the stream consumer (`ade-stream`) and the e2e
//! suite all use these definitions instead of their own copies.
//!
//! - [`v1alpha1`]: the five custom resources' spec and status types (what the
//!   API server stores). The kube and schemars derives that make them CRDs are
//!   behind the `kube` feature, which only the operator enables.
//! - [`exposition`]: the text formats of the `/metrics` endpoints.
//! - [`labels`]: the labels ADE's processes put on what they create.
//! - [`lease`]: the Leases `ade-stream` writes and the operator reads.
//! - [`names`]: the deterministic names of what the operator creates, which
//!   `kubectl ade` follows for the reruns it creates.
//! - [`stream`]: the configuration document the operator hands `ade-stream`.
//! - [`validation`]: the summary `ade-validate` hands the operator.

pub mod exposition;
pub mod labels;
pub mod lease;
pub mod names;
pub mod stream;
pub mod v1alpha1;
pub mod validation;

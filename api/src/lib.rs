//! What crosses a process boundary in ADE, written once: the operator, the
//! validator (`ade-validate`), the stream consumer (`ade-stream`) and the e2e
//! suite all use these definitions instead of their own copies.
//!
//! Today: the shared labels, the Lease contract between `ade-stream` and the
//! operator, and the validation summary `ade-validate` hands the operator.

pub mod labels;
pub mod lease;
pub mod validation;

//! Labels on the objects ADE's processes create.

/// Who manages an object: `ade-operator` or `ade-stream`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The StreamConsumer an object belongs to (its pods, its Leases).
pub const STREAM_CONSUMER: &str = "ade.dev/stream-consumer";

//! Labels on the objects ADE's processes create.

/// Who manages an object: `ade-operator` or `ade-stream`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`] on what the operator creates.
pub const OPERATOR: &str = "ade-operator";
/// The selector of what the operator created: `app.kubernetes.io/managed-by=ade-operator`.
pub const MANAGED_BY_OPERATOR: &str = "app.kubernetes.io/managed-by=ade-operator";
/// The StreamConsumer an object belongs to (its pods, its Leases).
pub const STREAM_CONSUMER: &str = "ade.dev/stream-consumer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_is_the_label() {
        assert_eq!(MANAGED_BY_OPERATOR, format!("{MANAGED_BY}={OPERATOR}"));
    }
}

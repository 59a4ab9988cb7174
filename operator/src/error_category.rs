//! Bounded categories of errors, for the `category` label of metrics and for
//! logs. Shared by the controllers and the providers, so neither imports the
//! other for them.

/// A bounded category for a Kubernetes API error.
pub fn kube_error_category(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) => match status.code {
            403 => "forbidden",
            404 => "not-found",
            409 => "conflict",
            422 => "invalid",
            429 => "throttled",
            500..=599 => "server-error",
            _ => "kube-api",
        },
        _ => "kube-client",
    }
}

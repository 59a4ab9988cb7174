//! The AWS SDK configuration every AWS client of the operator starts from:
//! credentials from the default chain (environment, profile, IRSA web
//! identity, EKS Pod Identity, instance metadata) unless fixed ones are
//! given, and the endpoint override for emulators (`--aws-endpoint-url`).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

/// Loads the shared configuration; a client adds its region.
pub async fn base_config(endpoint: Option<&str>, credentials: Option<&SharedCredentialsProvider>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    loader.load().await
}

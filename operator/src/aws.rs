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

/// Fixed credentials instead of the default chain: for emulators and tests.
pub fn static_credentials(access_key: &str, secret_key: &str) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
        access_key,
        secret_key,
        None,
        None,
        "ade-static",
    ))
}

/// SDK clients of one kind, one per region, over one shared configuration
/// loaded on first use: what every AWS adapter of the operator holds.
pub struct Regional<C> {
    endpoint: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    base: tokio::sync::OnceCell<SdkConfig>,
    clients: std::sync::Mutex<std::collections::BTreeMap<String, C>>,
}

impl<C> std::fmt::Debug for Regional<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regional")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl<C: Clone> Regional<C> {
    /// Credentials from the default chain unless `credentials`; `endpoint`
    /// overrides every AWS endpoint (an emulator).
    pub fn new(endpoint: Option<String>, credentials: Option<SharedCredentialsProvider>) -> Self {
        Self {
            endpoint,
            credentials,
            base: tokio::sync::OnceCell::new(),
            clients: std::sync::Mutex::default(),
        }
    }

    /// Fixed credentials instead of the default chain: for emulators and tests.
    pub fn with_static_credentials(endpoint: Option<String>, access_key: &str, secret_key: &str) -> Self {
        Self::new(endpoint, Some(static_credentials(access_key, secret_key)))
    }

    /// The client of `region`, made by `make` from the shared configuration
    /// the first time.
    pub async fn get(&self, region: &str, make: impl FnOnce(&SdkConfig, String) -> C) -> C {
        let base = self
            .base
            .get_or_init(|| base_config(self.endpoint.as_deref(), self.credentials.as_ref()))
            .await;
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| make(base, region.to_owned()))
            .clone()
    }
}

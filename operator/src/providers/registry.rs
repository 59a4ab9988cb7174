//! [`Providers`]: every compute provider of the operator, built once at
//! start-up (or injected by a test), and the one a pool's runs use.

use std::sync::Arc;

use kube::Client;

use super::{
    AttemptHandle, ComputeProvider,
    emr::{AwsEmr, EmrApi, EmrProvider, EmrSettings},
    kubernetes::{JobSettings, KubernetesProvider},
    pool::PoolCapacity,
    service::ServiceSteps,
};
use crate::{
    api::v1alpha1::{ClusterPool, Provider},
    config::Config,
};

/// The operator's compute providers.
#[derive(Clone)]
pub struct Providers {
    kubernetes: Arc<dyn ComputeProvider>,
    emr: Arc<dyn ComputeProvider>,
    emr_capacity: Arc<dyn PoolCapacity>,
    emr_steps: Arc<dyn ServiceSteps>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

impl Providers {
    /// The providers `config` describes: Jobs through `client`, EMR through
    /// the AWS SDK (AWS is contacted on first use).
    pub fn new(client: Client, config: &Config) -> Self {
        let jobs = JobSettings {
            spark_image: config.spark_image.clone(),
            ttl_seconds_after_finished: i32::try_from(config.job_ttl.as_secs()).unwrap_or(i32::MAX),
        };
        Self::with(
            Arc::new(KubernetesProvider::new(client, jobs)),
            Arc::new(AwsEmr::new(config.aws_endpoint_url.clone())),
            emr_settings(config),
        )
    }

    /// Providers over the given implementations (tests inject fakes here).
    pub fn with(kubernetes: Arc<dyn ComputeProvider>, emr: Arc<dyn EmrApi>, settings: EmrSettings) -> Self {
        let emr = Arc::new(EmrProvider::new(emr, settings));
        Self {
            kubernetes,
            emr: emr.clone(),
            emr_capacity: emr.clone(),
            emr_steps: emr,
        }
    }

    /// These providers with every run's provider seen through `wrap` (a
    /// test records what the provider was asked, and when).
    pub fn wrapped(self, wrap: impl Fn(Arc<dyn ComputeProvider>) -> Arc<dyn ComputeProvider>) -> Self {
        Self {
            kubernetes: wrap(self.kubernetes),
            emr: wrap(self.emr),
            emr_capacity: self.emr_capacity,
            emr_steps: self.emr_steps,
        }
    }

    /// The provider of a run on `pool`; when the pool is gone, the one its
    /// recorded attempts (`placed`) ran on.
    pub fn for_run(&self, pool: Option<&ClusterPool>, placed: &[AttemptHandle]) -> Arc<dyn ComputeProvider> {
        let emr = match pool {
            Some(pool) => pool.spec.provider == Provider::Emr,
            None => placed.iter().any(|h| matches!(h, AttemptHandle::EmrStep { .. })),
        };
        if emr { self.emr.clone() } else { self.kubernetes.clone() }
    }

    /// Long-running steps on emr pools (StreamConsumers on runtime emr).
    pub fn emr_steps(&self) -> Arc<dyn ServiceSteps> {
        self.emr_steps.clone()
    }

    /// The provider that holds capacity for `pool` outside Kubernetes, if any.
    pub fn capacity_for(&self, pool: &ClusterPool) -> Option<Arc<dyn PoolCapacity>> {
        match pool.spec.provider {
            Provider::Emr => Some(self.emr_capacity.clone()),
            Provider::Kubernetes | Provider::Eks => None,
        }
    }
}

fn emr_settings(config: &Config) -> EmrSettings {
    EmrSettings {
        operator: format!("{}/{}", config.lease_namespace, config.lease_name),
        default_region: config.aws_region.clone(),
        on_demand_prices: config.ec2_on_demand_prices.clone(),
        emr_uplift: config.emr_uplift_prices.clone(),
    }
}

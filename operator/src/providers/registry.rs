//! [`Providers`]: every compute provider of the operator, built once at
//! start-up (or injected by a test), and the one a pool's runs use.

use std::sync::Arc;

use kube::{Client, runtime::reflector::Store};

use super::{
    AttemptHandle, ComputeProvider, SeenJob,
    eks::{EksApis, EksAws, EksProvider, EksSettings},
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
    eks: Arc<dyn ComputeProvider>,
    eks_capacity: Arc<dyn PoolCapacity>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

impl Providers {
    /// The providers `config` describes: Jobs through `client` (observed
    /// from `jobs_seen`, a watch of the operator's Jobs), EMR through the AWS
    /// SDK (AWS is contacted on first use).
    pub fn new(client: Client, config: &Config, jobs_seen: Store<SeenJob>) -> Self {
        let jobs = JobSettings {
            spark_image: config.spark_image.clone(),
            ttl_seconds_after_finished: i32::try_from(config.job_ttl.as_secs()).unwrap_or(i32::MAX),
        };
        let aws = Arc::new(EksAws::new(config.aws_endpoint_url.clone()));
        let eks = Arc::new(EksProvider::new(
            EksApis {
                ec2: aws.clone(),
                queue: aws.clone(),
                cluster: aws,
            },
            client.clone(),
            jobs.clone(),
            eks_settings(config),
        ));
        Self::with(
            Arc::new(KubernetesProvider::new(client, jobs).observing(jobs_seen)),
            Arc::new(AwsEmr::new(config.aws_endpoint_url.clone())),
            emr_settings(config),
        )
        .with_eks(eks)
    }

    /// Providers over the given implementations (tests inject fakes here);
    /// eks pools use the kubernetes provider until [`Self::with_eks`].
    pub fn with(kubernetes: Arc<dyn ComputeProvider>, emr: Arc<dyn EmrApi>, settings: EmrSettings) -> Self {
        let emr = Arc::new(EmrProvider::new(emr, settings));
        Self {
            eks: kubernetes.clone(),
            eks_capacity: Arc::new(NoCapacity),
            kubernetes,
            emr: emr.clone(),
            emr_capacity: emr.clone(),
            emr_steps: emr,
        }
    }

    /// These providers with `eks` running eks pools.
    pub fn with_eks(self, eks: Arc<EksProvider>) -> Self {
        Self {
            eks: eks.clone(),
            eks_capacity: eks,
            ..self
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
            eks: wrap(self.eks),
            eks_capacity: self.eks_capacity,
        }
    }

    /// The provider of a run on `pool`; when the pool is gone, the one its
    /// recorded attempts (`placed`) ran on.
    pub fn for_run(&self, pool: Option<&ClusterPool>, placed: &[AttemptHandle]) -> Arc<dyn ComputeProvider> {
        match pool.map(|p| &p.spec.provider) {
            Some(Provider::Emr) => self.emr.clone(),
            Some(Provider::Eks) => self.eks.clone(),
            Some(Provider::Kubernetes) => self.kubernetes.clone(),
            // The pool is gone: a Job is read and deleted alike on both.
            None if placed.iter().any(|h| matches!(h, AttemptHandle::EmrStep { .. })) => self.emr.clone(),
            None => self.kubernetes.clone(),
        }
    }

    /// Long-running steps on emr pools (StreamConsumers on runtime emr).
    pub fn emr_steps(&self) -> Arc<dyn ServiceSteps> {
        self.emr_steps.clone()
    }

    /// The provider that holds capacity for `pool` outside Kubernetes, if any.
    pub fn capacity_for(&self, pool: &ClusterPool) -> Option<Arc<dyn PoolCapacity>> {
        match pool.spec.provider {
            Provider::Emr => Some(self.emr_capacity.clone()),
            Provider::Eks => Some(self.eks_capacity.clone()),
            Provider::Kubernetes => None,
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

fn eks_settings(config: &Config) -> EksSettings {
    EksSettings {
        operator: format!("{}/{}", config.lease_namespace, config.lease_name),
        default_region: config.aws_region.clone(),
        on_demand_prices: config.ec2_on_demand_prices.clone(),
    }
}

/// The capacity of eks pools while no eks provider is configured (tests
/// that build [`Providers::with`] only): it says so.
struct NoCapacity;

impl PoolCapacity for NoCapacity {
    fn calls(&self) -> &'static str {
        "an eks call"
    }

    fn reconcile<'a>(
        &'a self,
        _pool: &'a ClusterPool,
        _runs: &'a [Arc<crate::api::v1alpha1::EtlRun>],
        _streams: &'a [String],
        _log: &'a dyn super::pool::RequestLog,
        _now: jiff::Timestamp,
    ) -> futures::future::BoxFuture<'a, Result<super::pool::CapacityReport, super::ProviderError>> {
        Box::pin(async {
            Err(super::ProviderError::Unsupported {
                task: "any",
                provider: "eks",
                hint: "this operator was built without an eks provider",
            })
        })
    }

    fn release<'a>(
        &'a self,
        _pool: &'a ClusterPool,
    ) -> futures::future::BoxFuture<'a, Result<super::pool::Released, super::ProviderError>> {
        Box::pin(async {
            Ok(super::pool::Released {
                event: super::pool::PoolEvent {
                    warning: false,
                    reason: "NothingToRelease",
                    note: "no eks provider: nothing was launched".to_owned(),
                    counter: None,
                },
                terminated: 0,
            })
        })
    }
}

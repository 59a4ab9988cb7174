//! A controller [`Context`] for reconciler scenario tests: its client talks
//! to a [`FakeApi`], its caches hold what the test seeded, and every run's
//! provider is seen through [`Recording`], which notes what the API server
//! held for the run at the moment the provider was asked to act. That is
//! what the ordering guarantees are about (intent in status before the
//! attempt exists; cancel before the final status).

use std::sync::{Arc, Mutex};

use clap::Parser;
use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use kube::Resource;
use serde::{Serialize, de::DeserializeOwned};

pub(crate) use crate::providers::emr::{api::StepState, fake::FakeEmr};

use super::FakeApi;
use crate::{
    api::v1alpha1::{ClusterPool, EtlJob, EtlRun, RunPhase},
    config::Config,
    controllers::{Context, caches::Caches},
    metrics::Metrics,
    providers::{
        AttemptHandle, AttemptRef, AttemptRequest, AttemptState, ComputeProvider, Profile, ProviderError, Providers,
        emr::{EmrApi, EmrSettings},
        kubernetes::{JobSettings, KubernetesProvider},
    },
};

/// A provider call and what the API server held for the run then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    /// `start`, `observe`, `cancel`, `release` or `cost`.
    pub op: &'static str,
    /// The attempt.
    pub attempt: i32,
    /// Attempts in the run's stored status at that moment.
    pub stored_attempts: usize,
    /// The run's stored phase at that moment.
    pub stored_phase: Option<RunPhase>,
    /// The run's stored finalizers at that moment.
    pub stored_finalizers: Vec<String>,
}

/// A provider that records what it is asked, then asks the real one.
pub(crate) struct Recording {
    inner: Arc<dyn ComputeProvider>,
    api: FakeApi,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Recording {
    fn note(&self, op: &'static str, target: &AttemptRef) {
        let stored: Option<EtlRun> = self.api.get(Some(&target.namespace), &target.run);
        let status = stored.as_ref().and_then(|r| r.status.clone()).unwrap_or_default();
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).push(Asked {
            op,
            attempt: target.attempt,
            stored_attempts: status.attempts.len(),
            stored_phase: status.phase,
            stored_finalizers: stored.and_then(|r| r.metadata.finalizers).unwrap_or_default(),
        });
    }
}

impl ComputeProvider for Recording {
    fn profile(&self) -> Profile {
        self.inner.profile()
    }

    fn intent(&self, target: &AttemptRef) -> AttemptHandle {
        self.inner.intent(target)
    }

    fn start<'a>(&'a self, request: &'a AttemptRequest) -> BoxFuture<'a, Result<AttemptHandle, ProviderError>> {
        self.note("start", &request.target);
        self.inner.start(request)
    }

    fn observe<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<AttemptState, ProviderError>> {
        self.note("observe", attempt);
        self.inner.observe(attempt)
    }

    fn cancel<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.note("cancel", attempt);
        self.inner.cancel(attempt)
    }

    fn release<'a>(&'a self, attempt: &'a AttemptRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.note("release", attempt);
        self.inner.release(attempt)
    }

    fn cost<'a>(
        &'a self,
        attempts: &'a [AttemptRef],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Option<f64>>, ProviderError>> {
        attempts.iter().for_each(|a| self.note("cost", a));
        async move { self.inner.cost(attempts, now).await }.boxed()
    }
}

/// An emr pool (`analytics/spark`, region us-east-1) with instance fleets.
pub(crate) fn emr_pool() -> ClusterPool {
    let mut pool = crate::providers::emr::request::tests::pool();
    pool.metadata.uid = None;
    pool
}

/// A Context over a fake API server, with the objects a test seeded.
pub(crate) struct Scenario {
    /// The API server.
    pub api: FakeApi,
    /// What reconcilers get.
    pub ctx: Arc<Context>,
    /// The DynamoDB lease tables StreamConsumers read.
    pub lease_tables: Arc<crate::lease_table::MemoryLeaseTable>,
    /// The Glue Data Catalog (region us-east-1 by default).
    pub catalog: Arc<ade_catalog::MemoryCatalog>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Scenario {
    /// Seeds `runs`, `jobs` and `pools` (as the API server stores them, with
    /// uids and resourceVersions) into the API server and the caches; EMR
    /// calls go to `emr`.
    pub(crate) fn new(runs: &[EtlRun], jobs: &[EtlJob], pools: &[ClusterPool], emr: Arc<dyn EmrApi>) -> Self {
        let (api, client) = FakeApi::new();
        let runs = seed(&api, runs);
        let jobs = seed(&api, jobs);
        let pools = seed(&api, pools);
        let config = Config::try_parse_from(["ade-operator"]).expect("default configuration");
        let mut ctx = Context::new(client.clone(), Arc::new(Metrics::default()), &config, "test".into());
        let jobs_settings = JobSettings {
            spark_image: "spark:test".into(),
            ttl_seconds_after_finished: 3600,
        };
        let settings = EmrSettings {
            operator: "ade-system/ade-operator".into(),
            default_region: Some("us-east-1".into()),
            ..EmrSettings::default()
        };
        let asked = Arc::new(Mutex::new(Vec::new()));
        let recording = {
            let (api, asked) = (api.clone(), asked.clone());
            move |inner: Arc<dyn ComputeProvider>| -> Arc<dyn ComputeProvider> {
                Arc::new(Recording {
                    inner,
                    api: api.clone(),
                    asked: asked.clone(),
                })
            }
        };
        ctx.providers =
            Providers::with(Arc::new(KubernetesProvider::new(client, jobs_settings)), emr, settings).wrapped(recording);
        ctx.caches = Caches::of(runs, jobs, pools);
        let lease_tables = Arc::new(crate::lease_table::MemoryLeaseTable::default());
        ctx.lease_table = lease_tables.clone();
        let catalog = Arc::new(ade_catalog::MemoryCatalog::default());
        ctx.catalog = catalog.clone();
        ctx.aws_region = Some("us-east-1".into());
        Self {
            api,
            ctx: Arc::new(ctx),
            lease_tables,
            catalog,
            asked,
        }
    }

    /// What the providers were asked so far.
    pub(crate) fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The run `name` in `namespace` as the API server holds it.
    pub(crate) fn run(&self, namespace: &str, name: &str) -> Option<EtlRun> {
        self.api.get(Some(namespace), name)
    }
}

fn seed<K>(api: &FakeApi, objects: &[K]) -> Vec<K>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    objects.iter().map(|o| api.insert(o)).collect()
}

//! [`EmrApi`] on the AWS SDK: aws-sdk-emr for clusters and steps, aws-sdk-ec2
//! for spot prices only. Credentials come from aws-config's default chain
//! (environment, profile, IRSA web identity, EKS Pod Identity, instance
//! metadata); the endpoint can be overridden for emulators. The SDK types
//! stay in this module.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_ec2 as ec2;
use aws_sdk_emr as emr;
use aws_sdk_emr::{error::ProvideErrorMetadata, types as t};
use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;

mod convert;
pub(crate) mod error;

use self::convert::{configuration, datetime, instances, step_state, timestamp};
use self::error::api_error;
use super::{
    api::{ApiError, ApiResult, ClusterInfo, ClusterSpec, ClusterSummary, EmrApi, StepInfo, StepSpec},
    observe::cluster_state,
    pricing::SpotPrice,
};
use crate::aws::{Regional, static_credentials};

/// States of clusters that exist or are going away.
const ACTIVE: [t::ClusterState; 5] = [
    t::ClusterState::Starting,
    t::ClusterState::Bootstrapping,
    t::ClusterState::Running,
    t::ClusterState::Waiting,
    t::ClusterState::Terminating,
];

/// The real EMR and EC2 APIs.
#[derive(Debug)]
pub struct AwsEmr {
    clients: Regional<(emr::Client, ec2::Client)>,
}

impl AwsEmr {
    /// Credentials from the default chain; `endpoint` overrides every AWS
    /// endpoint (an emulator). Nothing is loaded until the first call.
    pub fn new(endpoint: Option<String>) -> Self {
        Self {
            clients: Regional::new(endpoint, None),
        }
    }

    /// Fixed credentials instead of the default chain: for emulators and tests.
    pub fn with_static_credentials(endpoint: Option<String>, access_key: &str, secret_key: &str) -> Self {
        Self::with_credentials(endpoint, static_credentials(access_key, secret_key))
    }

    /// `credentials` instead of the default chain.
    pub fn with_credentials(endpoint: Option<String>, credentials: SharedCredentialsProvider) -> Self {
        Self {
            clients: Regional::new(endpoint, Some(credentials)),
        }
    }

    async fn clients(&self, region: &str) -> (emr::Client, ec2::Client) {
        self.clients
            .get(region, |base, region| {
                let emr_conf = emr::config::Builder::from(base)
                    .region(emr::config::Region::new(region.clone()))
                    .build();
                let ec2_conf = ec2::config::Builder::from(base)
                    .region(ec2::config::Region::new(region))
                    .build();
                (emr::Client::from_conf(emr_conf), ec2::Client::from_conf(ec2_conf))
            })
            .await
    }
}

impl AwsEmr {
    async fn run_job_flow_impl(&self, region: &str, spec: &ClusterSpec) -> ApiResult<String> {
        let (client, _) = self.clients(region).await;
        let out = client
            .run_job_flow()
            .name(&spec.name)
            .release_label(&spec.release_label)
            .set_applications(Some(
                spec.applications
                    .iter()
                    .map(|a| t::Application::builder().name(a).build())
                    .collect(),
            ))
            .service_role(&spec.service_role)
            .job_flow_role(&spec.instance_profile)
            .set_log_uri(spec.log_uri.clone())
            .instances(instances(spec))
            .set_configurations(Some(spec.configurations.iter().map(configuration).collect()))
            .set_bootstrap_actions(Some(
                spec.bootstrap_actions
                    .iter()
                    .map(|b| {
                        t::BootstrapActionConfig::builder()
                            .name(&b.name)
                            .script_bootstrap_action(
                                t::ScriptBootstrapActionConfig::builder()
                                    .path(&b.path)
                                    .set_args(Some(b.args.clone()))
                                    .build(),
                            )
                            .build()
                    })
                    .collect(),
            ))
            .step_concurrency_level(spec.step_concurrency)
            .auto_termination_policy(
                t::AutoTerminationPolicy::builder()
                    .idle_timeout(spec.auto_termination_idle_seconds)
                    .build(),
            )
            .set_tags(Some(
                spec.tags
                    .iter()
                    .map(|(k, v)| t::Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .visible_to_all_users(true)
            // RunJobFlow takes no idempotency token: an SDK retry after a lost
            // answer would create a second cluster. The caller settles a failed
            // call by the name it recorded first (`requests`).
            .customize()
            .config_override(emr::config::Builder::default().retry_config(emr::config::retry::RetryConfig::disabled()))
            .send()
            .await
            .map_err(api_error("RunJobFlow"))?;
        out.job_flow_id.ok_or_else(|| ApiError {
            action: "RunJobFlow",
            message: "the answer carries no cluster id".to_owned(),
            category: "aws-api",
        })
    }

    async fn list_clusters_impl(
        &self,
        region: &str,
        active: bool,
        created_after: Option<Timestamp>,
    ) -> ApiResult<Vec<ClusterSummary>> {
        let (client, _) = self.clients(region).await;
        let states = if active {
            ACTIVE.to_vec()
        } else {
            vec![t::ClusterState::Terminated, t::ClusterState::TerminatedWithErrors]
        };
        let mut pages = client
            .list_clusters()
            .set_cluster_states(Some(states))
            .set_created_after(created_after.map(datetime))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let c = item.map_err(api_error("ListClusters"))?;
            out.push(ClusterSummary {
                id: c.id.unwrap_or_default(),
                name: c.name.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    async fn describe_cluster_impl(&self, region: &str, id: &str) -> ApiResult<Option<ClusterInfo>> {
        let (client, _) = self.clients(region).await;
        let out = match client.describe_cluster().cluster_id(id).send().await {
            Ok(out) => out,
            Err(e) if e.code() == Some("InvalidRequestException") => return Ok(None),
            Err(e) => return Err(api_error("DescribeCluster")(e)),
        };
        let Some(c) = out.cluster else { return Ok(None) };
        let status = c.status.as_ref();
        let reason = status.and_then(|s| s.state_change_reason.as_ref());
        let state_name = status
            .and_then(|s| s.state.as_ref())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let timeline = status.and_then(|s| s.timeline.as_ref());
        let message = reason.and_then(|r| r.message.clone()).filter(|m| !m.is_empty());
        Ok(Some(ClusterInfo {
            id: c.id.clone().unwrap_or_else(|| id.to_owned()),
            name: c.name.clone().unwrap_or_default(),
            state: cluster_state(
                &state_name,
                reason.and_then(|r| r.code.as_ref()).map(|c| c.as_str()),
                message.as_deref(),
            ),
            state_name,
            state_message: message,
            created_at: timestamp(timeline.and_then(|t| t.creation_date_time.as_ref()))
                .unwrap_or(Timestamp::UNIX_EPOCH),
            ready_at: timestamp(timeline.and_then(|t| t.ready_date_time.as_ref())),
            ended_at: timestamp(timeline.and_then(|t| t.end_date_time.as_ref())),
            tags: c
                .tags()
                .iter()
                .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
                .collect(),
        }))
    }

    async fn list_steps_impl(&self, region: &str, cluster: &str) -> ApiResult<Vec<StepInfo>> {
        let (client, _) = self.clients(region).await;
        let mut pages = client.list_steps().cluster_id(cluster).into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let s = item.map_err(api_error("ListSteps"))?;
            let status = s.status.as_ref();
            let timeline = status.and_then(|s| s.timeline.as_ref());
            let failure = status.and_then(|s| s.failure_details.as_ref());
            let message = failure
                .and_then(|f| f.message.clone().or_else(|| f.reason.clone()))
                .or_else(|| {
                    status
                        .and_then(|s| s.state_change_reason.as_ref())
                        .and_then(|r| r.message.clone())
                })
                .filter(|m| !m.is_empty());
            out.push(StepInfo {
                id: s.id.clone().unwrap_or_default(),
                name: s.name.clone().unwrap_or_default(),
                state: step_state(status.and_then(|s| s.state.as_ref())),
                message,
                started_at: timestamp(timeline.and_then(|t| t.start_date_time.as_ref())),
                ended_at: timestamp(timeline.and_then(|t| t.end_date_time.as_ref())),
            });
        }
        Ok(out)
    }

    async fn add_step_impl(&self, region: &str, cluster: &str, step: &StepSpec) -> ApiResult<String> {
        let (client, _) = self.clients(region).await;
        let config = t::StepConfig::builder()
            .name(&step.name)
            .action_on_failure(t::ActionOnFailure::Continue)
            .hadoop_jar_step(
                t::HadoopJarStepConfig::builder()
                    .jar("command-runner.jar")
                    .set_args(Some(step.args.clone()))
                    .build(),
            )
            .build();
        let out = client
            .add_job_flow_steps()
            .job_flow_id(cluster)
            .steps(config)
            .send()
            .await
            .map_err(api_error("AddJobFlowSteps"))?;
        out.step_ids().first().cloned().ok_or_else(|| ApiError {
            action: "AddJobFlowSteps",
            message: "the answer carries no step id".to_owned(),
            category: "aws-api",
        })
    }

    async fn cancel_step_impl(&self, region: &str, cluster: &str, step: &str) -> ApiResult<()> {
        let (client, _) = self.clients(region).await;
        client
            .cancel_steps()
            .cluster_id(cluster)
            .step_ids(step)
            .step_cancellation_option(t::StepCancellationOption::SendInterrupt)
            .send()
            .await
            .map_err(api_error("CancelSteps"))?;
        Ok(())
    }

    async fn terminate_impl(&self, region: &str, clusters: &[String]) -> ApiResult<()> {
        if clusters.is_empty() {
            return Ok(());
        }
        let (client, _) = self.clients(region).await;
        client
            .terminate_job_flows()
            .set_job_flow_ids(Some(clusters.to_vec()))
            .send()
            .await
            .map_err(api_error("TerminateJobFlows"))?;
        Ok(())
    }

    async fn spot_prices_impl(
        &self,
        region: &str,
        instance_types: &[String],
        since: Timestamp,
    ) -> ApiResult<Vec<SpotPrice>> {
        let (_, client) = self.clients(region).await;
        spot_price_history(&client, instance_types, since).await
    }
}

/// EC2 `DescribeSpotPriceHistory` of `instance_types` (Linux) from `since`,
/// every page (a bounded number): what the emr and eks providers price spot
/// capacity with.
pub(crate) async fn spot_price_history(
    client: &ec2::Client,
    instance_types: &[String],
    since: Timestamp,
) -> ApiResult<Vec<SpotPrice>> {
    let mut out = Vec::new();
    let mut token = None;
    // A bounded number of pages: the history of a few types over hours.
    for _ in 0..20 {
        let page = client
            .describe_spot_price_history()
            .set_instance_types(Some(
                instance_types
                    .iter()
                    .map(|i| ec2::types::InstanceType::from(i.as_str()))
                    .collect(),
            ))
            .product_descriptions("Linux/UNIX")
            .start_time(ec2::primitives::DateTime::from_secs(since.as_second()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error("DescribeSpotPriceHistory"))?;
        for p in page.spot_price_history() {
            let (Some(kind), Some(price), Some(at)) = (&p.instance_type, &p.spot_price, &p.timestamp) else {
                continue;
            };
            let Ok(usd_per_hour) = price.parse::<f64>() else {
                continue;
            };
            let Ok(at) = Timestamp::new(at.secs(), 0) else { continue };
            out.push(SpotPrice {
                instance_type: kind.as_str().to_owned(),
                at,
                usd_per_hour,
            });
        }
        token = page.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

impl EmrApi for AwsEmr {
    fn run_job_flow<'a>(&'a self, region: &'a str, spec: &'a ClusterSpec) -> BoxFuture<'a, ApiResult<String>> {
        self.run_job_flow_impl(region, spec).boxed()
    }

    fn list_clusters<'a>(
        &'a self,
        region: &'a str,
        active: bool,
        created_after: Option<Timestamp>,
    ) -> BoxFuture<'a, ApiResult<Vec<ClusterSummary>>> {
        self.list_clusters_impl(region, active, created_after).boxed()
    }

    fn describe_cluster<'a>(&'a self, region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>> {
        self.describe_cluster_impl(region, id).boxed()
    }

    fn list_steps<'a>(&'a self, region: &'a str, cluster: &'a str) -> BoxFuture<'a, ApiResult<Vec<StepInfo>>> {
        self.list_steps_impl(region, cluster).boxed()
    }

    fn add_step<'a>(
        &'a self,
        region: &'a str,
        cluster: &'a str,
        step: &'a StepSpec,
    ) -> BoxFuture<'a, ApiResult<String>> {
        self.add_step_impl(region, cluster, step).boxed()
    }

    fn cancel_step<'a>(&'a self, region: &'a str, cluster: &'a str, step: &'a str) -> BoxFuture<'a, ApiResult<()>> {
        self.cancel_step_impl(region, cluster, step).boxed()
    }

    fn terminate<'a>(&'a self, region: &'a str, clusters: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        self.terminate_impl(region, clusters).boxed()
    }

    fn spot_prices<'a>(
        &'a self,
        region: &'a str,
        instance_types: &'a [String],
        since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>> {
        self.spot_prices_impl(region, instance_types, since).boxed()
    }
}

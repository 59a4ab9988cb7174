//! [`EksAws`], the eks provider's AWS calls, and [`Ec2Api`] on it (aws-sdk-ec2).
//! Credentials and the endpoint override come from
//! [`crate::aws::base_config`], as for emr. The SDK types stay in this module
//! and its two siblings.

use std::collections::BTreeMap;

use aws_sdk_ec2 as ec2;
use aws_sdk_ec2::{error::ProvideErrorMetadata, types as t};
use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;

use super::{
    api::{
        ApiResult, Ec2Api, FleetError, FleetOutcome, FleetSpec, InstanceInfo, InstanceState, Launched, SpotPrice,
        TemplateInfo, TemplateRef, TemplateSpec, TemplateVersion,
    },
    instance_types::{InstanceType, max_pods},
    interruptions,
};
use crate::{
    aws::Regional,
    providers::emr::{
        Market,
        aws::{error::api_error, spot_price_history},
    },
};

/// EC2's answer when a launch template of that name does not exist.
const TEMPLATE_NOT_FOUND: &str = "InvalidLaunchTemplateName.NotFoundException";
/// EC2's answer to an instance type it does not know.
const UNKNOWN_TYPE: &str = "InvalidInstanceType";
/// EC2's answer when a launch template id does not exist.
const TEMPLATE_ID_NOT_FOUND: &str = "InvalidLaunchTemplateId.NotFound";

/// The real AWS APIs of the eks provider: EC2 here, SQS in
/// [`super::aws_sqs`], EKS in [`super::aws_eks`].
#[derive(Debug)]
pub struct EksAws {
    clients: Regional<Clients>,
}

/// One region's clients.
#[derive(Debug, Clone)]
pub(super) struct Clients {
    ec2: ec2::Client,
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) eks: aws_sdk_eks::Client,
}

impl EksAws {
    /// Credentials from the default chain; `endpoint` overrides every AWS
    /// endpoint (an emulator). Nothing is loaded until the first call.
    pub fn new(endpoint: Option<String>) -> Self {
        Self {
            clients: Regional::new(endpoint, None),
        }
    }

    /// Fixed credentials instead of the default chain: for emulators and tests.
    pub fn with_static_credentials(endpoint: Option<String>, access_key: &str, secret_key: &str) -> Self {
        Self {
            clients: Regional::with_static_credentials(endpoint, access_key, secret_key),
        }
    }

    /// The clients of `region`.
    pub(super) async fn clients(&self, region: &str) -> Clients {
        self.clients
            .get(region, |base, region| Clients {
                ec2: ec2::Client::from_conf(
                    ec2::config::Builder::from(base)
                        .region(ec2::config::Region::new(region.clone()))
                        .build(),
                ),
                sqs: aws_sdk_sqs::Client::from_conf(
                    aws_sdk_sqs::config::Builder::from(base)
                        .region(aws_sdk_sqs::config::Region::new(region.clone()))
                        .build(),
                ),
                eks: aws_sdk_eks::Client::from_conf(
                    aws_sdk_eks::config::Builder::from(base)
                        .region(aws_sdk_eks::config::Region::new(region))
                        .build(),
                ),
            })
            .await
    }

    async fn client(&self, region: &str) -> ec2::Client {
        self.clients(region).await.ec2
    }

    async fn find_template_impl(&self, region: &str, name: &str) -> ApiResult<Option<TemplateInfo>> {
        let client = self.client(region).await;
        let found = match client
            .describe_launch_templates()
            .launch_template_names(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some(TEMPLATE_NOT_FOUND) => return Ok(None),
            Err(e) => return Err(api_error("DescribeLaunchTemplates")(e)),
        };
        let Some(id) = found
            .launch_templates()
            .iter()
            .find_map(|lt| lt.launch_template_id.clone())
        else {
            return Ok(None);
        };
        let mut versions = Vec::new();
        let mut token = None;
        for _ in 0..20 {
            let page = client
                .describe_launch_template_versions()
                .launch_template_id(&id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(api_error("DescribeLaunchTemplateVersions"))?;
            versions.extend(page.launch_template_versions().iter().filter_map(|v| {
                Some(TemplateVersion {
                    number: v.version_number?,
                    description: v.version_description.clone(),
                })
            }));
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(Some(TemplateInfo {
            id,
            name: name.to_owned(),
            versions,
        }))
    }

    async fn create_template_impl(&self, region: &str, spec: &TemplateSpec) -> ApiResult<TemplateInfo> {
        let out = self
            .client(region)
            .await
            .create_launch_template()
            .launch_template_name(&spec.name)
            .version_description(&spec.version_key)
            .launch_template_data(template_data(spec))
            .tag_specifications(tag_specification(t::ResourceType::LaunchTemplate, &spec.tags))
            .send()
            .await
            .map_err(api_error("CreateLaunchTemplate"))?;
        let template = out.launch_template;
        Ok(TemplateInfo {
            id: template
                .as_ref()
                .and_then(|t| t.launch_template_id.clone())
                .unwrap_or_default(),
            name: spec.name.clone(),
            versions: vec![TemplateVersion {
                number: template.as_ref().and_then(|t| t.latest_version_number).unwrap_or(1),
                description: Some(spec.version_key.clone()),
            }],
        })
    }

    async fn create_template_version_impl(&self, region: &str, id: &str, spec: &TemplateSpec) -> ApiResult<i64> {
        let out = self
            .client(region)
            .await
            .create_launch_template_version()
            .launch_template_id(id)
            .version_description(&spec.version_key)
            .launch_template_data(template_data(spec))
            .send()
            .await
            .map_err(api_error("CreateLaunchTemplateVersion"))?;
        Ok(out
            .launch_template_version
            .and_then(|v| v.version_number)
            .unwrap_or_default())
    }

    async fn delete_template_impl(&self, region: &str, id: &str) -> ApiResult<()> {
        match self
            .client(region)
            .await
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some(TEMPLATE_ID_NOT_FOUND | TEMPLATE_NOT_FOUND)) => Ok(()),
            Err(e) => Err(api_error("DeleteLaunchTemplate")(e)),
        }
    }

    async fn create_fleet_impl(&self, region: &str, spec: &FleetSpec) -> ApiResult<FleetOutcome> {
        let template = match &spec.template {
            TemplateRef::Id(id) => t::FleetLaunchTemplateSpecificationRequest::builder().launch_template_id(id),
            TemplateRef::Name(name) => t::FleetLaunchTemplateSpecificationRequest::builder().launch_template_name(name),
        }
        .version(&spec.version)
        .build();
        let config = t::FleetLaunchTemplateConfigRequest::builder()
            .launch_template_specification(template)
            .set_overrides(Some(
                spec.overrides
                    .iter()
                    .map(|o| {
                        t::FleetLaunchTemplateOverridesRequest::builder()
                            .instance_type(t::InstanceType::from(o.instance_type.as_str()))
                            .set_subnet_id(o.subnet_id.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let capacity_type = match spec.market {
            Market::Spot => t::DefaultTargetCapacityType::Spot,
            Market::OnDemand => t::DefaultTargetCapacityType::OnDemand,
        };
        let out = self
            .client(region)
            .await
            .create_fleet()
            .r#type(t::FleetType::Instant)
            .launch_template_configs(config)
            .target_capacity_specification(
                t::TargetCapacitySpecificationRequest::builder()
                    .total_target_capacity(spec.count)
                    .default_target_capacity_type(capacity_type)
                    .build(),
            )
            .spot_options(
                t::SpotOptionsRequest::builder()
                    .allocation_strategy(t::SpotAllocationStrategy::PriceCapacityOptimized)
                    .build(),
            )
            .on_demand_options(
                t::OnDemandOptionsRequest::builder()
                    .allocation_strategy(t::FleetOnDemandAllocationStrategy::LowestPrice)
                    .build(),
            )
            .tag_specifications(tag_specification(t::ResourceType::Instance, &spec.tags))
            .client_token(&spec.client_token)
            .send()
            .await
            .map_err(api_error("CreateFleet"))?;
        let instances = out
            .instances()
            .iter()
            .flat_map(|i| {
                let kind = i.instance_type().map(|k| k.as_str().to_owned()).unwrap_or_default();
                i.instance_ids().iter().map(move |id| Launched {
                    id: id.clone(),
                    instance_type: kind.clone(),
                })
            })
            .collect();
        let errors = out
            .errors()
            .iter()
            .map(|e| FleetError {
                instance_type: e
                    .launch_template_and_overrides()
                    .and_then(|l| l.overrides())
                    .and_then(|o| o.instance_type())
                    .map(|k| k.as_str().to_owned()),
                code: e.error_code().unwrap_or("Unknown").to_owned(),
                message: e.error_message().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(FleetOutcome { instances, errors })
    }

    async fn describe_instances_impl(
        &self,
        region: &str,
        tags: &BTreeMap<String, String>,
    ) -> ApiResult<Vec<InstanceInfo>> {
        let client = self.client(region).await;
        let filters: Vec<t::Filter> = tags
            .iter()
            .map(|(k, v)| t::Filter::builder().name(format!("tag:{k}")).values(v).build())
            .collect();
        let mut out = Vec::new();
        let mut token = None;
        // A bounded number of pages: a pool has at most a few hundred nodes.
        for _ in 0..50 {
            let page = client
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(api_error("DescribeInstances"))?;
            out.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(instance_info),
            );
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn terminate_instances_impl(&self, region: &str, ids: &[String]) -> ApiResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.client(region)
            .await
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(api_error("TerminateInstances"))?;
        Ok(())
    }

    async fn instance_types_impl(&self, region: &str, names: &[String]) -> ApiResult<Vec<InstanceType>> {
        let client = self.client(region).await;
        let mut out = Vec::new();
        // One call per type: EC2 refuses a whole call that names one type it
        // does not know.
        for name in names {
            let found = match client
                .describe_instance_types()
                .instance_types(t::InstanceType::from(name.as_str()))
                .send()
                .await
            {
                Ok(found) => found,
                Err(e) if e.code() == Some(UNKNOWN_TYPE) => continue,
                Err(e) => return Err(api_error("DescribeInstanceTypes")(e)),
            };
            out.extend(found.instance_types().iter().filter_map(|i| {
                let network = i.network_info()?;
                Some(InstanceType {
                    name: i.instance_type()?.as_str().to_owned(),
                    vcpus: u32::try_from(i.v_cpu_info()?.default_v_cpus()?).ok()?,
                    memory_mib: u64::try_from(i.memory_info()?.size_in_mib()?).ok()?,
                    max_pods: max_pods(
                        u32::try_from(network.maximum_network_interfaces()?).ok()?,
                        u32::try_from(network.ipv4_addresses_per_interface()?).ok()?,
                    ),
                })
            }));
        }
        Ok(out)
    }

    async fn tag_instance_impl(&self, region: &str, id: &str, key: &str, value: &str) -> ApiResult<()> {
        self.client(region)
            .await
            .create_tags()
            .resources(id)
            .tags(t::Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map_err(api_error("CreateTags"))?;
        Ok(())
    }
}

fn tag_specification(resource: t::ResourceType, tags: &BTreeMap<String, String>) -> t::TagSpecification {
    t::TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| t::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn template_data(spec: &TemplateSpec) -> t::RequestLaunchTemplateData {
    let profile = spec.instance_profile.as_ref().map(|p| {
        let builder = t::LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
        if p.starts_with("arn:") {
            builder.arn(p).build()
        } else {
            builder.name(p).build()
        }
    });
    t::RequestLaunchTemplateData::builder()
        .image_id(&spec.image_id)
        .set_iam_instance_profile(profile)
        .set_security_group_ids((!spec.security_group_ids.is_empty()).then(|| spec.security_group_ids.clone()))
        .user_data(&spec.user_data)
        .build()
}

fn instance_info(i: &t::Instance) -> Option<InstanceInfo> {
    let state = match i.state()?.name()? {
        t::InstanceStateName::Pending => InstanceState::Pending,
        t::InstanceStateName::Running => InstanceState::Running,
        t::InstanceStateName::ShuttingDown => InstanceState::ShuttingDown,
        t::InstanceStateName::Terminated => InstanceState::Terminated,
        t::InstanceStateName::Stopping => InstanceState::Stopping,
        t::InstanceStateName::Stopped => InstanceState::Stopped,
        _ => InstanceState::Pending,
    };
    Some(InstanceInfo {
        id: i.instance_id()?.to_owned(),
        instance_type: i.instance_type().map(|k| k.as_str().to_owned()).unwrap_or_default(),
        zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_owned(),
        market: match i.instance_lifecycle() {
            Some(t::InstanceLifecycleType::Spot) => Market::Spot,
            _ => Market::OnDemand,
        },
        state,
        state_reason: i
            .state_reason()
            .and_then(|r| r.code())
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        state_changed_at: i.state_transition_reason().and_then(interruptions::transition_time),
        launched_at: i.launch_time().and_then(|t| Timestamp::new(t.secs(), 0).ok()),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
    })
}

impl Ec2Api for EksAws {
    fn spot_prices<'a>(
        &'a self,
        region: &'a str,
        instance_types: &'a [String],
        since: Timestamp,
    ) -> BoxFuture<'a, ApiResult<Vec<SpotPrice>>> {
        async move {
            let client = self.client(region).await;
            spot_price_history(&client, instance_types, since).await
        }
        .boxed()
    }

    fn find_template<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<TemplateInfo>>> {
        self.find_template_impl(region, name).boxed()
    }

    fn create_template<'a>(
        &'a self,
        region: &'a str,
        spec: &'a TemplateSpec,
    ) -> BoxFuture<'a, ApiResult<TemplateInfo>> {
        self.create_template_impl(region, spec).boxed()
    }

    fn create_template_version<'a>(
        &'a self,
        region: &'a str,
        id: &'a str,
        spec: &'a TemplateSpec,
    ) -> BoxFuture<'a, ApiResult<i64>> {
        self.create_template_version_impl(region, id, spec).boxed()
    }

    fn delete_template<'a>(&'a self, region: &'a str, id: &'a str) -> BoxFuture<'a, ApiResult<()>> {
        self.delete_template_impl(region, id).boxed()
    }

    fn create_fleet<'a>(&'a self, region: &'a str, spec: &'a FleetSpec) -> BoxFuture<'a, ApiResult<FleetOutcome>> {
        self.create_fleet_impl(region, spec).boxed()
    }

    fn describe_instances<'a>(
        &'a self,
        region: &'a str,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, ApiResult<Vec<InstanceInfo>>> {
        self.describe_instances_impl(region, tags).boxed()
    }

    fn terminate_instances<'a>(&'a self, region: &'a str, ids: &'a [String]) -> BoxFuture<'a, ApiResult<()>> {
        self.terminate_instances_impl(region, ids).boxed()
    }

    fn tag_instance<'a>(
        &'a self,
        region: &'a str,
        id: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, ApiResult<()>> {
        self.tag_instance_impl(region, id, key, value).boxed()
    }

    fn instance_types<'a>(
        &'a self,
        region: &'a str,
        names: &'a [String],
    ) -> BoxFuture<'a, ApiResult<Vec<InstanceType>>> {
        self.instance_types_impl(region, names).boxed()
    }
}

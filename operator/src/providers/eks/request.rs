//! What the eks provider asks EC2 for, built from the pool: the launch
//! template the operator renders (content-hashed), the instant fleet of a
//! new node (the pool's instance types that hold its runs as overrides
//! across its subnets) and the tags that make an instance the pool's.
//!
//! Pure.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::{
    api::{ClusterInfo, FleetSpec, Override, TemplateRef, TemplateSpec},
    userdata::{self, JoinCluster, Registration},
};
use crate::{
    api::v1alpha1::{ClusterPool, EksCapacityType, EksPool},
    names,
    providers::emr::{Market, request::identity_tags},
};

pub use crate::providers::emr::request::{TAG_MANAGED_BY, TAG_MARKET, TAG_POOL_UID};

/// Tag: the request an instance was launched by (`status.clusterRequests`):
/// after a crash between `CreateFleet` and the status write, the instance is
/// found by it instead of launched again.
pub const TAG_REQUEST: &str = "ade.dev/request";
/// Tag: the EC2 `Name` of an instance.
pub const TAG_NAME: &str = "Name";
/// Most overrides one `CreateFleet` takes (instance types × subnets).
pub const MAX_OVERRIDES: usize = 300;

/// The name of the launch template the operator renders for `pool`.
pub fn template_name(pool: &ClusterPool) -> String {
    let name = format!("ade-{}-{}", pool.namespace().unwrap_or_default(), pool.name_any());
    // EC2 takes up to 128 characters; the uid's hash keeps a cut name unique.
    if name.len() <= 128 {
        name
    } else {
        let uid = pool.uid().unwrap_or_default();
        format!("{}-{}", &name[..111], names::hash(&uid))
    }
}

/// The name of a node request of `pool`, unique per `nonce`.
pub fn request_name(pool: &ClusterPool, nonce: &str) -> String {
    let mut prefix = format!("ade-{}-{}-", pool.namespace().unwrap_or_default(), pool.name_any());
    prefix.truncate(100);
    format!("{prefix}{}", &names::hash(nonce)[..8])
}

/// The tags of an instance of `pool` bought on `market` for request `request`.
pub fn instance_tags(
    pool: &ClusterPool,
    eks: &EksPool,
    market: Market,
    operator: &str,
    request: &str,
) -> BTreeMap<String, String> {
    let mut tags = identity_tags(pool, market, operator);
    tags.insert(
        format!("kubernetes.io/cluster/{}", eks.cluster_name),
        "owned".to_owned(),
    );
    tags.insert(TAG_REQUEST.to_owned(), request.to_owned());
    tags.insert(
        TAG_NAME.to_owned(),
        format!("ade-{}-{}", pool.namespace().unwrap_or_default(), pool.name_any()),
    );
    tags
}

/// The tags every instance of `pool` carries, whatever its market: what the
/// pool's instances are listed by.
pub fn pool_filter(pool: &ClusterPool) -> BTreeMap<String, String> {
    BTreeMap::from([(TAG_POOL_UID.to_owned(), pool.uid().unwrap_or_default())])
}

/// The labels and taint the pool's nodes register with.
pub fn registration(pool: &ClusterPool, eks: &EksPool) -> Registration {
    Registration::for_pool(
        &pool.namespace().unwrap_or_default(),
        &pool.name_any(),
        &pool.uid().unwrap_or_default(),
        &eks.node_labels,
    )
}

/// Whether the pool leaves something a node needs to join its cluster to
/// `eks:DescribeCluster` (it renders its template and does not set the
/// endpoint, certificate authority and service CIDR).
pub fn needs_describe(eks: &EksPool) -> bool {
    eks.launch_template.is_none()
        && (eks.api_server_endpoint.is_none() || eks.certificate_authority.is_none() || eks.service_cidr.is_none())
}

/// What a node joins: the pool's fields, each missing one from `described`
/// (`eks:DescribeCluster`); why not when neither has it.
pub fn join_cluster(eks: &EksPool, described: Option<&ClusterInfo>) -> Result<JoinCluster, String> {
    let pick = |field: &str, own: &Option<String>, theirs: Option<&Option<String>>| {
        own.clone()
            .or_else(|| theirs.cloned().flatten().filter(|v| !v.is_empty()))
            .ok_or_else(|| match described {
                Some(d) => format!(
                    "spec.eks.{field} is not set and eks:DescribeCluster of cluster {} (status {}) gives none",
                    eks.cluster_name,
                    if d.status.is_empty() { "unknown" } else { &d.status }
                ),
                None => format!("spec.eks.{field} is required when spec.eks.launchTemplate is not set"),
            })
    };
    Ok(JoinCluster {
        name: eks.cluster_name.clone(),
        api_server_endpoint: pick(
            "apiServerEndpoint",
            &eks.api_server_endpoint,
            described.map(|d| &d.endpoint),
        )?,
        certificate_authority: pick(
            "certificateAuthority",
            &eks.certificate_authority,
            described.map(|d| &d.certificate_authority),
        )?,
        service_cidr: pick("serviceCidr", &eks.service_cidr, described.map(|d| &d.service_cidr))?,
    })
}

/// The launch template the operator renders for `pool`, its nodes joining
/// `described` where the pool does not say (see [`join_cluster`]); why it
/// cannot when a field it needs is missing or a label is one the kubelet
/// refuses.
pub fn template_spec(
    pool: &ClusterPool,
    eks: &EksPool,
    described: Option<&ClusterInfo>,
    operator: &str,
) -> Result<TemplateSpec, String> {
    let missing = |field: &str| format!("spec.eks.{field} is required when spec.eks.launchTemplate is not set");
    let cluster = join_cluster(eks, described)?;
    let image_id = eks.ami_id.clone().ok_or_else(|| missing("amiId"))?;
    let user_data = userdata::render(&cluster, &registration(pool, eks)).map_err(|e| e.to_string())?;
    let mut tags = identity_tags(pool, Market::Spot, operator);
    tags.remove(TAG_MARKET);
    let profile = eks.instance_profile.clone().unwrap_or_default();
    let mut key_parts = vec![user_data.hash.as_str(), image_id.as_str(), profile.as_str()];
    key_parts.extend(eks.security_group_ids.iter().map(String::as_str));
    let version_key = format!("ade:{}", userdata::content_hash(key_parts));
    Ok(TemplateSpec {
        name: template_name(pool),
        version_key,
        image_id,
        instance_profile: eks.instance_profile.clone(),
        security_group_ids: eks.security_group_ids.clone(),
        user_data: user_data.base64,
        tags,
    })
}

/// The markets a new node is tried on, in order: the pool's capacity type,
/// and on-demand only while the interruption breaker says so.
pub fn markets(capacity_type: EksCapacityType, breaker: Market) -> Vec<Market> {
    match (capacity_type, breaker) {
        (EksCapacityType::OnDemand, _) | (_, Market::OnDemand) => vec![Market::OnDemand],
        (EksCapacityType::Spot, Market::Spot) => vec![Market::Spot],
        (EksCapacityType::SpotThenOnDemand, Market::Spot) => vec![Market::Spot, Market::OnDemand],
    }
}

/// The instant fleet of one node of `instance_types` (those that hold its
/// runs, preference order) across the pool's subnets, from `template`.
pub fn fleet_spec(
    eks: &EksPool,
    template: TemplateRef,
    version: String,
    instance_types: &[String],
    market: Market,
    tags: BTreeMap<String, String>,
) -> FleetSpec {
    let subnets: Vec<Option<String>> = if eks.subnet_ids.is_empty() {
        vec![None]
    } else {
        eks.subnet_ids.iter().cloned().map(Some).collect()
    };
    let overrides = instance_types
        .iter()
        .flat_map(|t| {
            subnets.iter().map(|s| Override {
                instance_type: t.clone(),
                subnet_id: s.clone(),
            })
        })
        .take(MAX_OVERRIDES)
        .collect();
    // One token per request and market: the same request asked again on
    // another market is another fleet.
    let client_token = names::hash(&format!(
        "{}/{market}",
        tags.get(TAG_REQUEST).map_or("", String::as_str)
    ));
    FleetSpec {
        template,
        version,
        overrides,
        market,
        count: 1,
        tags,
        client_token,
    }
}

/// The launch template a fleet of `pool` starts from: the user's, or the
/// operator's (`None`: render it).
pub fn user_template(eks: &EksPool) -> Option<(TemplateRef, String)> {
    let lt = eks.launch_template.as_ref()?;
    let template = match (&lt.id, &lt.name) {
        (Some(id), _) => TemplateRef::Id(id.clone()),
        (None, Some(name)) => TemplateRef::Name(name.clone()),
        (None, None) => return None,
    };
    Some((template, lt.version.clone().unwrap_or_else(|| "$Default".to_owned())))
}

#[cfg(test)]
#[path = "request_tests.rs"]
pub(crate) mod tests;

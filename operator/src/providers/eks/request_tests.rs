//! Unit tests (pure): the launch template, the fleet and the tags of an eks pool.

use super::*;
use crate::api::v1alpha1::ClusterPool;

pub(crate) const POOL: &str = r#"
provider: eks
region: us-east-1
capacity: { maxClusters: 3, maxRunsPerCluster: 2, idleTimeout: 5m }
eks:
  clusterName: data
  instanceTypes: [m5.xlarge, m5.2xlarge]
  capacityType: spot-then-on-demand
  subnetIds: [subnet-a, subnet-b]
  securityGroupIds: [sg-1]
  instanceProfile: ade-nodes
  amiId: ami-0123456789abcdef0
  apiServerEndpoint: https://ABC.gr7.us-east-1.eks.amazonaws.com
  certificateAuthority: Q0VSVElGSUNBVEU=
  serviceCidr: 10.100.0.0/16
  nodeLabels: { team: data }
"#;

pub(crate) fn pool() -> ClusterPool {
    let mut pool = ClusterPool::new("spot-nodes", serde_saphyr::from_str(POOL).expect("pool"));
    pool.metadata.namespace = Some("analytics".into());
    pool.metadata.uid = Some("uid-1".into());
    pool
}

fn eks(pool: &ClusterPool) -> &EksPool {
    pool.spec.eks.as_ref().expect("eks")
}

#[test]
fn the_template_joins_the_cluster_with_the_pools_label_and_taint() {
    let pool = pool();
    let spec = template_spec(&pool, eks(&pool), None, "ade-system/ade").expect("renders");
    assert_eq!(spec.name, "ade-analytics-spot-nodes");
    assert_eq!(spec.image_id, "ami-0123456789abcdef0");
    assert_eq!(spec.instance_profile.as_deref(), Some("ade-nodes"));
    assert_eq!(spec.security_group_ids, vec!["sg-1"]);
    assert!(spec.version_key.starts_with("ade:"), "{}", spec.version_key);
    assert_eq!(spec.tags.get(TAG_POOL_UID).map(String::as_str), Some("uid-1"));
    assert!(!spec.tags.contains_key(TAG_MARKET), "a template has no market");
    let registration = registration(&pool, eks(&pool));
    assert_eq!(registration.labels.get("team").map(String::as_str), Some("data"));
    assert_eq!(
        registration.labels.get(userdata::LABEL_POOL_UID).map(String::as_str),
        Some("uid-1")
    );
    assert_eq!(registration.taints, vec![userdata::pool_taint("uid-1")]);
}

#[test]
fn the_version_key_changes_with_what_the_nodes_get_and_only_then() {
    let pool = pool();
    let key = |p: &ClusterPool| template_spec(p, eks(p), None, "op").expect("renders").version_key;
    let same = key(&pool);
    assert_eq!(key(&pool), same, "stable");
    let mut other = pool.clone();
    other.spec.eks.as_mut().expect("eks").ami_id = Some("ami-0fedcba9876543210".into());
    assert_ne!(key(&other), same, "a new AMI");
    let mut other = pool.clone();
    other
        .spec
        .eks
        .as_mut()
        .expect("eks")
        .node_labels
        .insert("tier".into(), "batch".into());
    assert_ne!(key(&other), same, "a new label");
    let mut other = pool.clone();
    other.spec.capacity.max_clusters = 9;
    assert_eq!(key(&other), same, "capacity is not in the template");
}

#[test]
fn a_template_without_the_cluster_fields_says_which_is_missing() {
    let mut pool = pool();
    pool.spec.eks.as_mut().expect("eks").service_cidr = None;
    let err = template_spec(&pool, eks(&pool), None, "op").expect_err("missing");
    assert_eq!(
        err,
        "spec.eks.serviceCidr is required when spec.eks.launchTemplate is not set"
    );
}

#[test]
fn what_the_pool_does_not_say_comes_from_describe_cluster() {
    use crate::providers::eks::api::ClusterInfo;
    let described = ClusterInfo {
        status: "ACTIVE".into(),
        endpoint: Some("https://D.gr7.us-east-1.eks.amazonaws.com".into()),
        certificate_authority: Some("REVTQ1JJQkVE".into()),
        service_cidr: Some("172.20.0.0/16".into()),
    };
    let mut bare = pool();
    {
        let eks = bare.spec.eks.as_mut().expect("eks");
        eks.api_server_endpoint = None;
        eks.certificate_authority = None;
        eks.service_cidr = None;
    }
    assert!(!needs_describe(eks(&pool())), "the pool says everything");
    assert!(needs_describe(eks(&bare)));
    let mut own_cidr = bare.clone();
    own_cidr.spec.eks.as_mut().expect("eks").service_cidr = Some("10.100.0.0/16".into());
    let creating = ClusterInfo {
        status: "CREATING".into(),
        endpoint: Some(String::new()),
        ..described.clone()
    };
    type Case<'a> = (
        &'a ClusterPool,
        Option<&'a ClusterInfo>,
        Result<(&'a str, &'a str), &'a str>,
    );
    let cases: [Case; 4] = [
        (
            &bare,
            Some(&described),
            Ok(("https://D.gr7.us-east-1.eks.amazonaws.com", "172.20.0.0/16")),
        ),
        // The pool's own field wins.
        (
            &own_cidr,
            Some(&described),
            Ok(("https://D.gr7.us-east-1.eks.amazonaws.com", "10.100.0.0/16")),
        ),
        (
            &bare,
            Some(&creating),
            Err(
                "spec.eks.apiServerEndpoint is not set and eks:DescribeCluster of cluster data (status CREATING) gives none",
            ),
        ),
        (
            &bare,
            None,
            Err("spec.eks.apiServerEndpoint is required when spec.eks.launchTemplate is not set"),
        ),
    ];
    for (p, d, want) in cases {
        let got = join_cluster(eks(p), d).map(|c| (c.api_server_endpoint, c.service_cidr));
        let got = got
            .as_ref()
            .map(|(e, c)| (e.as_str(), c.as_str()))
            .map_err(String::as_str);
        assert_eq!(got, want);
    }
    let spec = template_spec(&bare, eks(&bare), Some(&described), "op").expect("renders");
    assert_ne!(
        spec.version_key,
        template_spec(&pool(), eks(&pool()), None, "op")
            .expect("renders")
            .version_key,
        "another cluster, another template version"
    );
}

#[test]
fn a_label_the_kubelet_refuses_is_refused_here() {
    let mut pool = pool();
    pool.spec
        .eks
        .as_mut()
        .expect("eks")
        .node_labels
        .insert("kubernetes.io/role".into(), "batch".into());
    let err = template_spec(&pool, eks(&pool), None, "op").expect_err("restricted");
    assert!(err.contains("kubernetes.io/role"), "{err}");
}

#[test]
fn markets_follow_the_capacity_type_and_the_breaker() {
    use crate::api::v1alpha1::EksCapacityType::*;
    assert_eq!(markets(Spot, Market::Spot), vec![Market::Spot]);
    assert_eq!(markets(OnDemand, Market::Spot), vec![Market::OnDemand]);
    assert_eq!(
        markets(SpotThenOnDemand, Market::Spot),
        vec![Market::Spot, Market::OnDemand]
    );
    assert_eq!(markets(Spot, Market::OnDemand), vec![Market::OnDemand]);
    assert_eq!(markets(SpotThenOnDemand, Market::OnDemand), vec![Market::OnDemand]);
}

#[test]
fn a_fleet_tries_every_fitting_type_in_every_subnet() {
    let pool = pool();
    let tags = instance_tags(&pool, eks(&pool), Market::Spot, "ade-system/ade", "req-1");
    let fleet = fleet_spec(
        eks(&pool),
        TemplateRef::Id("lt-1".into()),
        "3".into(),
        &["m5.xlarge".to_owned(), "m5.2xlarge".to_owned()],
        Market::Spot,
        tags,
    );
    let overrides: Vec<(&str, Option<&str>)> = fleet
        .overrides
        .iter()
        .map(|o| (o.instance_type.as_str(), o.subnet_id.as_deref()))
        .collect();
    assert_eq!(
        overrides,
        vec![
            ("m5.xlarge", Some("subnet-a")),
            ("m5.xlarge", Some("subnet-b")),
            ("m5.2xlarge", Some("subnet-a")),
            ("m5.2xlarge", Some("subnet-b")),
        ]
    );
    assert_eq!((fleet.count, fleet.version.as_str()), (1, "3"));
    let tag = |k: &str| fleet.tags.get(k).map(String::as_str);
    assert_eq!(tag("kubernetes.io/cluster/data"), Some("owned"));
    assert_eq!(tag(TAG_POOL_UID), Some("uid-1"));
    assert_eq!(tag("ade.dev/pool-namespace"), Some("analytics"));
    assert_eq!(tag("ade.dev/pool-name"), Some("spot-nodes"));
    assert_eq!(tag(TAG_MANAGED_BY), Some("ade-system/ade"));
    assert_eq!(tag(TAG_MARKET), Some("spot"));
    assert_eq!(tag(TAG_REQUEST), Some("req-1"));
}

#[test]
fn request_names_are_the_pools_and_unique_per_nonce() {
    let pool = pool();
    let a = request_name(&pool, "uid-1/1/0");
    let b = request_name(&pool, "uid-1/1/1");
    assert!(a.starts_with("ade-analytics-spot-nodes-"), "{a}");
    assert_ne!(a, b);
    assert_eq!(a, request_name(&pool, "uid-1/1/0"));
}

#[test]
fn a_users_template_is_used_as_named() {
    let mut pool = pool();
    let e = pool.spec.eks.as_mut().expect("eks");
    e.launch_template = Some(crate::api::v1alpha1::LaunchTemplateRef {
        id: None,
        name: Some("nodes".into()),
        version: None,
    });
    assert_eq!(
        user_template(eks(&pool)),
        Some((TemplateRef::Name("nodes".into()), "$Default".into()))
    );
}

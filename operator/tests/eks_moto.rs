//! Integration tests of the eks provider's EC2, SQS and EKS calls: the real
//! aws-sdk-ec2, aws-sdk-sqs and aws-sdk-eks against moto on 127.0.0.1, started and
//! stopped by each test (its launcher plays EventBridge, which puts EC2's
//! notices on a queue). The
//! provider's decisions over these calls (what to launch, pin, terminate)
//! are tested on the in-memory fake in src/providers/eks/provider_tests.rs.
//!
//! moto never refuses capacity: tools/moto's `fleet-failures` control makes
//! `CreateFleet` fail for named instance types on a market, with EC2's
//! `Errors` items, so the fallback is read from a real SDK answer.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use ade_moto::{InterruptionEvent, Moto};
use ade_operator::{
    api::v1alpha1::ClusterPool,
    providers::{
        eks::{
            EksAws,
            api::{ClusterApi, Ec2Api, FleetSpec, InstanceState, Override, QueueApi, TemplateRef},
            notices::{self, NoticeKind, TAG_NOTICE},
            request::{self, TAG_REQUEST},
        },
        emr::Market,
    },
};
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

const REGION: &str = "us-east-1";

fn pool(ami: &str) -> ClusterPool {
    let spec = format!(
        r#"
provider: eks
region: us-east-1
capacity: {{ maxClusters: 3, maxRunsPerCluster: 2 }}
eks:
  clusterName: data
  instanceTypes: [m5.xlarge, m5.2xlarge]
  capacityType: spot-then-on-demand
  instanceProfile: ade-nodes
  amiId: {ami}
  apiServerEndpoint: https://ABC.gr7.us-east-1.eks.amazonaws.com
  certificateAuthority: Q0VSVElGSUNBVEU=
  serviceCidr: 10.100.0.0/16
"#
    );
    let mut pool = ClusterPool::new("spot-nodes", serde_saphyr::from_str(&spec).unwrap());
    pool.metadata.namespace = Some("analytics".into());
    pool.metadata.uid = Some("uid-spot-nodes".into());
    pool
}

async fn raw(moto: &Moto) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// An AMI moto knows, and a subnet in us-east-1b.
async fn fixtures(client: &aws_sdk_ec2::Client) -> (String, String) {
    let images = client.describe_images().send().await.unwrap();
    let ami = images.images()[0].image_id().unwrap().to_owned();
    let vpc = client.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let subnet = client
        .create_subnet()
        .vpc_id(vpc.vpc().unwrap().vpc_id().unwrap())
        .cidr_block("10.0.1.0/24")
        .availability_zone("us-east-1b")
        .send()
        .await
        .unwrap();
    (ami, subnet.subnet().unwrap().subnet_id().unwrap().to_owned())
}

/// The pool over moto's AMI, its launch template's id (created through
/// `ec2`), and a subnet in us-east-1b.
async fn pool_with_template(moto: &Moto, ec2: &EksAws) -> (ClusterPool, String, String) {
    let (ami, subnet) = fixtures(&raw(moto).await).await;
    let pool = pool(&ami);
    let spec = request::template_spec(&pool, pool.spec.eks.as_ref().unwrap(), None, "op").unwrap();
    let template = ec2.create_template(REGION, &spec).await.unwrap().id;
    (pool, template, subnet)
}

fn fleet(pool: &ClusterPool, template: &str, subnet: &str, market: Market, request: &str) -> FleetSpec {
    let eks = pool.spec.eks.as_ref().unwrap();
    FleetSpec {
        template: TemplateRef::Id(template.to_owned()),
        version: "$Latest".into(),
        overrides: ["m5.xlarge", "m5.2xlarge"]
            .iter()
            .map(|t| Override {
                instance_type: (*t).to_owned(),
                subnet_id: Some(subnet.to_owned()),
            })
            .collect(),
        market,
        count: 1,
        tags: request::instance_tags(pool, eks, market, "ade-system/ade-operator", request),
        client_token: format!("{request}-{market}"),
    }
}

/// The launch template: created once with the content's key, found by name
/// with its versions, a new version for a new key, deleted.
#[tokio::test]
async fn launch_templates_are_created_versioned_and_deleted() {
    let moto = Moto::start();
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let (ami, _) = fixtures(&raw(&moto).await).await;
    let pool = pool(&ami);
    let spec = request::template_spec(&pool, pool.spec.eks.as_ref().unwrap(), None, "ade-system/ade-operator").unwrap();

    assert_eq!(ec2.find_template(REGION, &spec.name).await.unwrap(), None);
    let created = ec2.create_template(REGION, &spec).await.unwrap();
    assert!(created.id.starts_with("lt-"), "{created:?}");
    let found = ec2.find_template(REGION, &spec.name).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.versions.len(), 1);
    assert_eq!(
        found.versions[0].description.as_deref(),
        Some(spec.version_key.as_str())
    );

    // What moto stored is what nodeadm reads.
    let stored = raw(&moto)
        .await
        .describe_launch_template_versions()
        .launch_template_id(&created.id)
        .send()
        .await
        .unwrap();
    let data = stored.launch_template_versions()[0].launch_template_data().unwrap();
    assert_eq!(data.image_id(), Some(ami.as_str()));
    assert_eq!(data.user_data(), Some(spec.user_data.as_str()));
    assert_eq!(data.iam_instance_profile().and_then(|p| p.name()), Some("ade-nodes"));

    let mut changed = spec.clone();
    changed.version_key = "ade:changed".into();
    assert_eq!(
        ec2.create_template_version(REGION, &created.id, &changed)
            .await
            .unwrap(),
        2
    );
    let found = ec2.find_template(REGION, &spec.name).await.unwrap().unwrap();
    let keys: Vec<Option<&str>> = found.versions.iter().map(|v| v.description.as_deref()).collect();
    assert!(keys.contains(&Some("ade:changed")), "{keys:?}");

    ec2.delete_template(REGION, &created.id).await.unwrap();
    assert_eq!(ec2.find_template(REGION, &spec.name).await.unwrap(), None);
    // Gone already: nothing to do.
    ec2.delete_template(REGION, &created.id).await.unwrap();
}

/// An instant fleet launches one instance of the first override, tagged as
/// the pool's and found by those tags; spot without capacity answers with
/// EC2's errors and on-demand launches; terminate is seen in the listing.
#[tokio::test]
async fn instant_fleets_launch_tagged_instances_and_report_missing_capacity() {
    let moto = Moto::start();
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let (pool, template, subnet) = pool_with_template(&moto, &ec2).await;

    let first = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::Spot, "req-1"))
        .await
        .unwrap();
    assert_eq!(first.instances.len(), 1, "{first:?}");
    assert_eq!(first.instances[0].instance_type, "m5.xlarge");
    assert!(first.errors.is_empty());

    moto.fail_fleet(&["m5.xlarge"], "spot");
    let second = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::Spot, "req-2"))
        .await
        .unwrap();
    assert_eq!(second.instances[0].instance_type, "m5.2xlarge", "the next override");
    assert_eq!(second.errors.len(), 1, "{second:?}");
    assert_eq!(second.errors[0].instance_type.as_deref(), Some("m5.xlarge"));
    assert_eq!(second.errors[0].code, "InsufficientInstanceCapacity");

    moto.fail_fleet(&["m5.xlarge", "m5.2xlarge"], "spot");
    let none = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::Spot, "req-3"))
        .await
        .unwrap();
    assert!(none.instances.is_empty(), "{none:?}");
    assert_eq!(none.errors.len(), 2);
    let on_demand = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::OnDemand, "req-3"))
        .await
        .unwrap();
    assert_eq!(on_demand.instances.len(), 1, "on-demand is unaffected");
    moto.clear_fleet_failures();

    let listed = ec2
        .describe_instances(REGION, &request::pool_filter(&pool))
        .await
        .unwrap();
    let by_request: BTreeMap<&str, (&str, Market, &str)> = listed
        .iter()
        .map(|i| {
            (
                i.tags.get(TAG_REQUEST).map(String::as_str).unwrap(),
                (i.instance_type.as_str(), i.market, i.zone.as_str()),
            )
        })
        .collect();
    assert_eq!(
        by_request,
        BTreeMap::from([
            ("req-1", ("m5.xlarge", Market::Spot, "us-east-1b")),
            ("req-2", ("m5.2xlarge", Market::Spot, "us-east-1b")),
            ("req-3", ("m5.xlarge", Market::OnDemand, "us-east-1b")),
        ])
    );
    let one = &listed[0];
    assert_eq!(one.state, InstanceState::Running);
    assert_eq!(one.state_reason, None);
    assert_eq!(
        one.tags.get("kubernetes.io/cluster/data").map(String::as_str),
        Some("owned")
    );
    assert_eq!(
        one.tags.get("ade.dev/pool-name").map(String::as_str),
        Some("spot-nodes")
    );
    assert!(one.launched_at.is_some());

    // Another pool's instances are not this pool's.
    let mut other = pool.clone();
    other.metadata.uid = Some("uid-other".into());
    assert!(
        ec2.describe_instances(REGION, &request::pool_filter(&other))
            .await
            .unwrap()
            .is_empty()
    );

    let ids: Vec<String> = listed.iter().map(|i| i.id.clone()).collect();
    ec2.terminate_instances(REGION, &ids).await.unwrap();
    ec2.terminate_instances(REGION, &[]).await.unwrap();
    let after = ec2
        .describe_instances(REGION, &request::pool_filter(&pool))
        .await
        .unwrap();
    assert!(after.iter().all(|i| !i.state.is_live()), "{after:?}");
    assert!(
        after
            .iter()
            .all(|i| i.state_reason.as_deref() == Some("Client.UserInitiatedShutdown")),
        "{after:?}"
    );
}

/// A reclaimed spot instance reads as EC2 shows one (tools/moto's
/// `spot-interruption` control), and spot prices are EC2's history (its
/// `spot-prices` control; moto alone answers 0.00001 for every type).
#[tokio::test]
async fn reclaimed_spot_instances_and_spot_prices_read_as_ec2_gives_them() {
    use ade_operator::providers::eks::interruptions;

    let moto = Moto::start();
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let (pool, template, subnet) = pool_with_template(&moto, &ec2).await;
    let launched = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::Spot, "req-1"))
        .await
        .unwrap();
    let id = launched.instances[0].id.clone();
    let before = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(2))
        .unwrap();

    moto.interrupt_spot_instance(&id);
    let listed = ec2
        .describe_instances(REGION, &request::pool_filter(&pool))
        .await
        .unwrap();
    let reclaimed = listed.iter().find(|i| i.id == id).unwrap();
    assert_eq!(reclaimed.state, InstanceState::Terminated);
    assert_eq!(reclaimed.state_reason.as_deref(), Some(interruptions::SPOT_TERMINATION));
    assert!(interruptions::interrupted(reclaimed));
    let at = reclaimed.state_changed_at.expect("the time of the state change");
    assert!(at >= before && at <= jiff::Timestamp::now(), "{at}");

    moto.set_spot_prices(&[("m5.xlarge", 0.0712)]);
    let prices = ec2
        .spot_prices(REGION, &["m5.xlarge".to_owned()], before)
        .await
        .unwrap();
    assert!(!prices.is_empty());
    assert!(
        prices
            .iter()
            .all(|p| p.instance_type == "m5.xlarge" && (p.usd_per_hour - 0.0712).abs() < 1e-9 && p.at <= before),
        "{prices:?}"
    );
}

/// EC2's notices, as EventBridge puts them on a queue, are read with the
/// real SQS API (hidden once received, gone once deleted), and a notice's
/// record on the instance is read back by `DescribeInstances`.
#[tokio::test]
async fn notices_are_read_from_a_real_queue_and_recorded_on_the_instance() {
    let moto = Moto::start();
    let sqs = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    const QUEUE: &str = "ade-interruptions";
    assert_eq!(sqs.queue_url(REGION, QUEUE).await.unwrap(), None, "no queue yet");
    let url = moto.create_queue(QUEUE);
    assert_eq!(
        sqs.queue_url(REGION, QUEUE).await.unwrap().as_deref(),
        Some(url.as_str())
    );

    let (pool, template, subnet) = pool_with_template(&moto, &ec2).await;
    let id = ec2
        .create_fleet(REGION, &fleet(&pool, &template, &subnet, Market::Spot, "req-1"))
        .await
        .unwrap()
        .instances[0]
        .id
        .clone();
    moto.send_interruption_event(QUEUE, &id, InterruptionEvent::SpotWarning);
    moto.send_interruption_event(QUEUE, &id, InterruptionEvent::Rebalance);
    moto.send_interruption_event(QUEUE, &id, InterruptionEvent::StateChange("shutting-down"));

    let received = sqs.receive(REGION, &url, 10, 30).await.unwrap();
    let mut kinds: Vec<String> = received
        .iter()
        .map(|m| {
            let notice = notices::parse(&m.body).unwrap_or_else(|e| panic!("{e}: {}", m.body));
            assert_eq!(notice.instance, id);
            notice.kind.label()
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "instance-shutting-down",
            "rebalance-recommendation",
            "spot-interruption-warning"
        ]
    );
    assert!(
        sqs.receive(REGION, &url, 10, 30).await.unwrap().is_empty(),
        "received messages are hidden"
    );
    let receipts: Vec<String> = received.iter().map(|m| m.receipt.clone()).collect();
    sqs.delete(REGION, &url, &receipts).await.unwrap();

    let warning = received
        .iter()
        .map(|m| notices::parse(&m.body).unwrap())
        .find(|n| n.kind == NoticeKind::SpotWarning)
        .unwrap();
    ec2.tag_instance(REGION, &id, TAG_NOTICE, &warning.record())
        .await
        .unwrap();
    let listed = ec2
        .describe_instances(REGION, &request::pool_filter(&pool))
        .await
        .unwrap();
    let tagged = listed.iter().find(|i| i.id == id).unwrap();
    assert_eq!(notices::warned_at(&tagged.tags), Some(warning.at));
}

/// What a pool does not say of its cluster comes from the real
/// `DescribeCluster`, and renders the nodes' user data; a cluster that does
/// not exist is `None`, not an error.
#[tokio::test]
async fn describe_cluster_gives_what_nodes_join_with() {
    let moto = Moto::start();
    let api = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    assert_eq!(api.describe_cluster(REGION, "data").await.unwrap(), None);
    let (ami, subnet) = fixtures(&raw(&moto).await).await;
    let conf = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_sdk_eks::config::Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let created = aws_sdk_eks::Client::from_conf(conf)
        .create_cluster()
        .name("data")
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids(&subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let endpoint = created.cluster().unwrap().endpoint().unwrap().to_owned();

    let described = api.describe_cluster(REGION, "data").await.unwrap().unwrap();
    assert_eq!(described.status, "ACTIVE");
    assert_eq!(described.endpoint.as_deref(), Some(endpoint.as_str()));
    assert!(described.certificate_authority.is_some_and(|c| !c.is_empty()));
    assert_eq!(described.service_cidr.as_deref(), Some("172.20.0.0/16"));

    let mut bare = pool(&ami);
    let eks = bare.spec.eks.as_mut().unwrap();
    eks.api_server_endpoint = None;
    eks.certificate_authority = None;
    eks.service_cidr = None;
    let described = api.describe_cluster(REGION, "data").await.unwrap();
    let joins = request::join_cluster(bare.spec.eks.as_ref().unwrap(), described.as_ref()).unwrap();
    assert_eq!(
        (joins.api_server_endpoint.as_str(), joins.service_cidr.as_str()),
        (endpoint.as_str(), "172.20.0.0/16")
    );
    request::template_spec(&bare, bare.spec.eks.as_ref().unwrap(), described.as_ref(), "op")
        .expect("moto's cluster renders the nodes' user data");
}

/// The sizes of instance types outside the built-in table come from the real
/// `DescribeInstanceTypes`; for a type in the table they agree with it, and
/// a type EC2 does not know is left out.
#[tokio::test]
async fn describe_instance_types_sizes_types_as_the_builtin_table_does() {
    use ade_operator::providers::eks::instance_types::Catalog;

    let moto = Moto::start();
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let names = ["m5.xlarge", "t3.medium", "x9.huge"].map(str::to_owned);
    let found = ec2.instance_types(REGION, &names).await.unwrap();
    let got: Vec<(&str, u32, u64, u32)> = found
        .iter()
        .map(|t| (t.name.as_str(), t.vcpus, t.memory_mib, t.max_pods))
        .collect();
    assert_eq!(got, [("m5.xlarge", 4, 16384, 58), ("t3.medium", 2, 4096, 17)]);
    assert_eq!(Catalog::builtin().get("m5.xlarge"), Some(&found[0]));
}

/// A `CreateFleet` sent again with its `ClientToken` (the SDK retrying a call
/// whose answer was lost) answers the same instance and launches nothing more.
#[tokio::test]
async fn a_fleet_sent_again_with_its_client_token_launches_once() {
    let moto = Moto::start();
    let ec2 = EksAws::with_static_credentials(Some(moto.endpoint()), "testing", "testing");
    let (pool, template, subnet) = pool_with_template(&moto, &ec2).await;
    let fleet = fleet(&pool, &template, &subnet, Market::Spot, "req-once");
    let first = ec2.create_fleet(REGION, &fleet).await.unwrap();
    let again = ec2.create_fleet(REGION, &fleet).await.unwrap();
    assert_eq!(first.instances, again.instances);
    let listed = ec2
        .describe_instances(REGION, &request::pool_filter(&pool))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

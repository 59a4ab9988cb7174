//! What the pool's capacity reconcile asks of AWS beyond EC2's instances:
//! what its nodes need to join the cluster from `eks:DescribeCluster`
//! (asked once while the answer is fresh; a cluster that does not exist is
//! refused with what to fix), and the sizes of instance types outside the
//! built-in table from `DescribeInstanceTypes` (each asked once).
#![allow(clippy::unwrap_used)]

use jiff::Timestamp;

use super::super::{
    api::ClusterInfo,
    provider_tests::{World, reconcile, world},
};
use crate::providers::pool::MemoryLog;

fn undescribed(mut w: World) -> World {
    let eks = w.pool.spec.eks.as_mut().unwrap();
    eks.api_server_endpoint = None;
    eks.certificate_authority = None;
    eks.service_cidr = None;
    w
}

#[tokio::test]
async fn nodes_join_the_cluster_describe_cluster_gives() {
    let w = undescribed(world(&["r1"]));
    w.cluster.set(
        "data",
        ClusterInfo {
            status: "ACTIVE".into(),
            endpoint: Some("https://D.gr7.us-east-1.eks.amazonaws.com".into()),
            certificate_authority: Some("REVTQ1JJQkVE".into()),
            service_cidr: Some("172.20.0.0/16".into()),
        },
    );
    let log = MemoryLog::default();
    let first = reconcile(&w, &log, Timestamp::now()).await;
    assert_ne!(
        first.readiness.reason, "InvalidNodeTemplate",
        "{}",
        first.readiness.message
    );
    assert_eq!(w.ec2.templates().len(), 1);
    assert_eq!(w.ec2.fleets().len(), 1, "{:?}", w.ec2.calls());
    reconcile(&w, &log, Timestamp::now()).await;
    assert_eq!(w.cluster.described("data"), 1, "the answer is kept while fresh");
}

#[tokio::test]
async fn a_cluster_that_does_not_exist_is_refused_with_what_to_fix() {
    let w = undescribed(world(&["r1"]));
    let report = reconcile(&w, &MemoryLog::default(), Timestamp::now()).await;
    assert_eq!(report.readiness.reason, "InvalidNodeTemplate");
    assert!(
        report
            .readiness
            .message
            .starts_with("EKS cluster data does not exist in us-east-1 (eks:DescribeCluster)"),
        "{}",
        report.readiness.message
    );
    assert!(w.ec2.fleets().is_empty() && w.ec2.templates().is_empty());
}

#[tokio::test]
async fn an_instance_type_outside_the_table_is_learned_from_ec2_once() {
    use crate::providers::eks::instance_types::{InstanceType, max_pods};
    let mut w = world(&["r1"]);
    w.pool.spec.eks.as_mut().unwrap().instance_types = vec!["m7i.xlarge".into(), "x9.huge".into()];
    w.ec2.add_instance_type(InstanceType {
        name: "m7i.xlarge".into(),
        vcpus: 4,
        memory_mib: 16384,
        max_pods: max_pods(4, 15),
    });
    let log = MemoryLog::default();
    let first = reconcile(&w, &log, Timestamp::now()).await;
    let fleets = w.ec2.fleets();
    assert_eq!(fleets.len(), 1, "{:?}", w.ec2.calls());
    assert_eq!(fleets[0].overrides[0].instance_type, "m7i.xlarge");
    // A type EC2 does not know either is named, and not asked about again.
    assert!(
        first.readiness.message.contains(
            "instance types neither the operator nor EC2's DescribeInstanceTypes knows are not used: x9.huge"
        ),
        "{}",
        first.readiness.message
    );
    reconcile(&w, &log, Timestamp::now()).await;
    let asked: Vec<String> = w
        .ec2
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("DescribeInstanceTypes"))
        .collect();
    assert_eq!(asked, ["DescribeInstanceTypes m7i.xlarge x9.huge"]);
}

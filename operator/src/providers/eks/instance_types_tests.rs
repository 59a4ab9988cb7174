//! Tables for the instance type catalog: the EKS AMIs' reservations, what
//! each type leaves to Pods, a container's requests and how sizes read.

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity};

use super::*;

const MI: u64 = 1 << 20;

fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
            .collect(),
    )
}

#[test]
fn kube_reserved_follows_the_eks_ami_formula() {
    let cpu = [
        (1, 60),
        (2, 70),
        (3, 75),
        (4, 80),
        (8, 90),
        (16, 110),
        (32, 150),
        (36, 160),
    ];
    for (vcpus, want) in cpu {
        assert_eq!(kube_reserved_cpu_millis(vcpus), want, "{vcpus} vCPUs");
    }
    let memory = [(29, 574), (58, 893), (234, 2829)];
    for (pods, want) in memory {
        assert_eq!(kube_reserved_memory_mib(pods), want, "{pods} Pods");
    }
}

#[test]
fn what_each_type_leaves_to_pods() {
    let catalog = Catalog::builtin();
    // (type, millicores, MiB): vCPUs less kubeReserved less 200m of DaemonSets;
    // memory less 7.5%, kubeReserved, 100Mi eviction and 256Mi of DaemonSets.
    let table = [
        ("m5.large", 1730, 6647),
        ("c5.large", 1730, 2858),
        ("r5.large", 1730, 14225),
        ("m5.xlarge", 3720, 13906),
        ("m5.2xlarge", 7710, 29061),
        ("m5.4xlarge", 15690, 57435),
        ("c5.9xlarge", 35640, 65013),
    ];
    for (name, cpu, mib) in table {
        let t = catalog.get(name).unwrap_or_else(|| panic!("{name} is built in"));
        assert_eq!(t.allocatable(), Resources::new(cpu, mib * MI), "{name}");
    }
    for family in ["c5", "c6i", "m5", "m6i", "r5", "r6i"] {
        for size in ["large", "xlarge", "2xlarge", "4xlarge"] {
            let name = format!("{family}.{size}");
            let t = catalog.get(&name).unwrap_or_else(|| panic!("{name} is built in"));
            let (cap, alloc) = (t.capacity(), t.allocatable());
            assert!(alloc.fits_in(cap) && alloc != cap, "{name}: {alloc} of {cap}");
            assert!(alloc.cpu_millis > 0 && alloc.memory_bytes > 0, "{name}: {alloc}");
        }
    }
    assert!(catalog.get("m5.metal").is_none());
}

#[test]
fn the_catalog_takes_more_types() {
    let mut catalog = Catalog::builtin();
    catalog.insert(InstanceType {
        name: "m7i.large".into(),
        vcpus: 2,
        memory_mib: 8192,
        max_pods: 29,
    });
    let added = catalog.get("m7i.large").map(InstanceType::allocatable);
    assert_eq!(added, catalog.get("m5.large").map(InstanceType::allocatable));
    catalog.insert(InstanceType {
        name: "m5.large".into(),
        vcpus: 2,
        memory_mib: 4096,
        max_pods: 29,
    });
    assert_eq!(catalog.get("m5.large").map(|t| t.memory_mib), Some(4096), "replaced");
}

#[test]
fn requests_of_a_container() {
    let table: [(&str, ResourceRequirements, Resources); 5] = [
        (
            "requests",
            ResourceRequirements {
                requests: quantities(&[("cpu", "500m"), ("memory", "1Gi")]),
                ..ResourceRequirements::default()
            },
            Resources::new(500, 1024 * MI),
        ),
        (
            "limits stand in for missing requests",
            ResourceRequirements {
                limits: quantities(&[("cpu", "2"), ("memory", "512Mi")]),
                ..ResourceRequirements::default()
            },
            Resources::new(2000, 512 * MI),
        ),
        (
            "decimal quantities round, not up",
            ResourceRequirements {
                requests: quantities(&[("cpu", "100m"), ("memory", "1G")]),
                ..ResourceRequirements::default()
            },
            Resources::new(100, 1_000_000_000),
        ),
        (
            "a fraction of a core",
            ResourceRequirements {
                requests: quantities(&[("cpu", "0.1")]),
                ..ResourceRequirements::default()
            },
            Resources::new(100, 0),
        ),
        (
            "requests win over limits",
            ResourceRequirements {
                requests: quantities(&[("cpu", "250m")]),
                limits: quantities(&[("cpu", "1"), ("memory", "2Gi")]),
                ..ResourceRequirements::default()
            },
            Resources::new(250, 2048 * MI),
        ),
    ];
    for (name, resources, want) in table {
        assert_eq!(Resources::requested(Some(&resources)), want, "{name}");
    }
    assert_eq!(Resources::requested(None), Resources::default(), "no resources");
}

#[test]
fn sizes_read_like_a_person_writes_them() {
    let table = [
        (Resources::new(2000, 8192 * MI), "2 CPU, 8.0Gi"),
        (Resources::new(1730, 6647 * MI), "1.73 CPU, 6.5Gi"),
        (Resources::new(1500, 1536 * MI), "1.5 CPU, 1.5Gi"),
        (Resources::new(250, 512 * MI), "250m CPU, 512Mi"),
        (Resources::new(10050, 1), "10.05 CPU, 1Mi"),
        (Resources::default(), "0 CPU, 0Mi"),
    ];
    for (r, want) in table {
        assert_eq!(r.to_string(), want);
    }
}

#[test]
fn arithmetic_saturates() {
    let a = Resources::new(1000, 2 * MI);
    let b = Resources::new(1500, MI);
    assert_eq!(a.plus(b), Resources::new(2500, 3 * MI));
    assert_eq!(a.minus(b), Resources::new(0, MI));
    assert!(!b.fits_in(a) && !a.fits_in(b));
    assert!(Resources::new(1000, MI).fits_in(a));
    assert_eq!(
        Resources::new(u64::MAX, 0).plus(Resources::new(1, 0)),
        Resources::new(u64::MAX, 0)
    );
}

#[test]
fn max_pods_follow_the_network_interfaces_as_the_builtin_table_does() {
    // (interfaces, addresses each, what the EKS AMIs' eni-max-pods.txt says)
    let cases = [(3, 10, 29), (4, 15, 58), (8, 30, 234), (3, 6, 17), (2, 4, 8)];
    for (enis, ips, want) in cases {
        assert_eq!(max_pods(enis, ips), want, "{enis} × {ips}");
    }
    let catalog = Catalog::builtin();
    assert_eq!(catalog.get("m5.xlarge").map(|t| t.max_pods), Some(max_pods(4, 15)));
    let names = vec!["m5.xlarge".to_owned(), "m7i.xlarge".to_owned()];
    assert_eq!(catalog.unknown(&names), ["m7i.xlarge"]);
}

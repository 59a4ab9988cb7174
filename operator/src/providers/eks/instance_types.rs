//! The instance types an eks pool's nodes can be, and what each leaves to
//! the pool's Pods once the kubelet, the system and the node's DaemonSets
//! have their share: the sizes the bin-packer ([`super::binpack`]) packs runs
//! into. A built-in table of common types; the provider adds a pool's
//! others from EC2 `DescribeInstanceTypes` ([`max_pods`] from their network
//! interfaces).
//!
//! Pure.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::api::core::v1::ResourceRequirements;

use crate::cost;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Memory the guest never shows the kubelet (kernel, firmware, hypervisor),
/// per mille of the nominal size: Karpenter's default `vmMemoryOverheadPercent` (7.5%).
pub const VM_MEMORY_OVERHEAD_PERMILLE: u64 = 75;
/// The EKS AMIs' `evictionHard` of `memory.available<100Mi`.
pub const EVICTION_HARD_MIB: u64 = 100;
/// An allowance for the requests of the DaemonSets every EKS node runs
/// (aws-node, kube-proxy, eks-pod-identity-agent, a CSI node plugin).
pub const DAEMONSET_CPU_MILLIS: u64 = 200;
/// Memory of the same allowance.
pub const DAEMONSET_MEMORY_MIB: u64 = 256;

/// CPU and memory: what a run requests, or what a node has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

impl Resources {
    /// `cpu_millis` millicores and `memory_bytes` bytes.
    pub const fn new(cpu_millis: u64, memory_bytes: u64) -> Self {
        Self {
            cpu_millis,
            memory_bytes,
        }
    }

    /// What a container with `resources` requests (limits stand in for
    /// missing requests, as Kubernetes does); nothing when it has none.
    pub fn requested(resources: Option<&ResourceRequirements>) -> Self {
        let reserved = cost::reserved(resources);
        Self {
            cpu_millis: whole(reserved.cpu * 1000.0),
            memory_bytes: whole(reserved.memory_gib * GIB as f64),
        }
    }

    /// Whether `self` fits in `room`.
    pub fn fits_in(self, room: Self) -> bool {
        self.cpu_millis <= room.cpu_millis && self.memory_bytes <= room.memory_bytes
    }

    /// `self + other`, saturating.
    pub fn plus(self, other: Self) -> Self {
        Self::new(
            self.cpu_millis.saturating_add(other.cpu_millis),
            self.memory_bytes.saturating_add(other.memory_bytes),
        )
    }

    /// `self - other`, floored at nothing.
    pub fn minus(self, other: Self) -> Self {
        Self::new(
            self.cpu_millis.saturating_sub(other.cpu_millis),
            self.memory_bytes.saturating_sub(other.memory_bytes),
        )
    }
}

/// For messages: `2 CPU, 8.0Gi`, `1.73 CPU, 6.5Gi`, `250m CPU, 512Mi`.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.cpu_millis;
        let cpu = if m.is_multiple_of(1000) {
            (m / 1000).to_string()
        } else if m < 1000 {
            format!("{m}m")
        } else {
            format!("{}.{:03}", m / 1000, m % 1000).trim_end_matches('0').to_owned()
        };
        let b = self.memory_bytes;
        let memory = if b >= GIB {
            format!("{:.1}Gi", b as f64 / GIB as f64)
        } else {
            format!("{}Mi", b.div_ceil(MIB))
        };
        write!(f, "{cpu} CPU, {memory}")
    }
}

/// A non-negative amount rounded to a whole number: quantities are decimal,
/// so `0.1` CPU is 100m, not the 101m a ceiling of `100.00000000000001` gives.
fn whole(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 { x.round() as u64 } else { 0 }
}

/// One EC2 instance type: its size, and what the kubelet leaves to Pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    /// E.g. `m5.xlarge`.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// Nominal memory, MiB.
    pub memory_mib: u64,
    /// Most Pods the kubelet runs (the VPC CNI's ENI limit, without prefix delegation).
    pub max_pods: u32,
}

impl InstanceType {
    /// The nominal size.
    pub fn capacity(&self) -> Resources {
        Resources::new(u64::from(self.vcpus) * 1000, self.memory_mib * MIB)
    }

    /// What Pods of the pool can request on a node of this type, estimated:
    ///
    /// - CPU: the vCPUs less the EKS AMIs' `kubeReserved` CPU
    ///   ([`kube_reserved_cpu_millis`]) less [`DAEMONSET_CPU_MILLIS`];
    /// - memory: the nominal size less [`VM_MEMORY_OVERHEAD_PERMILLE`], less
    ///   the EKS AMIs' `kubeReserved` memory ([`kube_reserved_memory_mib`]),
    ///   less the eviction threshold ([`EVICTION_HARD_MIB`]) and
    ///   [`DAEMONSET_MEMORY_MIB`].
    ///
    /// No `systemReserved` (the EKS AMIs set none).
    pub fn allocatable(&self) -> Resources {
        let cpu = (u64::from(self.vcpus) * 1000)
            .saturating_sub(kube_reserved_cpu_millis(self.vcpus))
            .saturating_sub(DAEMONSET_CPU_MILLIS);
        let visible = self.memory_mib * (1000 - VM_MEMORY_OVERHEAD_PERMILLE) / 1000;
        let memory = visible
            .saturating_sub(kube_reserved_memory_mib(self.max_pods))
            .saturating_sub(EVICTION_HARD_MIB)
            .saturating_sub(DAEMONSET_MEMORY_MIB);
        Resources::new(cpu, memory * MIB)
    }
}

/// The EKS AMIs' `kubeReserved` CPU: 6% of the first core, 1% of the second,
/// 0.5% of the third and fourth, 0.25% of every further one (rounded up).
pub fn kube_reserved_cpu_millis(vcpus: u32) -> u64 {
    let n = u64::from(vcpus);
    // tenths of a millicore
    let tenths =
        600 * n.min(1) + 100 * n.saturating_sub(1).min(1) + 50 * n.saturating_sub(2).min(2) + 25 * n.saturating_sub(4);
    tenths.div_ceil(10)
}

/// The EKS AMIs' `kubeReserved` memory: 255 MiB and 11 MiB per Pod the node may run.
pub fn kube_reserved_memory_mib(max_pods: u32) -> u64 {
    255 + 11 * u64::from(max_pods)
}

/// Most Pods the VPC CNI runs on a type with `enis` network interfaces of
/// `ips_per_eni` IPv4 addresses each, without prefix delegation: every
/// address but each interface's primary, plus the two host-network Pods
/// (aws-node, kube-proxy).
pub fn max_pods(enis: u32, ips_per_eni: u32) -> u32 {
    enis.saturating_mul(ips_per_eni.saturating_sub(1)).saturating_add(2)
}

/// The built-in instance types: name, vCPUs, memory in GiB, max Pods.
const BUILTIN: &[(&str, u32, u64, u32)] = &[
    ("c5.large", 2, 4, 29),
    ("c5.xlarge", 4, 8, 58),
    ("c5.2xlarge", 8, 16, 58),
    ("c5.4xlarge", 16, 32, 234),
    ("c5.9xlarge", 36, 72, 234),
    ("c6i.large", 2, 4, 29),
    ("c6i.xlarge", 4, 8, 58),
    ("c6i.2xlarge", 8, 16, 58),
    ("c6i.4xlarge", 16, 32, 234),
    ("c6i.8xlarge", 32, 64, 234),
    ("m5.large", 2, 8, 29),
    ("m5.xlarge", 4, 16, 58),
    ("m5.2xlarge", 8, 32, 58),
    ("m5.4xlarge", 16, 64, 234),
    ("m5.8xlarge", 32, 128, 234),
    ("m6i.large", 2, 8, 29),
    ("m6i.xlarge", 4, 16, 58),
    ("m6i.2xlarge", 8, 32, 58),
    ("m6i.4xlarge", 16, 64, 234),
    ("m6i.8xlarge", 32, 128, 234),
    ("r5.large", 2, 16, 29),
    ("r5.xlarge", 4, 32, 58),
    ("r5.2xlarge", 8, 64, 58),
    ("r5.4xlarge", 16, 128, 234),
    ("r5.8xlarge", 32, 256, 234),
    ("r6i.large", 2, 16, 29),
    ("r6i.xlarge", 4, 32, 58),
    ("r6i.2xlarge", 8, 64, 58),
    ("r6i.4xlarge", 16, 128, 234),
    ("r6i.8xlarge", 32, 256, 234),
];

/// The instance types the packer knows: the built-in table, plus what the
/// caller adds (e.g. from EC2 `DescribeInstanceTypes` for a pool's others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    types: BTreeMap<String, InstanceType>,
}

impl Catalog {
    /// The built-in table: c5, c6i, m5, m6i, r5 and r6i from `large` to `8xlarge` (`9xlarge` for c5).
    pub fn builtin() -> Self {
        let mut catalog = Self::default();
        for (name, vcpus, gib, max_pods) in BUILTIN {
            catalog.insert(InstanceType {
                name: (*name).to_owned(),
                vcpus: *vcpus,
                memory_mib: gib * 1024,
                max_pods: *max_pods,
            });
        }
        catalog
    }

    /// Adds `t`, or replaces the type of that name.
    pub fn insert(&mut self, t: InstanceType) {
        self.types.insert(t.name.clone(), t);
    }

    /// The type named `name`.
    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.types.get(name)
    }

    /// Those of `names` it does not know.
    pub fn unknown<'a>(&self, names: &'a [String]) -> Vec<&'a str> {
        names
            .iter()
            .filter(|n| !self.types.contains_key(n.as_str()))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
#[path = "instance_types_tests.rs"]
mod tests;

//! The `eks` compute provider: runs as Jobs on EC2 nodes the operator adds
//! to the EKS cluster it runs in, only while there is work.
//!
//! Design (issue 14):
//!
//! - **Nodes carry the pool's identity.** Every instance is launched by an
//!   instant `CreateFleet` from the pool's launch template (rendered by the
//!   operator, versioned by its content hash, or the user's) and tagged with
//!   the pool's namespace, name and uid, the operator, its market and the
//!   request it answers. The instance's user data (a `nodeadm` NodeConfig)
//!   registers its Node with the label `ade.dev/pool-uid=<uid>` and the
//!   `NoSchedule` taint of that key: only the pool's runs land there.
//! - **Requests are recorded before they are made.** A node request is
//!   written to the pool's `status.clusterRequests` before `CreateFleet`;
//!   an instance is found by its request tag, so a crash between the call
//!   and the status write never launches a second node.
//! - **Runs are placed by the operator.** An attempt is the kubernetes
//!   provider's Job, pinned to one Ready node with room
//!   (`kubernetes.io/hostname`, the pool's toleration), under the pool's
//!   lock: `maxRunsPerCluster` is runs per node, and a node's Jobs say
//!   whether it is busy. An attempt with no room waits unplaced; the pool's
//!   reconcile bin-packs the waiting runs' requests onto new nodes
//!   ([`binpack`], [`nodes::plan`]).
//! - **Teardown is job-aware.** A node is cordoned and terminated only when
//!   no live Job is on it and it has been idle for `idleTimeout` (down to
//!   `minClusters`), or when it never registered within
//!   `registrationTimeout`. A run whose node went away is `Interrupted`
//!   and retried without using its retry limit.
//! - **Spot interruptions feed the breaker.** The pool's instances, listed
//!   every reconcile, show which spot nodes EC2 reclaimed
//!   ([`interruptions`]): their Nodes are cordoned, the loss is told once,
//!   and the breaker emr pools use picks the market of new nodes
//!   (on-demand while it is open, spot again after `coolDown`).
//! - **EC2's notices come first when a queue is named.** A pool's
//!   `interruptionQueue` (EventBridge → SQS) brings the two-minute spot
//!   warning, rebalance recommendations and state changes ([`notices`],
//!   read by [`queue`]): the node is recorded (instance tag, Node
//!   annotation) and cordoned, its runs move before EC2 reclaims it, and
//!   the breaker counts the warning.
//! - **Effects go through one small trait.** [`api::Ec2Api`] names the EC2
//!   calls in domain types; [`aws::EksAws`] implements it on the AWS SDK.
//!
//! - **Cost is per node-hour.** A node costs its hours at its market's
//!   price; a run attempt pays its requested share of its node for its time
//!   there ([`cost`]).
//!
//! - **The cluster describes itself.** What a pool does not say of the
//!   cluster its nodes join (endpoint, certificate authority, service CIDR)
//!   comes from `eks:DescribeCluster` ([`request::join_cluster`]).

pub mod api;
pub mod aws;
pub mod aws_eks;
pub mod aws_sqs;
pub mod binpack;
mod capacity;
pub mod cost;
pub mod instance_types;
pub mod interruptions;
pub mod nodes;
pub mod notices;
mod pool_status;
pub mod provider;
mod queue;
pub mod request;
pub mod userdata;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod provider_tests;

pub use self::{
    api::{ClusterApi, Ec2Api, QueueApi},
    aws::EksAws,
    provider::{EksApis, EksProvider, EksSettings},
};

/// The key of a pool's placement lock (emr's).
use crate::providers::emr::provider::placing_key;

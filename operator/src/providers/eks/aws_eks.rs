//! [`ClusterApi`] on [`EksAws`] (aws-sdk-eks): what a node needs to join the
//! cluster, for pools that do not say it themselves.

use aws_sdk_eks::error::ProvideErrorMetadata;
use futures::{FutureExt, future::BoxFuture};

use super::{
    api::{ApiResult, ClusterApi, ClusterInfo},
    aws::EksAws,
};
use crate::providers::emr::aws::error::api_error;

/// EKS's answer when a cluster does not exist.
const NOT_FOUND: &str = "ResourceNotFoundException";

impl EksAws {
    async fn describe_cluster_impl(&self, region: &str, name: &str) -> ApiResult<Option<ClusterInfo>> {
        let client = self.clients(region).await.eks;
        let out = match client.describe_cluster().name(name).send().await {
            Ok(out) => out,
            Err(e) if e.code() == Some(NOT_FOUND) => return Ok(None),
            Err(e) => return Err(api_error("DescribeCluster")(e)),
        };
        let Some(cluster) = out.cluster else {
            return Ok(None);
        };
        Ok(Some(ClusterInfo {
            status: cluster.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            endpoint: cluster.endpoint,
            certificate_authority: cluster.certificate_authority.and_then(|c| c.data),
            service_cidr: cluster.kubernetes_network_config.and_then(|n| n.service_ipv4_cidr),
        }))
    }
}

impl ClusterApi for EksAws {
    fn describe_cluster<'a>(&'a self, region: &'a str, name: &'a str) -> BoxFuture<'a, ApiResult<Option<ClusterInfo>>> {
        self.describe_cluster_impl(region, name).boxed()
    }
}

//! EC2 as moto keeps it, through boto3 from moto's virtualenv: the
//! instances the operator launched for eks pools (for the tests' assertions,
//! and for [`crate::eks_nodes`], which also reads their user data as a node
//! would), and the fixtures an eks pool needs (an AMI, a subnet).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::Command,
};

use serde_json::Value;

use crate::moto::{Moto, S3 as _};

/// Lists instances: argv = pool uid (or ""), JSON list of ids whose user data
/// is not wanted, "1" to read the user data of the other running ones.
const LIST: &str = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError

uid, skip, want = sys.argv[1], set(json.loads(sys.argv[2])), sys.argv[3] == "1"
ec2 = boto3.client("ec2")
filters = [{"Name": "tag-key", "Values": ["ade.dev/managed-by"]}]
if uid:
    filters.append({"Name": "tag:ade.dev/pool-uid", "Values": [uid]})
fleets = None

def from_template(instance_id):
    # The launch template version the instance's instant fleet launched it from.
    global fleets
    if fleets is None:
        fleets = ec2.describe_fleets()["Fleets"]
    for fleet in fleets:
        for launched in fleet.get("Instances") or []:
            if instance_id in launched.get("InstanceIds", []):
                spec = launched["LaunchTemplateAndOverrides"]["LaunchTemplateSpecification"]
                versions = ec2.describe_launch_template_versions(
                    LaunchTemplateId=spec["LaunchTemplateId"], Versions=[str(spec["Version"])]
                )["LaunchTemplateVersions"]
                return versions[0]["LaunchTemplateData"].get("UserData") if versions else None
    return None

out = []
for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
    for reservation in page["Reservations"]:
        for i in reservation["Instances"]:
            item = {
                "id": i["InstanceId"],
                "state": i["State"]["Name"],
                "type": i.get("InstanceType", ""),
                "zone": i.get("Placement", {}).get("AvailabilityZone", ""),
                "dns": i.get("PrivateDnsName", ""),
                "ip": i.get("PrivateIpAddress", ""),
                "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
            }
            if want and item["state"] == "running" and item["id"] not in skip:
                try:
                    attribute = ec2.describe_instance_attribute(InstanceId=item["id"], Attribute="userData")
                    item["userData"] = attribute.get("UserData", {}).get("Value")
                    item["userDataFrom"] = "DescribeInstanceAttribute"
                except ClientError:
                    pass
                if not item.get("userData"):
                    try:
                        item["userData"] = from_template(item["id"])
                        item["userDataFrom"] = "launch template"
                    except (ClientError, KeyError, IndexError):
                        pass
            out.append(item)
print(json.dumps(out))
"#;

/// An EC2 instance as moto lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// `pending`, `running`, `shutting-down`, `terminated`, …
    pub state: String,
    /// E.g. `m5.xlarge`.
    pub instance_type: String,
    /// Availability zone.
    pub zone: String,
    /// `ip-10-0-1-4.ec2.internal`.
    pub private_dns: String,
    /// `10.0.1.4`.
    pub private_ip: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its user data (base64), when it was asked for and found.
    pub user_data: Option<String>,
    /// Where the user data was read: `DescribeInstanceAttribute` or `launch template`.
    pub user_data_from: Option<String>,
}

impl Instance {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let tags = v["tags"].as_object().map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        });
        Self {
            id: s("id"),
            state: s("state"),
            instance_type: s("type"),
            zone: s("zone"),
            private_dns: s("dns"),
            private_ip: s("ip"),
            tags: tags.unwrap_or_default(),
            user_data: v["userData"].as_str().map(str::to_owned),
            user_data_from: v["userDataFrom"].as_str().map(str::to_owned),
        }
    }

    /// Whether it still exists (neither `shutting-down` nor `terminated`).
    pub fn is_live(&self) -> bool {
        !matches!(self.state.as_str(), "shutting-down" | "terminated")
    }

    /// The name its kubelet registers: its private DNS name, else EC2's
    /// resource name `<id>.ec2.internal`.
    pub fn node_name(&self) -> String {
        if self.private_dns.is_empty() {
            format!("{}.ec2.internal", self.id)
        } else {
            self.private_dns.clone()
        }
    }

    /// `aws:///<zone>/<id>`, as the AWS cloud provider sets it.
    pub fn provider_id(&self) -> String {
        format!("aws:///{}/{}", self.zone, self.id)
    }
}

/// boto3 against a moto, for a thread that polls it (a [`Moto`] stays with the test).
#[derive(Debug, Clone)]
pub struct Ec2 {
    python: PathBuf,
    env: Vec<(String, String)>,
}

impl Ec2 {
    /// boto3 against `moto`.
    pub fn of(moto: &Moto) -> Self {
        Self::new(moto.python(), moto.env())
    }

    /// boto3 from `python` (moto's virtualenv) with `env` (`AWS_ENDPOINT_URL`
    /// and credentials), for a moto this process did not start.
    pub fn new(python: PathBuf, env: Vec<(String, String)>) -> Self {
        Self { python, env }
    }

    /// The instances (of `pool_uid` only, when given), with the user data of
    /// the running ones not in `user_data` when that is given.
    pub fn list(&self, pool_uid: Option<&str>, user_data: Option<&BTreeSet<String>>) -> Option<Vec<Instance>> {
        let skip: Vec<&String> = user_data.map(|s| s.iter().collect()).unwrap_or_default();
        let skip = serde_json::to_string(&skip).ok()?;
        let want = if user_data.is_some() { "1" } else { "0" };
        let out = Command::new(&self.python)
            .args(["-c", LIST, pool_uid.unwrap_or(""), skip.as_str(), want])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let items: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
        Some(items.iter().map(Instance::from_json).collect())
    }
}

/// The instances of `moto` tagged `ade.dev/managed-by` (of pool `pool_uid`
/// only, when given), in every state; `None` when moto could not be asked.
pub fn instances(moto: &Moto, pool_uid: Option<&str>) -> Option<Vec<Instance>> {
    Ec2::of(moto).list(pool_uid, None)
}

/// An AMI whose id an eks pool takes (`ami-` and hex digits), and a new
/// subnet in `zone` of a new VPC (10.0.0.0/16, the subnet 10.0.1.0/24).
pub fn ami_and_subnet(moto: &Moto, zone: &str) -> (String, String) {
    let out = moto.boto3(&format!(
        "import re\n\
         ec2 = boto3.client('ec2')\n\
         ami = next(i['ImageId'] for i in ec2.describe_images()['Images'] if re.fullmatch('ami-[0-9a-f]+', i['ImageId']))\n\
         vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']\n\
         subnet = ec2.create_subnet(VpcId=vpc, CidrBlock='10.0.1.0/24', AvailabilityZone={zone:?})['Subnet']['SubnetId']\n\
         print(json.dumps([ami, subnet]))\n"
    ));
    let [ami, subnet]: [String; 2] = serde_json::from_str(out.trim()).expect("an AMI and a subnet id");
    (ami, subnet)
}

/// Creates EKS cluster `name` with its control plane in `subnet`; its API
/// server's URL (moto makes one up, with a certificate authority and the
/// service CIDR 172.20.0.0/16, as `DescribeCluster` then gives them).
pub fn eks_cluster(moto: &Moto, name: &str, subnet: &str) -> String {
    let out = moto.boto3(&format!(
        "eks = boto3.client('eks')\n\
         c = eks.create_cluster(name={name:?}, roleArn='arn:aws:iam::123456789012:role/eks-cluster', \
         resourcesVpcConfig={{'subnetIds': [{subnet:?}]}})['cluster']\n\
         print(c['endpoint'])\n"
    ));
    out.trim().to_owned()
}

/// Whether a launch template named `name` exists.
pub fn launch_template_exists(moto: &Moto, name: &str) -> bool {
    let out = moto.boto3(&format!(
        "ec2 = boto3.client('ec2')\n\
         try:\n\
         \x20   found = ec2.describe_launch_templates(LaunchTemplateNames=[{name:?}])['LaunchTemplates']\n\
         except Exception:\n\
         \x20   found = []\n\
         print(len(found))\n"
    ));
    out.trim() != "0"
}

# Chapter "eks" of the demo (hack/demo.sh): spot EC2 nodes for EKS that exist
# only while runs need them, through the AWS emulator. The operator renders
# the pool's launch template (its nodes join what eks:DescribeCluster says),
# bin-packs the waiting runs onto instance types and launches each node with
# an instant CreateFleet. moto boots nothing: the demo plays the nodes'
# kubelets (ade-e2e-executor eks-nodes: it reads each instance's user data as
# nodeadm would and registers the kwok Node it describes, and deletes the Node
# when the instance goes).

chapter_eks() {
  local ns=demo-eks
  chapter "Spot nodes for EKS: an eks ClusterPool (m5.xlarge spot, two runs per node, idle after $idle_timeout s) and a burst of four runs of 1 CPU / 2 GiB"
  fresh_namespace "$ns"
  say "the emulator's account gets an AMI, a subnet and EKS cluster 'data' (as an AWS account would have them)"
  local fixture ami subnet
  fixture=$(moto_py <<'PY'
import json, re, boto3
ec2 = boto3.client("ec2")
ami = next(i["ImageId"] for i in ec2.describe_images()["Images"] if re.fullmatch("ami-[0-9a-f]+", i["ImageId"]))
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
eks = boto3.client("eks")
if "data" not in eks.list_clusters()["clusters"]:
    eks.create_cluster(name="data", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": [subnet]})
print(json.dumps([ami, subnet]))
PY
)
  # us-east-1's m5.xlarge spot price of a recent day (moto answers $0.00001).
  curl -fsS -X POST "$moto_url/ade-control/ec2/spot-prices" -d '{"prices": {"m5.xlarge": 0.0712}}' >/dev/null
  ami=$(jq -r '.[0]' <<<"$fixture")
  subnet=$(jq -r '.[1]' <<<"$fixture")
  kubectl apply -n "$ns" -f - <<YAML
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: nodes}
spec:
  provider: eks
  region: us-east-1
  capacity: {maxClusters: 3, maxRunsPerCluster: 2, idleTimeout: ${idle_timeout}s}
  eks:
    clusterName: data
    instanceTypes: [m5.xlarge]
    subnetIds: [$subnet]
    amiId: $ami
YAML
  local uid
  uid=$(kubectl get cpool nodes -n "$ns" -o jsonpath='{.metadata.uid}')
  ADE_E2E_PYTHON="$(tools/moto/ensure.sh)/python" AWS_ENDPOINT_URL=$moto_url AWS_DEFAULT_REGION=us-east-1 \
    "$executor_bin" eks-nodes "$uid" >"$state/logs/eks-nodes-demo.log" 2>&1 &
  eks_nodes_pid=$!
  show kubectl get cpool -n "$ns"

  kubectl apply -n "$ns" -f - <<YAML
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: features}
spec:
  poolRef: {name: nodes}
  window: {size: 1h}
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-01T04:00:00Z", parallelism: 4}
  task:
    container:
      image: ghcr.io/acme/features:3.1
      resources: {requests: {cpu: "1", memory: 2Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: $((task_seconds + 5))s}}
YAML

  say "four runs wait for a node: the operator packs them two per m5.xlarge and launches two spot nodes with CreateFleet"
  wait_until 120 "two nodes of the pool" \
    "kubectl get cpool nodes -n $ns -o json | jq -e '(.status.clusterCount // 0) == 2'"
  wait_until 120 "the nodes to register" "[ \$(kubectl get nodes -l ade.dev/pool-uid=$uid -o name | wc -l) -eq 2 ]"
  show kubectl get cpool,etlrun -n "$ns"
  show kubectl get nodes -l "ade.dev/pool-uid=$uid" \
    -o custom-columns=NODE:.metadata.name,INSTANCE:.spec.providerID,TAINT:.spec.taints[0].key
  say "each run's Job is pinned to a node with room: two Pods per node"
  wait_until 120 "the four runs' Pods on the nodes" \
    "[ \$(kubectl get pods -n $ns -o json | jq '[.items[] | select(.spec.nodeName)] | length') -eq 4 ]"
  show kubectl get pods -n "$ns" -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase

  wait_until 120 "the four runs to succeed" \
    "kubectl get etlruns -n $ns -o json | jq -e '(.items | length) == 4 and all(.items[]; .status.phase == \"Succeeded\")'"
  say "the nodes are idle now: the pool cordons and terminates them after its idleTimeout ($idle_timeout s)"
  wait_until 120 "the idle nodes to be terminated" \
    "kubectl get cpool nodes -n $ns -o json | jq -e '(.status.clusterCount // 0) == 0'"
  show kubectl get cpool,etlrun -n "$ns"
  show kubectl get events -n "$ns" --field-selector involvedObject.kind=ClusterPool \
    -o custom-columns=REASON:.reason,MESSAGE:.message
  what "no node until runs waited; two spot nodes joined the cluster (tainted so only this pool's runs land there), ran the four runs two each, and were cordoned and terminated $idle_timeout s after their last run; each run carries its share of its node's cost"
}

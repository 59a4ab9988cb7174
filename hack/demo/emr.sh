# Chapter "emr" of the demo (hack/demo.sh): spot EMR on demand, through the
# AWS emulator (moto on 127.0.0.1, reached by the operator's real AWS SDK).
# A pool has no cluster until a run needs one; the operator calls RunJobFlow,
# adds each run as a step, costs it, and terminates the cluster once it has
# been idle for idleTimeout. moto never runs Spark: the demo moves each step
# along through the emulator's control API, as Spark would.

chapter_emr() {
  local ns=demo-emr
  chapter "Spot EMR on demand: an emr ClusterPool (spot core nodes, at most one cluster, idle after $idle_timeout s) and a Spark job backfilling three days, two at a time"
  fresh_namespace "$ns"
  show kubectl get cpool -n "$ns"
  kubectl apply -n "$ns" -f - <<YAML
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: spark}
spec:
  provider: emr
  region: us-east-1
  capacity: {maxClusters: 1, maxRunsPerCluster: 2, idleTimeout: ${idle_timeout}s}
  emr:
    releaseLabel: emr-7.5.0
    applications: [Spark]
    serviceRole: EMR_DefaultRole
    instanceProfile: EMR_EC2_DefaultRole
    primary: {instanceTypes: [m5.xlarge], onDemand: 1}
    core: {instanceTypes: [r5.xlarge, r5a.xlarge], spot: 2}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: sessions}
spec:
  poolRef: {name: spark}
  window: {size: 24h}
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-04T00:00:00Z", parallelism: 2}
  task:
    sparkSubmit:
      mainApplicationFile: s3://acme-code/jobs/sessions.py
      args: ["--batch", "{{batch.id}}", "--output", "s3://acme-lake/sessions/dt={{batch.id}}/"]
YAML

  say "the first runs need a cluster: the operator calls RunJobFlow (spot core nodes) and adds each run as an EMR step"
  wait_until 120 "an EMR cluster in the pool's status" \
    "kubectl get cpool spark -n $ns -o json | jq -e '(.status.clusterCount // 0) >= 1'"
  show kubectl get cpool,etlrun -n "$ns"

  say "Spark runs the steps (moto's stand-in: the demo moves each step RUNNING, then COMPLETED, through the emulator's control API)"
  local deadline=$((SECONDS + 180))
  while :; do
    local runs
    runs=$(kubectl get etlruns -n "$ns" -o json)
    if jq -e '(.items | length) == 3 and ([.items[] | select(.status.phase == "Succeeded")] | length) == 3' <<<"$runs" >/dev/null; then
      break
    fi
    if ((SECONDS > deadline)); then
      echo "demo: the EMR runs did not finish in 180 s" >&2
      kubectl get etlruns -n "$ns" -o wide >&2
      return 1
    fi
    while read -r phase cluster step; do
      case $phase in
        Provisioning) emr_step "$cluster" "$step" RUNNING ;;
        Running) emr_step "$cluster" "$step" COMPLETED ;;
      esac
    done < <(jq -r '.items[] | .status as $s | ($s.attempts // [])[-1] // {} | select(.clusterId and .stepId) | "\($s.phase) \(.clusterId) \(.stepId)"' <<<"$runs")
    sleep 1
  done
  show kubectl get etlrun -n "$ns"

  say "the cluster is idle now: the pool terminates it after its idleTimeout ($idle_timeout s)"
  wait_until 120 "the idle cluster to be terminated" \
    "kubectl get cpool spark -n $ns -o json | jq -e '(.status.clusterCount // 0) == 0'"
  show kubectl get cpool -n "$ns"
  show kubectl get events -n "$ns" --field-selector involvedObject.kind=ClusterPool \
    -o custom-columns=REASON:.reason,MESSAGE:.message
  what "no cluster until the first run needed one; one spot cluster ran the three runs as steps, two at a time, and was terminated $idle_timeout s after its last step, so nothing is left running; each run and the pool carry their estimated cost"
}

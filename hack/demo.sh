#!/usr/bin/env bash
# The README's demo: the operator end to end on the embedded default — the
# local control plane built from upstream sources, the `kubernetes` provider,
# no cloud account. It installs the chart with helm, runs the operator as the
# chart's ServiceAccount, applies every sample with kubectl, shows what the
# operator reports, shows the API server rejecting an invalid sample, and
# stops everything it started (keep the cluster with ADE_KEEP_CLUSTER=1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}
ns=demo

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

started=0
if ! e2e/cluster status >/dev/null 2>&1; then
  say "starting the local control plane (first run builds it from pinned upstream modules)"
  e2e/cluster up
  started=1
fi
operator_pid=
cleanup() {
  [[ -n $operator_pid ]] && kill -TERM "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  if [[ $started == 1 && ${ADE_KEEP_CLUSTER:-0} != 1 ]]; then e2e/cluster down; fi
}
trap cleanup EXIT
eval "$(e2e/cluster env)"
state=${ADE_E2E_STATE:-$root/e2e/.state}
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"

say "building the operator"
cargo build --quiet --locked --workspace --bins

say "helm upgrade --install ade-operator charts/ade-operator"
helm upgrade --install ade-operator charts/ade-operator --namespace ade-system --create-namespace \
  --set replicas=1 >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  crd/clusterpools.ade.dev crd/etljobs.ade.dev crd/etlruns.ade.dev crd/streamconsumers.ade.dev crd/validationsuites.ade.dev

say "running the operator locally as the chart's ServiceAccount (token from the TokenRequest API)"
hack/operator-kubeconfig.sh "$state/operator-kubeconfig"
KUBECONFIG="$state/operator-kubeconfig" "$CARGO_TARGET_DIR/debug/ade-operator" \
  --http-addr=127.0.0.1:0 --lease-namespace=ade-system --lease-name=ade-operator --identity=demo \
  --log-format=human >"$state/logs/operator-demo.log" 2>&1 &
operator_pid=$!

say "a ClusterPool on this cluster and an EtlJob: a batch every minute, plus a backfill of six past minutes, two at a time"
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$ns" -f - <<'YAML'
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec:
  provider: kubernetes
  capacity: {maxConcurrentRuns: 4}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: clicks}
spec:
  poolRef: {name: batch}
  schedule: "* * * * *"
  timeZone: UTC
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-01T00:06:00Z", parallelism: 2}
  task:
    container:
      image: ghcr.io/acme/clicks-etl:1.0
      args: ["--from={{window.start}}", "--to={{window.end}}", "--output=s3://lake/clicks/batch={{batch.id}}/"]
      resources: {requests: {cpu: "1", memory: 2Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: 3s}}
YAML

say "an invalid spec is rejected by the API server itself"
kubectl apply -n "$ns" -f manifests/samples/invalid/etljob-two-tasks.yaml || true

say "waiting for the backfill and the first scheduled batch (up to two minutes)"
for _ in $(seq 1 150); do
  done_runs=$(kubectl get etlruns -n "$ns" -o json | jq '[.items[] | select(.status.phase == "Succeeded")] | length')
  scheduled=$(kubectl get etlruns -n "$ns" -o json | jq '[.items[] | select(.spec.reason == "schedule" and .status.phase == "Succeeded")] | length')
  [[ $done_runs -ge 7 && $scheduled -ge 1 ]] && break
  sleep 1
done
# let the job's status catch up with its last runs
for _ in $(seq 1 15); do
  live=$(kubectl get etlruns -n "$ns" -o json | jq '[.items[] | select(.status.phase != "Succeeded" and .status.phase != "Failed" and .status.phase != "Cancelled")] | length')
  reported=$(kubectl get etljob clicks -n "$ns" -o jsonpath='{.status.activeCount}')
  [[ $live == "${reported:-x}" ]] && break
  sleep 1
done

say "kubectl get etljob,etlrun -n $ns"
kubectl get etljob,etlrun -n "$ns"
say "kubectl get ade -n $ns"
kubectl get ade -n "$ns"
say "the Jobs the runs created (one per attempt, named after run and attempt)"
kubectl get jobs.batch -n "$ns"

say "every sample in manifests/samples/ (namespace samples), with what the operator reports"
kubectl create namespace samples --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n samples -f manifests/samples/ >/dev/null
sleep 5
kubectl get ade -n samples -o json | jq -r '.items[] | "\(.kind)/\(.metadata.name):" as $o | (.status.conditions // [])[] | select(.type == "Ready") | "  \($o) Ready=\(.status) \(.reason): \(.message)"'

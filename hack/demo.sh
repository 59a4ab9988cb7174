#!/usr/bin/env bash
# The README's demo: ADE end to end on the embedded default — the local
# control plane built from upstream sources, no cloud account — as a guided
# tour in chapters, each printing the commands to look with and a line on
# what just happened:
#
#   batches  a schedule and a backfill on the kubernetes provider (hack/demo/batches.sh)
#   emr      spot EMR clusters that appear for work and go when idle, through
#            the AWS emulator (moto on 127.0.0.1; hack/demo/emr.sh)
#   eks      spot EC2 nodes for EKS launched for a burst of runs and
#            terminated when idle, through the emulator (the nodes' kubelets
#            played on this machine; hack/demo/eks.sh)
#   quality  a bad batch caught by a ValidationSuite, quarantined, its
#            dependant held until a rerun passes (hack/demo/quality.sh)
#   stream   PII hidden at the door: a StreamConsumer's pods (the real
#            ade-stream, run on this machine) read a Kinesis stream in moto,
#            hash e-mails, tokenize phones, drop SSNs (hack/demo/stream.sh)
#   cost     what the chapters' runs cost, per job, pool and batch, with the
#            `kubectl ade` plugin (hack/demo/cost.sh)
#   observe  a real Prometheus that scraped the operator all along, with the
#            chart's alert rules: runs, cost, verdicts and the alerts that
#            fired, in PromQL (hack/demo/observe.sh)
#
# It installs the chart with helm, runs the operator as the chart's
# ServiceAccount, and stops everything it started (keep the cluster with
# ADE_KEEP_CLUSTER=1). CHAPTER=emr (or `make demo CHAPTER=emr`) runs one
# chapter; the default runs them all. The e2e suite runs it too
# (e2e/tests/demo.rs), with the binaries it built (ADE_OPERATOR_BIN),
# ADE_DEMO_CLEANUP=1 (the demo's namespaces are deleted before the operator
# stops) and ADE_DEMO_FAST=1 (tasks of 1 s instead of 3 s, an idle timeout
# of 5 s instead of 20 s).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}
all_chapters="batches emr eks quality stream cost observe"
chapters=${CHAPTER:-all}
[[ $chapters == all ]] && chapters=$all_chapters
for c in $chapters; do
  [[ " $all_chapters " == *" $c "* ]] || { echo "demo: no chapter $c (chapters: $all_chapters)" >&2; exit 2; }
done

# shellcheck source=hack/demo/lib.sh
source hack/demo/lib.sh
for c in $chapters; do
  # shellcheck disable=SC1090
  source "hack/demo/$c.sh"
done

started=0
if ! e2e/cluster status >/dev/null 2>&1; then
  say "starting the local control plane (first run builds it from pinned upstream modules)"
  e2e/cluster up
  started=1
fi
operator_pid= moto_pid= moto_url= executor_pid= prometheus_pid= stream_executor_pid= eks_nodes_pid=
cleanup() {
  [[ -n $prometheus_pid ]] && kill -TERM "$prometheus_pid" 2>/dev/null && wait "$prometheus_pid" 2>/dev/null || true
  [[ -n $executor_pid ]] && kill -TERM "$executor_pid" 2>/dev/null && wait "$executor_pid" 2>/dev/null || true
  [[ -n $stream_executor_pid ]] && kill -TERM "$stream_executor_pid" 2>/dev/null && wait "$stream_executor_pid" 2>/dev/null || true
  if [[ -n $eks_nodes_pid ]]; then
    kill -TERM "$eks_nodes_pid" 2>/dev/null && wait "$eks_nodes_pid" 2>/dev/null || true
    # The Nodes it registered for instances still running.
    kubectl delete nodes -l e2e.ade.dev/eks-node --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  # The stream pods' processes (process groups of their own), by pid.
  if [[ -s ${state:-}/stream-pids ]]; then
    while read -r pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done <"$state/stream-pids"
    : >"$state/stream-pids"
  fi
  [[ -n $operator_pid ]] && kill -TERM "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  [[ -n $moto_pid ]] && kill -TERM "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null || true
  if [[ $started == 1 && ${ADE_KEEP_CLUSTER:-0} != 1 ]]; then e2e/cluster down; fi
}
trap cleanup EXIT
eval "$(e2e/cluster env)"
state=${ADE_E2E_STATE:-$root/e2e/.state}
mkdir -p "$state/logs"
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"

operator=${ADE_OPERATOR_BIN:-}
if [[ -z $operator ]]; then
  say "building the operator"
  cargo build --quiet --locked --workspace --bins
  operator=$CARGO_TARGET_DIR/debug/ade-operator
fi
validate_bin=${ADE_VALIDATE_BIN:-$(dirname "$operator")/ade-validate}
# kubectl finds the `kubectl ade` plugin on PATH (chapter cost).
bin_dir=$(dirname "$operator")
export PATH="$bin_dir:$PATH"
executor_bin=$(dirname "$operator")/ade-e2e-executor
stream_bin=${ADE_STREAM_BIN:-$(dirname "$operator")/ade-stream}

say "helm upgrade --install ade-operator charts/ade-operator"
helm upgrade --install ade-operator charts/ade-operator --namespace ade-system --create-namespace \
  --set replicas=1 >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  crd/clusterpools.ade.dev crd/etljobs.ade.dev crd/etlruns.ade.dev crd/streamconsumers.ade.dev crd/validationsuites.ade.dev >/dev/null

aws_args=()
if [[ " $chapters " == *" emr "* || " $chapters " == *" eks "* || " $chapters " == *" quality "* || " $chapters " == *" stream "* ]]; then
  say "starting the AWS emulator (moto, on 127.0.0.1; the operator reaches it with the real AWS SDK)"
  start_moto
  aws_args=(--aws-endpoint-url="$moto_url" --aws-region=us-east-1)
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
fi

say "running the operator locally as the chart's ServiceAccount (token from the TokenRequest API)"
hack/operator-kubeconfig.sh "$state/operator-kubeconfig"
operator_port=$(free_port)
KUBECONFIG="$state/operator-kubeconfig" "$operator" \
  --http-addr="127.0.0.1:$operator_port" --lease-namespace=ade-system --lease-name=ade-operator --identity=demo \
  --log-format=human "${aws_args[@]}" >"$state/logs/operator-demo.log" 2>&1 &
operator_pid=$!
if [[ " $chapters " == *" observe "* ]]; then
  say "starting Prometheus, scraping the operator (chapter observe shows what it saw)"
  start_prometheus "$operator_port"
fi

for c in $chapters; do
  "chapter_$c"
done
if [[ ${ADE_DEMO_CLEANUP:-0} == 1 ]]; then
  # While the operator still runs, so that the pools' finalizers terminate
  # their clusters: nothing the demo made outlives it.
  say "deleting the demo's namespaces"
  kubectl delete namespace demo demo-emr demo-eks demo-quality demo-stream samples --ignore-not-found --wait=true --timeout=180s
fi
say "the demo is over (the operator's log: $state/logs/operator-demo.log)"

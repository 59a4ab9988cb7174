#!/usr/bin/env bash
# Operator CPU under EtlJob load, on the local control plane (kwok finishes
# the Pods): how fast a backfill beside a minute schedule completes, what it
# costs the operator, and what the operator burns while nothing happens.
#
#   hack/bench-etl-cpu.sh [OPERATOR_BINARY]      (default: the debug build)
#
# SCENARIOS="1 2" picks the scenarios; WINDOWS, PARALLELISM, JOBS,
# IDLE_SECONDS and TIMEOUT_SECONDS (per wait, default 900) size them.
#
# Scenario 1 (WINDOWS=30 PARALLELISM=10): one kubernetes ClusterPool and one
#   EtlJob with schedule "* * * * *", catchUp none, and a backfill of WINDOWS
#   one-minute windows from 2026-01-01T00:00Z: seconds until every backfill
#   run has succeeded, runs per second, operator CPU-seconds per run; then
#   one minute with no backfill left: operator CPU, and the job's
#   reconciliations against its ticks plus the changes of its runs.
# Scenario 2 (JOBS=50): JOBS EtlJobs with a minute schedule limited to an
#   hour twelve hours away (`* H * * *`: minute ticks, none during the
#   bench), each with three finished backfill runs; then one idle minute:
#   operator CPU (% of a core) and reconciliations per job.
#
# CPU is utime+stime of the operator process from /proc/<pid>/stat. Figures
# are printed, not asserted. Starts the control plane unless it is up, and
# stops what it started (keep it with ADE_KEEP_CLUSTER=1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}
binary=${1:-$CARGO_TARGET_DIR/debug/ade-operator}
windows=${WINDOWS:-30} parallelism=${PARALLELISM:-10} jobs=${JOBS:-50} idle=${IDLE_SECONDS:-60}
scenarios=" ${SCENARIOS:-1 2} "
[[ -x $binary ]] || { echo "no operator binary at $binary (make bench-etl-cpu builds it)" >&2; exit 1; }

started=0
if ! e2e/cluster status >/dev/null 2>&1; then e2e/cluster up >/dev/null; started=1; fi
operator_pid= watch_pid=
cleanup() {
  [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null || true
  [[ -n $operator_pid ]] && kill -TERM "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  kubectl delete namespace bench-one bench-many --ignore-not-found --wait=false >/dev/null 2>&1 || true
  if [[ $started == 1 && ${ADE_KEEP_CLUSTER:-0} != 1 ]]; then e2e/cluster down >/dev/null; fi
}
trap cleanup EXIT
eval "$(e2e/cluster env)"
state=${ADE_E2E_STATE:-$root/e2e/.state}
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"
helm upgrade --install ade-operator charts/ade-operator --namespace ade-system --create-namespace \
  --set replicas=1 >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/etljobs.ade.dev crd/etlruns.ade.dev >/dev/null

hack/operator-kubeconfig.sh "$state/bench-kubeconfig"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KUBECONFIG="$state/bench-kubeconfig" ADE_LOG=warn "$binary" --http-addr="127.0.0.1:$port" \
  --lease-namespace=ade-system --lease-name=ade-operator --identity=bench --log-format=human \
  >"$state/logs/operator-bench.log" 2>&1 &
operator_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$operator_pid/stat"; }
reconciles() {
  curl -fs "http://127.0.0.1:$port/metrics" \
    | awk '/^ade_reconciliations_total\{controller="etl-job"\}/ { print $2; found=1 } END { if (!found) print 0 }'
}
calc() { python3 -c "print(round($1, ${2:-3}))"; }
# A namespace left by an earlier run may still be terminating.
fresh_namespace() {
  for _ in $(seq 1 120); do kubectl get namespace "$1" >/dev/null 2>&1 || break; sleep 1; done
  kubectl create namespace "$1" >/dev/null
}

if [[ $scenarios == *" 1 "* ]]; then
fresh_namespace bench-one
cpu0=$(cpu); t0=$(date +%s.%N)
kubectl apply -n bench-one -f - >/dev/null <<YAML
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec: {provider: kubernetes}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: minutes}
spec:
  poolRef: {name: batch}
  schedule: "* * * * *"
  timeZone: UTC
  catchUp: {policy: none}
  historyLimit: {succeeded: 1000, failed: 1000}
  backfill: {from: "2026-01-01T00:00:00Z", to: "$(date -u -d "2026-01-01 +$windows minutes" +%Y-%m-%dT%H:%M:%SZ)", parallelism: $parallelism}
  task:
    container:
      image: busybox
      args: ["--batch={{batch.id}}"]
YAML
deadline=$(( $(date +%s) + ${TIMEOUT_SECONDS:-900} ))
while :; do
  done_runs=$(kubectl get etlruns -n bench-one -o json \
    | jq '[.items[] | select(.spec.reason == "backfill" and .status.phase == "Succeeded")] | length')
  [[ $done_runs -ge $windows ]] && break
  if (( $(date +%s) > deadline )); then echo "scenario 1: only $done_runs of $windows backfill runs succeeded in time" >&2; break; fi
  sleep 0.5
done
t1=$(date +%s.%N); cpu1=$(cpu)
elapsed=$(calc "$t1 - $t0" 1); used=$(calc "$cpu1 - $cpu0" 2)
echo "scenario 1: $done_runs of $windows backfill runs (parallelism $parallelism) succeeded in ${elapsed}s:" \
  "$(calc "$done_runs / ($t1 - $t0)" 2) runs/s, operator $used CPU-s = $(calc "($cpu1 - $cpu0) / max($done_runs, 1)" 3) CPU-s per run"
kubectl get etlruns -n bench-one --watch-only -o name >"$state/bench-run-events" 2>/dev/null &
watch_pid=$!
r0=$(reconciles); c0=$(cpu); sleep "$idle"; c1=$(cpu); r1=$(reconciles)
kill "$watch_pid" 2>/dev/null || true; watch_pid=
events=$(wc -l <"$state/bench-run-events")
echo "scenario 1, the next ${idle}s: operator $(calc "$c1 - $c0" 2) CPU-s ($(calc "100 * ($c1 - $c0) / $idle" 2)% of a core);" \
  "the job reconciled $(calc "$r1 - $r0" 0) times for about $(( idle / 60 )) tick(s) and $events changes of its runs"
backfill=$(kubectl get etljob minutes -n bench-one -o jsonpath='{.status.backfill}')
echo "scenario 1: status.backfill = $backfill"

# Scenario 2 measures the operator alone with its idle jobs.
kubectl delete namespace bench-one --wait=true --timeout=120s >/dev/null
fi

if [[ $scenarios == *" 2 "* ]]; then
fresh_namespace bench-many
hour=$(( ($(date -u +%-H) + 12) % 24 ))
for i in $(seq 1 "$jobs"); do
  cat <<YAML
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: idle-$i}
spec:
  poolRef: {name: batch}
  schedule: "* $hour * * *"
  timeZone: UTC
  backfill: {from: "2026-01-01T$(printf %02d "$hour"):00:00Z", to: "2026-01-01T$(printf %02d "$hour"):03:00Z", parallelism: 3}
  task: {container: {image: busybox}}
YAML
done | { printf 'apiVersion: ade.dev/v1alpha1\nkind: ClusterPool\nmetadata: {name: batch}\nspec: {provider: kubernetes}\n'; cat; } \
  | kubectl apply -n bench-many -f - >/dev/null
want=$(( jobs * 3 ))
deadline=$(( $(date +%s) + ${TIMEOUT_SECONDS:-900} ))
while :; do
  done_runs=$(kubectl get etlruns -n bench-many -o json | jq '[.items[] | select(.status.phase == "Succeeded")] | length')
  [[ $done_runs -ge $want ]] && break
  if (( $(date +%s) > deadline )); then echo "scenario 2: only $done_runs of $want runs succeeded in time" >&2; break; fi
  sleep 1
done
# Let the jobs' statuses settle before the idle minute.
sleep 5
r0=$(reconciles); c0=$(cpu); sleep "$idle"; c1=$(cpu); r1=$(reconciles)
echo "scenario 2: $jobs EtlJobs on '* $hour * * *', $done_runs finished runs, one idle ${idle}s: operator $(calc "$c1 - $c0" 2) CPU-s" \
  "($(calc "100 * ($c1 - $c0) / $idle" 2)% of a core); $(calc "($r1 - $r0) / $jobs" 2) reconciliations per job"
fi

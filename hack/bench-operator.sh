#!/usr/bin/env bash
# `make bench-operator`: runs e2e/src/bin/bench-operator.rs (see its doc) on
# the local control plane started with a large cluster's limits
# (ADE_CLUSTER_LARGE=1: more requests in flight at the API server, higher
# client QPS for the controller manager and the scheduler, more concurrent
# Job syncs), with the operator's release build. A control plane already up
# is restarted with those limits; the one this script starts is stopped.
#
# ADE_BENCH_SIZES (default "1000 10000"), ADE_BENCH_IDLE_SECONDS (300),
# ADE_BENCH_STEADY_RATE (50) and ADE_BENCH_STEADY_SECONDS (120) size it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}
export ADE_OPERATOR_BIN=${ADE_OPERATOR_BIN:-$CARGO_TARGET_DIR/release/ade-operator}
[[ -x $ADE_OPERATOR_BIN ]] || { echo "no operator binary at $ADE_OPERATOR_BIN (make bench-operator builds it)" >&2; exit 1; }

e2e/cluster down >/dev/null 2>&1 || true
ADE_CLUSTER_LARGE=1 e2e/cluster up
trap 'e2e/cluster down >/dev/null 2>&1 || true' EXIT
eval "$(e2e/cluster env)"
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); operator: $ADE_OPERATOR_BIN"
"$CARGO_TARGET_DIR/debug/bench-operator"

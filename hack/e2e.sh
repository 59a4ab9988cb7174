#!/usr/bin/env bash
# The end-to-end suite: starts the local control plane (unless it is already
# up), builds the operator, runs the e2e crate's tests one at a time, and stops
# the control plane again if it started it (keep it with ADE_KEEP_CLUSTER=1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}

started=0
if ! e2e/cluster status >/dev/null 2>&1; then
  e2e/cluster up
  started=1
fi
cleanup() {
  if [[ $started == 1 && ${ADE_KEEP_CLUSTER:-0} != 1 ]]; then
    e2e/cluster down
  fi
}
trap cleanup EXIT

eval "$(e2e/cluster env)"
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"

cargo build --locked -p ade-operator --bin ade-operator -p ade-validator --bin ade-validate
export ADE_OPERATOR_BIN="$CARGO_TARGET_DIR/debug/ade-operator"
# Validation Pods are run on the host by the e2e executor (e2e/src/executor.rs).
export ADE_VALIDATE_BIN="$CARGO_TARGET_DIR/debug/ade-validate"
start=$(date +%s)
cargo test --locked -p ade-e2e -- --test-threads=1
echo "e2e suite took $(( $(date +%s) - start ))s"

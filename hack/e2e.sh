#!/usr/bin/env bash
# The end-to-end suite: builds the binaries and the e2e crate's tests, starts
# the local control plane (unless it is already up), runs the tests one at a
# time, and stops the control plane again if it started it (keep it with
# ADE_KEEP_CLUSTER=1).
#
# ADE_E2E_NO_DEPENDENCY_BUILDS=1 (set by hack/test.sh, after `make unit`) makes
# the build step fail when it compiles any third-party crate: it would mean a
# cargo command here resolves other features than `make unit`, and the AWS and
# DataFusion stack is compiled twice.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}

# The same package selection as `make lint` and `make unit` (--workspace), so
# cargo resolves the same features (hack/check-cargo-selection.sh); the test
# targets are the e2e crate's.
# ADE_E2E_TESTS (space-separated file names, e.g. `chaos`) narrows the run.
tests=()
for f in e2e/tests/*.rs; do tests+=(--test "$(basename "$f" .rs)"); done
run_tests=("${tests[@]}")
capture=()
if [[ -n ${ADE_E2E_TESTS:-} ]]; then
  run_tests=()
  for t in $ADE_E2E_TESTS; do run_tests+=(--test "$t"); done
  capture=(--nocapture)
fi
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
start=$(date +%s)
{
  cargo build --locked --workspace --bins
  cargo test --locked --workspace "${tests[@]}" --no-run
} 2>&1 | tee "$build_log"
# Crates of the workspace print their path: `Compiling ade-e2e v0.1.0 (/…/e2e)`.
mapfile -t third_party < <(grep -E '^ *Compiling [^ ]+ v[^ ]+$' "$build_log" || true)
echo "e2e build took $(($(date +%s) - start))s and compiled ${#third_party[@]} third-party crates"
if [[ ${ADE_E2E_NO_DEPENDENCY_BUILDS:-0} == 1 && ${#third_party[@]} != 0 ]]; then
  echo "error: the e2e build compiled dependencies again after make unit; a cargo command resolves other features (see hack/check-cargo-selection.sh):" >&2
  printf '%s\n' "${third_party[@]:0:20}" >&2
  exit 1
fi
export ADE_OPERATOR_BIN="$CARGO_TARGET_DIR/debug/ade-operator"
# Validation Pods are run on the host by the e2e executor (e2e/src/executor.rs).
export ADE_VALIDATE_BIN="$CARGO_TARGET_DIR/debug/ade-validate"
# So are StreamConsumer Pods (e2e/src/pods.rs).
export ADE_STREAM_BIN="$CARGO_TARGET_DIR/debug/ade-stream"

started=0
if ! e2e/cluster status >/dev/null 2>&1; then
  e2e/cluster up
  started=1
fi
cleanup() {
  rm -f "$build_log"
  if [[ $started == 1 && ${ADE_KEEP_CLUSTER:-0} != 1 ]]; then
    e2e/cluster down
  fi
}
trap cleanup EXIT

eval "$(e2e/cluster env)"
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"

start=$(date +%s)
cargo test --locked --workspace "${run_tests[@]}" -- --test-threads=1 "${capture[@]}"
echo "e2e suite took $(($(date +%s) - start))s"

#!/usr/bin/env bash
# The README's test command: every check and every test, on a fresh machine
# too (it builds or fetches the control plane, kubectl and helm it needs).
# It prints how long each phase took (docs/development.md, "Build budget").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}

phases=() began=$(date +%s) phase_start=
step() {
  finish
  printf '\n==> %s\n' "$1"
  phases+=("$1") phase_start=$(date +%s)
}
finish() {
  if [[ -n $phase_start ]]; then
    phases[-1]="$(($(date +%s) - phase_start))s	${phases[-1]}"
  fi
  phase_start=
}
summary() {
  finish
  printf '\n==> took %ss:\n' "$(($(date +%s) - began))"
  printf '  %s\n' "${phases[@]}"
}
trap summary EXIT

step "control plane: binaries, kubectl and helm (built once per pin set, then cached)"
e2e/cluster build >/dev/null
step "lint: rustfmt, clippy, cargo selections, helm lint, generated files"
make --no-print-directory lint
step "unit and integration tests"
make --no-print-directory unit
step "end-to-end suite on the local control plane (build, then run)"
# After `make unit` every dependency is built: the e2e build compiling one
# again is a failure (hack/e2e.sh).
ADE_E2E_NO_DEPENDENCY_BUILDS=1 hack/e2e.sh

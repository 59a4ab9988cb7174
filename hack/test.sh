#!/usr/bin/env bash
# The README's test command: every check and every test, on a fresh machine
# too (it builds or fetches the control plane, kubectl and helm it needs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}

step() { printf '\n==> %s\n' "$*"; }

step "control-plane binaries, kubectl and helm (built once per pin set, then cached)"
e2e/cluster build >/dev/null
step "lint: rustfmt, clippy, helm lint, generated files"
make --no-print-directory lint
step "unit and integration tests"
make --no-print-directory unit
step "end-to-end suite on the local control plane"
hack/e2e.sh

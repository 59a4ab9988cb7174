#!/usr/bin/env bash
# Runs the pipeline benchmark (release build, one thread) and prints its report.
# Usage: streamer/bench/run.sh [records] [batch]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ade/target}
cargo build --release --locked -q --workspace --bin ade-stream-bench
"$CARGO_TARGET_DIR/release/ade-stream-bench" "$@"

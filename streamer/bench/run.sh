#!/usr/bin/env bash
# Runs the pipeline benchmark (release build, one thread) and prints its report.
# Usage: streamer/bench/run.sh [records] [batch]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
cargo build --release --locked -q -p ade-streamer --bin ade-stream-bench
"${CARGO_TARGET_DIR:-$root/target}/release/ade-stream-bench" "$@"

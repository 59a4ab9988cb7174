#!/usr/bin/env bash
# Runs a command with the pinned kubectl and helm on PATH (built or fetched by
# `e2e/cluster build`, cached outside the clone) and helm's state kept out of $HOME.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$("$root/e2e/cluster" build)
export PATH="$bin:$PATH"
export HELM="$bin/helm"
helm_home=${ADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ade}/helm
export HELM_CACHE_HOME="$helm_home/cache" HELM_CONFIG_HOME="$helm_home/config" HELM_DATA_HOME="$helm_home/data"
exec "$@"

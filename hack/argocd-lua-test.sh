#!/usr/bin/env bash
# The chart's Argo CD resource customizations (charts/ade-operator/argocd/):
# every health and action script against its tests (objects captured by the
# end-to-end suite), run by argocd-lua with the interpreter and sandbox Argo CD
# uses; then the same tests against the scripts as the chart renders them into
# its argocd-cm fragment. Run by `make lint`; needs e2e/cluster build's tools
# (hack/with-tools.sh puts them on PATH). Prints the failures and the count.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=charts/ade-operator/argocd
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
helm template ade-operator charts/ade-operator --set argocd.resourceCustomizations=true \
  --show-only templates/argocd-cm.yaml >"$rendered"
for source in files configmap; do
  args=()
  [[ $source == configmap ]] && args=(--configmap "$rendered")
  echo "argocd-lua test ($source):"
  out=$(argocd-lua test "${args[@]}" "$dir") || { grep -v '^ok ' <<<"$out"; exit 1; }
  tail -n 1 <<<"$out"
done

#!/usr/bin/env bash
# The chart's monitoring (charts/ade-operator/monitoring/): the alert rules
# pass `promtool check rules` and their unit tests (`promtool test rules`);
# then the rules and the dashboard as the chart renders them (PrometheusRule,
# dashboard ConfigMap) parse with Prometheus' PromQL parser and name only
# series in series.txt, the list generated from the metrics of ade-operator
# and ade-stream. Run by `make lint`; needs e2e/cluster build's tools
# (hack/with-tools.sh puts them on PATH).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
chart=charts/ade-operator
dir=$chart/monitoring
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
promtool check rules "$dir/alerts.yaml"
(cd "$dir" && promtool test rules alerts_test.yaml)
helm template ade-operator "$chart" --set prometheusRule.enabled=true \
  --show-only templates/prometheusrule.yaml >"$work/prometheusrule.yaml"
helm template ade-operator "$chart" --set grafanaDashboard.enabled=true \
  --show-only templates/grafana-dashboard.yaml >"$work/dashboard-configmap.yaml"
echo "promql-check (rules and dashboard as files, then as the chart renders them):"
promql-check --series "$dir/series.txt" "$dir/alerts.yaml" "$dir/dashboard.json"
promql-check --series "$dir/series.txt" "$work/prometheusrule.yaml" "$work/dashboard-configmap.yaml"

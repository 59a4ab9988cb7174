# Chapter "observe" of the demo (hack/demo.sh): a real Prometheus (built from
# its upstream module with the control plane) has scraped the operator every
# 2 s since the tour began, with the chart's alert rules
# (charts/ade-operator/monitoring/alerts.yaml) loaded; PromQL over its HTTP
# API shows the runs, what they cost and which alerts fired on the way.

# Starts Prometheus on a free port of 127.0.0.1 scraping the operator's
# /metrics on port $1: sets prometheus_pid and prometheus_port.
start_prometheus() {
  local dir="$state/prometheus-demo"
  rm -rf "$dir" && mkdir -p "$dir"
  prometheus_port=$(free_port)
  cat >"$dir/prometheus.yml" <<YAML
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: ['$root/charts/ade-operator/monitoring/alerts.yaml']
scrape_configs:
  - job_name: ade-operator
    static_configs: [{targets: ['127.0.0.1:$1']}]
YAML
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$state/logs/prometheus-demo.log" 2>&1 &
  prometheus_pid=$!
  wait_until 30 "Prometheus to be ready" "curl -fsS http://127.0.0.1:$prometheus_port/-/ready"
}

# promql QUERY: prints the query, then its result, one series per line.
promql() {
  printf '\n\033[2m$ promql %s\033[0m\n' "$1"
  curl -fsS --get --data-urlencode "query=$1" "http://127.0.0.1:$prometheus_port/api/v1/query" |
    python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
for s in result:
    labels = ",".join(k + "=" + v for k, v in sorted(s["metric"].items()))
    print("  {" + labels + "}  " + s["value"][1])
if not result:
    print("  (no series)")
'
}

chapter_observe() {
  chapter "Observe: Prometheus scraped the operator during the tour, with the chart's alert rules"
  # One more scrape and evaluation after the last chapter.
  sleep 3
  promql 'sum by (namespace, phase) (ade_etl_runs)'
  promql 'sum by (namespace, etl_job, pool) (ade_etl_run_cost_usd_total)'
  promql 'sum by (namespace, suite, outcome) (ade_validations_total)'
  promql 'max_over_time(sum by (namespace, pool) (ade_pool_clusters)[1h:2s])'
  promql 'max_over_time(ALERTS{alertstate="firing"}[1h])'
  what "the operator exports runs by phase, cost per job and pool, validation verdicts and each pool's clusters; Prometheus kept them while the chapters ran, and evaluated the alerts the chart ships as a PrometheusRule (a quarantined batch fires AdeBatchQuarantined until a rerun passes) (docs/observability.md; this Prometheus stops with the demo)"
}

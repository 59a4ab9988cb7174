# Chapter "quality" of the demo (hack/demo.sh): a bad batch is caught. A
# ValidationSuite gates a job; a job depending on it waits for each batch to
# pass. The demo writes a good and an incomplete Parquet batch into moto's
# S3; `ade-validate` (run for real on this machine by the e2e executor, as
# kwok runs no containers) checks each batch; the incomplete one is
# quarantined and its dependant waits; the data is fixed, a rerun passes, and
# the dependant runs. The job's output is registered in moto's Glue Data
# Catalog batch by batch, only once a batch passed.

chapter_quality() {
  local ns=demo-quality data
  chapter "A bad batch is caught: a ValidationSuite gates EtlJob orders; EtlJob revenue depends on it; batch 00 lands whole, batch 01 with 20 of its 1000 rows"
  fresh_namespace "$ns"
  data=$(mktemp -d)
  "$validate_bin" gen-bench-data --out "$data/full.parquet" --rows 1000 >/dev/null
  "$validate_bin" gen-bench-data --out "$data/partial.parquet" --rows 20 >/dev/null
  s3_put lake orders/batch=2026-11-01T00/part-0.parquet "$data/full.parquet"
  s3_put lake orders/batch=2026-11-01T01/part-0.parquet "$data/partial.parquet"
  s3_put quality .keep "$data/partial.parquet"
  glue_table lake orders batch
  "$executor_bin" "$ns" validation "ade-validate=$validate_bin" >"$state/logs/executor-demo.log" 2>&1 &
  executor_pid=$!
  kubectl apply -n "$ns" -f - <<'YAML'
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec: {provider: kubernetes}
---
apiVersion: ade.dev/v1alpha1
kind: ValidationSuite
metadata: {name: orders-quality}
spec:
  dataset: {fromJob: {name: orders, output: orders}, format: parquet}
  trigger: {after: {etlJobRef: {name: orders}}}
  checks:
    - {name: complete, rowCount: {min: 500}}
    - {name: id-unique, column: id, unique: {}}
    - {name: status-known, column: status, inSet: {values: [new, paid, shipped, delivered, returned]}}
  publish: {s3: {uri: "s3://quality/results/"}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: orders}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-01T02:00:00Z", parallelism: 2}
  gates: {after: [{validationSuiteRef: {name: orders-quality}}]}
  outputs:
    - name: orders
      uri: "s3://lake/orders/batch={{batch.id}}/"
      catalog: {database: lake, table: orders, partition: {batch: "{{batch.id}}"}}
  task: {container: {image: ghcr.io/acme/orders-etl:1.4, podMetadata: {annotations: {e2e.ade.dev/duration: 2s}}}}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: revenue}
spec:
  poolRef: {name: batch}
  window: {size: 1h}
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-01T02:00:00Z", parallelism: 2}
  dependsOn: [{etlJobRef: {name: orders}}]
  task: {container: {image: ghcr.io/acme/revenue-etl:2.0, podMetadata: {annotations: {e2e.ade.dev/duration: 2s}}}}
YAML

  say "both batches of orders run; ade-validate checks each; revenue waits for each upstream batch to pass"
  wait_until 180 "batch 01 of orders to be quarantined" \
    "kubectl get etlrun orders-2026-11-01t01 -n $ns -o json | jq -e '.status.conditions[] | select(.type == \"Quarantined\" and .status == \"True\")'"
  wait_until 60 "revenue's batch 00 to succeed" \
    "kubectl get etlrun revenue-2026-11-01t00 -n $ns -o json | jq -e '.status.phase == \"Succeeded\"'"
  show kubectl get vsuite,etljob,etlrun -n "$ns"
  say "why batch 01 of orders is quarantined, and why revenue's batch 01 waits"
  show kubectl get etlrun orders-2026-11-01t01 -n "$ns" \
    -o jsonpath='{range .status.conditions[?(@.type=="Quarantined")]}{.reason}: {.message}{"\n"}{end}'
  show kubectl get etlrun revenue-2026-11-01t01 -n "$ns" \
    -o jsonpath='{range .status.conditions[?(@.type=="Scheduled")]}{.reason}: {.message}{"\n"}{end}'
  wait_until 60 "batch 00 of orders to be in the catalog" \
    "kubectl get etljob orders -n $ns -o json | jq -e '.status.newestRegisteredBatch == \"2026-11-01T00\"'"
  say "readers of the Glue table lake.orders (Athena, Spark) see batch 00 only: batch 01 is not in the catalog"
  show glue_partitions lake orders

  say "the data is fixed (the whole batch lands) and batch 01 is run again"
  s3_put lake orders/batch=2026-11-01T01/part-0.parquet "$data/full.parquet"
  show kubectl create -n "$ns" -f - <<'YAML'
apiVersion: ade.dev/v1alpha1
kind: EtlRun
metadata: {name: orders-2026-11-01t01-rerun}
spec: {jobRef: {name: orders}, batchId: "2026-11-01T01", reason: rerun}
YAML
  wait_until 180 "revenue's batch 01 to succeed once the rerun passed" \
    "kubectl get etlrun revenue-2026-11-01t01 -n $ns -o json | jq -e '.status.phase == \"Succeeded\"'"
  wait_until 60 "batch 01 of orders to be in the catalog" \
    "kubectl get etljob orders -n $ns -o json | jq -e '.status.newestRegisteredBatch == \"2026-11-01T01\"'"
  show kubectl get vsuite,etljob,etlrun -n "$ns"
  say "the rerun passed: batch 01 is in the catalog now, as the run records"
  show glue_partitions lake orders
  show kubectl get etlrun orders-2026-11-01t01-rerun -n "$ns" \
    -o jsonpath='{range .status.partitions[*]}{.state} {.database}.{.table} {.values} {.location}{"\n"}{end}'
  kill -TERM "$executor_pid" 2>/dev/null && wait "$executor_pid" 2>/dev/null || true
  executor_pid=
  rm -rf "$data"
  what "ade-validate found batch 01 incomplete (20 rows, fewer than 500): the batch was quarantined and revenue's batch 01 waited while batch 00 went ahead; the rerun on the whole data passed, which lifted the quarantine, and revenue ran; the Glue table listed batch 01 only once it had passed"
}

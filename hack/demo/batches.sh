# Chapter "batches" of the demo (hack/demo.sh): batches on this cluster, the
# `kubernetes` provider — a schedule, a backfill two at a time, an invalid
# spec refused by the API server, and every sample with what the operator
# reports.

chapter_batches() {
  local ns=demo
  chapter "Batches on this cluster: a ClusterPool on the kubernetes provider and an EtlJob with a batch every minute, plus a backfill of six past minutes, two at a time"
  fresh_namespace "$ns"
  kubectl apply -n "$ns" -f - <<YAML
apiVersion: ade.dev/v1alpha1
kind: ClusterPool
metadata: {name: batch}
spec:
  provider: kubernetes
  capacity: {maxConcurrentRuns: 4}
---
apiVersion: ade.dev/v1alpha1
kind: EtlJob
metadata: {name: clicks}
spec:
  poolRef: {name: batch}
  schedule: "* * * * *"
  timeZone: UTC
  backfill: {from: "2026-11-01T00:00:00Z", to: "2026-11-01T00:06:00Z", parallelism: 2}
  task:
    container:
      image: ghcr.io/acme/clicks-etl:1.0
      args: ["--from={{window.start}}", "--to={{window.end}}", "--output=s3://lake/clicks/batch={{batch.id}}/"]
      resources: {requests: {cpu: "1", memory: 2Gi}}
      podMetadata: {annotations: {e2e.ade.dev/duration: ${task_seconds}s}}
YAML

  say "an invalid spec is rejected by the API server itself"
  show kubectl apply -n "$ns" -f manifests/samples/invalid/etljob-two-tasks.yaml || true

  say "waiting for the backfill and the first scheduled batch (up to two minutes)"
  wait_until 150 "seven Succeeded runs, one of them scheduled" \
    "kubectl get etlruns -n $ns -o json | jq -e '([.items[] | select(.status.phase == \"Succeeded\")] | length) >= 7 and ([.items[] | select(.spec.reason == \"schedule\" and .status.phase == \"Succeeded\")] | length) >= 1'"
  # let the job's status catch up with its last runs
  wait_until 15 "the job's active count to match its runs" \
    "[[ \$(kubectl get etlruns -n $ns -o json | jq '[.items[] | select(.status.phase != \"Succeeded\" and .status.phase != \"Failed\" and .status.phase != \"Cancelled\")] | length') == \$(kubectl get etljob clicks -n $ns -o jsonpath='{.status.activeCount}') ]]"

  show kubectl get etljob,etlrun -n "$ns"
  show kubectl get ade -n "$ns"
  say "the Jobs the runs created (one per attempt, named after run and attempt)"
  show kubectl get jobs.batch -n "$ns"

  say "every sample in manifests/samples/ (namespace samples), with what the operator reports"
  fresh_namespace samples
  kubectl apply -n samples -f manifests/samples/ >/dev/null
  wait_until 30 "every sample to be reported" \
    "kubectl get ade -n samples -o json | jq -e '[.items[] | select([(.status.conditions // [])[] | select(.type == \"Ready\")] | length == 0)] | length == 0'"
  kubectl get ade -n samples -o json | jq -r '.items[] | "\(.kind)/\(.metadata.name):" as $o | (.status.conditions // [])[] | select(.type == "Ready") | "  \($o) Ready=\(.status) \(.reason): \(.message)"'
  what "a batch every minute plus six past ones, two at a time, each run a Kubernetes Job named after its run and attempt; a spec with two tasks never reached the operator"
}

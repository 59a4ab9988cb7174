# Chapter "cost" of the demo (hack/demo.sh): what the other chapters' runs
# cost, with the `kubectl ade` plugin (kubectl-ade, built with the workspace
# and put on PATH by the demo), per job, per pool, and batch by batch.

chapter_cost() {
  chapter "What it cost: kubectl ade cost per job and pool, kubectl ade batches per job"
  local ns found=0 pool job
  for ns in demo demo-emr demo-eks demo-quality; do
    kubectl get namespace "$ns" >/dev/null 2>&1 || continue
    found=1
    show kubectl ade cost -n "$ns"
    for pool in $(kubectl get clusterpools -n "$ns" -o jsonpath='{.items[*].metadata.name}'); do
      show kubectl ade cost "$pool" -n "$ns"
    done
    job=$(kubectl get etljobs -n "$ns" -o jsonpath='{.items[*].metadata.name}')
    job=${job%% *}
    if [[ -n $job ]]; then show kubectl ade batches "$job" -n "$ns"; fi
  done
  if ((found == 0)); then
    echo "no demo namespace yet: run the other chapters first (make demo)"
    return 0
  fi
  what "every run carries its estimated cost (requested CPU and memory × price on kubernetes; its share of its EMR cluster's or EC2 node's instance-hours × the spot or on-demand price on emr and eks); kubectl ade adds them up per job and pool, and per batch with its reruns and validation verdict"
}

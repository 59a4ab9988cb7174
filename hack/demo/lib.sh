# Helpers of the demo's chapters (hack/demo.sh).

# ADE_DEMO_FAST=1 (the e2e suite's run of the demo): the same story with
# shorter task durations and idle timeout.
if [[ ${ADE_DEMO_FAST:-0} == 1 ]]; then
  idle_timeout=5 task_seconds=1
else
  idle_timeout=20 task_seconds=3
fi

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# A chapter's title.
chapter() { printf '\n\033[1;34m## %s\033[0m\n' "$*"; }

# One line on what just happened.
what() { printf '\n\033[1;32m-- what just happened:\033[0m %s\n' "$*"; }

# Prints a command as the reader would type it, then runs it.
show() {
  printf '\n\033[2m$ %s\033[0m\n' "$*"
  "$@"
}

# wait_until SECONDS WHAT CONDITION: evaluates CONDITION (a shell command)
# every second until it succeeds; fails the demo naming WHAT after SECONDS.
wait_until() {
  local seconds=$1 what=$2 condition=$3
  for _ in $(seq 1 "$seconds"); do
    if eval "$condition" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "demo: timed out after ${seconds}s waiting for $what" >&2
  return 1
}

# A port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts moto (tools/moto) on a free port of 127.0.0.1: sets moto_pid and
# moto_url.
start_moto() {
  local bin out
  bin=$(tools/moto/ensure.sh)
  out="$state/logs/moto-demo.out"
  : >"$out"
  "$bin/python" tools/moto/server.py --port 0 >"$out" 2>"$state/logs/moto-demo.log" &
  moto_pid=$!
  wait_until 60 "moto to answer" "grep -q '^ready ' '$out'"
  moto_url="http://127.0.0.1:$(awk '/^ready/ {print $2}' "$out")"
}

# Tells moto's EMR, which never advances steps on its own, that a step moved
# to STATE (the emulator's stand-in for Spark running the step).
emr_step() {
  curl -fsS -X POST "$moto_url/ade-control/emr/step-state" \
    -d "{\"clusterId\": \"$1\", \"stepId\": \"$2\", \"state\": \"$3\"}" >/dev/null
}

# s3_put BUCKET KEY FILE: puts a local file into moto's S3 (boto3 from
# moto's virtualenv), creating the bucket if needed.
s3_put() {
  AWS_ENDPOINT_URL=$moto_url AWS_DEFAULT_REGION=us-east-1 "$(tools/moto/ensure.sh)/python" - "$@" <<'PY'
import sys, boto3
bucket, key, path = sys.argv[1:4]
s3 = boto3.client("s3")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
s3.upload_file(path, bucket, key)
PY
}

# moto_py ARGS... <<'PY' ... PY: runs a Python script (from stdin) with
# boto3 against moto (moto's virtualenv); ARGS are its sys.argv[1:].
moto_py() {
  AWS_ENDPOINT_URL=$moto_url AWS_DEFAULT_REGION=us-east-1 "$(tools/moto/ensure.sh)/python" - "$@"
}

# glue_table DATABASE TABLE KEY: creates the Glue table DATABASE.TABLE (and
# its database) in moto, Parquet, partitioned by the string column KEY.
glue_table() {
  moto_py "$@" <<'PY'
import sys, boto3
database, table, key = sys.argv[1:4]
glue = boto3.client("glue")
try:
    glue.create_database(DatabaseInput={"Name": database})
except glue.exceptions.AlreadyExistsException:
    pass
try:
    glue.delete_table(DatabaseName=database, Name=table)
except glue.exceptions.EntityNotFoundException:
    pass
glue.create_table(DatabaseName=database, TableInput={
    "Name": table, "PartitionKeys": [{"Name": key, "Type": "string"}],
    "StorageDescriptor": {"Location": f"s3://{database}/{table}/", "Columns": [{"Name": "id", "Type": "bigint"}],
                          "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"}})
PY
}

# glue_partitions DATABASE TABLE: the table's partitions as GetPartitions
# lists them, one line each: values and location.
glue_partitions() {
  moto_py "$@" <<'PY'
import sys, boto3
database, table = sys.argv[1:3]
parts = boto3.client("glue").get_partitions(DatabaseName=database, TableName=table)["Partitions"]
for p in sorted(parts, key=lambda p: p["Values"]):
    print(" ".join(p["Values"]), p["StorageDescriptor"]["Location"])
print(f"({len(parts)} partition(s) in {database}.{table})")
PY
}

# fresh_namespace NS: NS, empty — what an earlier demo left there is deleted
# first (while the operator runs, so finalizers complete), so every chapter
# can run again.
fresh_namespace() {
  kubectl delete namespace "$1" --ignore-not-found --wait=true --timeout=180s >/dev/null
  kubectl create namespace "$1" >/dev/null
}

# Chapter "stream" of the demo (hack/demo.sh): PII hidden at the door. A
# StreamConsumer reads a 4-shard Kinesis stream (moto); its Deployment's pods
# run as the real ade-stream on this machine (the demo's pod runner plays the
# kubelet, kwok keeps their status), keep their shard leases as Kubernetes
# Leases, hash e-mails, tokenize phone numbers and drop SSNs before anything
# is written, and land JSON lines in S3. Deleting the consumer stops its pods,
# which hand their shards off first.

chapter_stream() {
  local ns=demo-stream
  chapter "PII hidden at the door: a StreamConsumer reads 4 Kinesis shards with real ade-stream pods, hashes e-mails, tokenizes phones, drops SSNs, and lands JSON lines in S3"
  fresh_namespace "$ns"
  moto_py <<'PY'
import boto3
boto3.client("kinesis").create_stream(StreamName="app-events", ShardCount=4)
s3 = boto3.client("s3")
try:
    s3.create_bucket(Bucket="acme-lake")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
PY
  show kubectl create secret generic pii-key -n "$ns" --from-literal=hmac=demo-hmac-key --from-literal=token=demo-token-key
  ADE_E2E_PIDS_FILE="$state/stream-pids" "$executor_bin" "$ns" ade.dev/stream-consumer=app-events \
    "ade-stream=$stream_bin" >"$state/logs/stream-pods-demo.log" 2>&1 &
  stream_executor_pid=$!
  kubectl apply -n "$ns" -f - <<'YAML'
apiVersion: ade.dev/v1alpha1
kind: StreamConsumer
metadata: {name: app-events}
spec:
  source:
    kinesis: {streamName: app-events, region: us-east-1, startingPosition: TRIM_HORIZON}
  transform:
    obfuscate:
      - {field: email, method: hmac-sha256, keySecretRef: {name: pii-key, key: hmac}}
      - {field: phone, method: token, keySecretRef: {name: pii-key, key: token}}
      - {field: ssn, method: drop}
  sink:
    s3:
      uri: s3://acme-lake/raw/app_events/
      format: jsonl
      flush: {maxRecords: 500, maxBytes: 16Mi, maxInterval: 2s}
  checkpoint: {interval: 2s}
  scaling: {minReplicas: 1, maxReplicas: 4, targetLag: 30s}
YAML

  say "the operator deploys ade-stream pods with a ServiceAccount that may hold Leases and nothing else; the pod takes every shard"
  wait_until 120 "the consumer to be Ready" \
    "kubectl get scon app-events -n $ns -o json | jq -e '.status.conditions[] | select(.type == \"Ready\" and .status == \"True\")'"
  say "1000 app events with an e-mail, a phone number and an SSN each go onto the stream"
  moto_py <<'PY'
import boto3, json
k = boto3.client("kinesis")
for start in range(0, 1000, 250):
    records = [{"Data": json.dumps({"id": i, "event": "signup", "email": f"user{i}@example.com",
                                    "phone": f"+1 415-555-{i:04d}", "ssn": f"123-45-{i:04d}"}).encode(),
                "PartitionKey": str(i)} for i in range(start, start + 250)]
    k.put_records(StreamName="app-events", Records=records)
PY
  wait_until 120 "the 1000 events in the lake" "[[ \$(lake_count) -ge 1000 ]]"
  wait_until 60 "every shard's checkpoint in the status" \
    "kubectl get scon app-events -n $ns -o json | jq -e '[.status.shards[] | select(.checkpoint)] | length == 4'"
  show kubectl get scon -n "$ns"
  show kubectl get scon app-events -n "$ns" \
    -o jsonpath='{range .status.shards[*]}{.shardId}{"  owner="}{.owner}{"  checkpoint="}{.checkpoint}{"\n"}{end}'
  show kubectl get leases -n "$ns" -l ade.dev/stream-consumer=app-events
  say "event 7 as it was put, and as it landed in s3://acme-lake/raw/app_events/"
  echo '{"id": 7, "event": "signup", "email": "user7@example.com", "phone": "+1 415-555-0007", "ssn": "123-45-0007"}'
  moto_py <<'PY'
import boto3, json
s3 = boto3.client("s3")
for o in s3.list_objects_v2(Bucket="acme-lake", Prefix="raw/app_events/")["Contents"]:
    for line in s3.get_object(Bucket="acme-lake", Key=o["Key"])["Body"].read().decode().splitlines():
        record = json.loads(line)
        if record.get("id") == 7:
            print(json.dumps(record))
            print(f"  (in {o['Key']})")
PY
  local leaks
  leaks=$(lake_grep '@example.com|415-555-|123-45-')
  [[ $leaks == 0 ]] || { echo "demo: $leaks objects hold PII in clear" >&2; return 1; }
  what "ade-stream pods (real processes) took the 4 shards through Kubernetes Leases and wrote every event once under a name made of its shard and sequence numbers; the e-mail is an HMAC, the phone number a token of the same shape, the SSN is gone, and no object in the bucket holds a clear value"

  say "deleting the consumer: its pods get SIGTERM, flush, checkpoint and hand their shards off, and the garbage collector removes the Deployment, ServiceAccount, Role and RoleBinding"
  show kubectl delete scon app-events -n "$ns"
  wait_until 90 "the pods' processes to end" "[[ ! -s '$state/stream-pids' ]]"
  kill -TERM "$stream_executor_pid" 2>/dev/null && wait "$stream_executor_pid" 2>/dev/null || true
  stream_executor_pid=
  what "nothing of the consumer runs any more; its checkpoints went with its Leases"
}

# How many events the lake holds.
lake_count() {
  moto_py <<'PY'
import boto3
s3 = boto3.client("s3")
n = 0
for o in s3.list_objects_v2(Bucket="acme-lake", Prefix="raw/app_events/").get("Contents", []):
    n += len(s3.get_object(Bucket="acme-lake", Key=o["Key"])["Body"].read().decode().splitlines())
print(n)
PY
}

# lake_grep REGEX: how many objects of the bucket match REGEX anywhere in their bytes.
lake_grep() {
  moto_py "$1" <<'PY'
import boto3, re, sys
s3 = boto3.client("s3")
pattern = re.compile(sys.argv[1].encode())
hits = 0
for o in s3.list_objects_v2(Bucket="acme-lake").get("Contents", []):
    if pattern.search(s3.get_object(Bucket="acme-lake", Key=o["Key"])["Body"].read()):
        hits += 1
print(hits)
PY
}

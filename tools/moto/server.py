"""Runs moto's server on 127.0.0.1 with a small control API for what moto cannot do.

Usage: python server.py [--port PORT] [--host 127.0.0.1]

Prints "ready <port>" on stdout once the server answers, then serves until
SIGTERM/SIGINT. Besides every AWS API moto emulates (point the SDK at
http://127.0.0.1:PORT), it answers:

  GET  /ade-control/health
       -> 200 {"ok": true}
  POST /ade-control/emr/step-state
       {"clusterId": "j-...", "stepId": "s-...", "state": "COMPLETED",
        "region": "us-east-1", "accountId": "123456789012",
        "message": "optional state change reason"}
       -> 200 {"clusterId":..., "stepId":..., "state":...}, 404 if unknown
  POST /ade-control/emr/cluster-state
       {"clusterId": "j-...", "state": "TERMINATED", "region": ..., "accountId": ...,
        "message": "optional state change reason"}
       (a terminal state also sets the cluster's end time)
       -> 200, 404 if unknown

CancelSteps, which moto lacks, is added (patch_emr_cancel_steps).

moto's EMR never advances steps (the first is RUNNING and stays so, later ones
PENDING) and keeps clusters WAITING (RUNNING once a step was added); tests use
these endpoints to drive a lifecycle. A step created RUNNING gets its start
time (moto leaves it empty). region defaults
to us-east-1 and accountId to moto's default account 123456789012.
"""

import argparse
import json
import signal
import sys
import threading
import time
import urllib.request

from moto.core.utils import utcnow

from moto.server import ThreadedMotoServer

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def emr_backend(account_id, region):
    from moto.emr.models import emr_backends

    return emr_backends[account_id][region]


def stamp_running_steps():
    """moto creates a cluster's first step RUNNING but never sets its start
    time; EMR does. Set it, so step durations (and costs apportioned by them)
    are real."""
    from moto.emr.models import Step

    original = Step.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.state == "RUNNING" and self.start_date_time is None:
            self.start_date_time = utcnow()

    Step.__init__ = init


def set_step_state(body):
    backend = emr_backend(body.get("accountId", DEFAULT_ACCOUNT), body.get("region", DEFAULT_REGION))
    cluster = backend.clusters.get(body["clusterId"])
    if cluster is None:
        return 404, {"error": f"no cluster {body['clusterId']}"}
    for step in cluster.steps:
        if step.id == body["stepId"]:
            step.state = body["state"]
            # moto's Step keeps its timeline in start_date_time / end_date_time (datetimes).
            now = utcnow()
            if body["state"] in ("RUNNING", "COMPLETED", "FAILED") and step.start_date_time is None:
                step.start_date_time = now
            if body["state"] in ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"):
                step.end_date_time = now
            if "message" in body:
                step.last_state_change_reason = body["message"]
            return 200, {"clusterId": cluster.id, "stepId": step.id, "state": step.state}
    return 404, {"error": f"no step {body['stepId']} in cluster {body['clusterId']}"}


def set_cluster_state(body):
    backend = emr_backend(body.get("accountId", DEFAULT_ACCOUNT), body.get("region", DEFAULT_REGION))
    cluster = backend.clusters.get(body["clusterId"])
    if cluster is None:
        return 404, {"error": f"no cluster {body['clusterId']}"}
    cluster.state = body["state"]
    if body["state"] in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS") and cluster.end_datetime is None:
        cluster.end_datetime = utcnow()
    if "message" in body:
        cluster.last_state_change_reason = body["message"]
    return 200, {"clusterId": cluster.id, "state": cluster.state}


def patch_emr_cancel_steps():
    """moto has no CancelSteps. EMR's: PENDING steps are cancelled; RUNNING ones
    too with SEND_INTERRUPT (the default on EMR 5.28+, and what ADE sends);
    each step gets a CancelStepsInfo (SUBMITTED, or FAILED with a reason)."""
    from moto.emr.responses import ActionResult, ElasticMapReduceResponse

    def cancel_steps(self):
        cluster = self.backend.clusters.get(self._get_param("ClusterId"))
        interrupt = self._get_param("StepCancellationOption", "SEND_INTERRUPT") == "SEND_INTERRUPT"
        infos = []
        for step_id in self._get_param("StepIds", []):
            step = next((s for s in (cluster.steps if cluster else []) if s.id == step_id), None)
            if step is None:
                infos.append({"StepId": step_id, "Status": "FAILED", "Reason": "no such step"})
            elif step.state == "PENDING" or (step.state == "RUNNING" and interrupt):
                step.state = "CANCELLED"
                step.end_date_time = utcnow()
                infos.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
            else:
                infos.append({"StepId": step_id, "Status": "FAILED", "Reason": f"step is {step.state}"})
        return ActionResult({"CancelStepsInfoList": infos})

    ElasticMapReduceResponse.cancel_steps = cancel_steps


def patch_kinesis_resharding():
    """Makes moto 5.2.5's Kinesis resharding behave like Kinesis, as consumers see it.

    Upstream moto (a) routes puts by hash key to the first shard covering it, closed
    parents included, so records keep landing in a closed shard; (b) on SplitShard moves
    the parent's records into the children (new sequence numbers, and with the data and
    hash-key arguments swapped); (c) on MergeShards copies both parents' records into the
    child; (d) never ends a closed shard: GetRecords always returns a NextShardIterator.
    Kinesis keeps a closed shard's records where they are, sends new records to open
    shards only, and answers GetRecords at the end of a closed shard without a
    NextShardIterator (SHARD_END). These replacements do that; nothing else changes.
    """
    from operator import attrgetter

    from moto.kinesis import models as km

    def get_shard_for_key(self, partition_key, explicit_hash_key):
        if not isinstance(partition_key, str):
            raise km.InvalidArgumentError("partition_key")
        if len(partition_key) > 256:
            raise km.InvalidArgumentError("partition_key")
        if explicit_hash_key:
            int_key = int(explicit_hash_key)
            if int_key >= 2**128:
                raise km.InvalidArgumentError("explicit_hash_key")
        else:
            int_key = int(km.md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
        for shard in self.shards.values():
            if shard.is_open and shard.starting_hash <= int_key <= shard.ending_hash:
                return shard
        return None

    def split_shard(self, shard_to_split, new_starting_hash_key):
        new_start = int(new_starting_hash_key)
        shard = self.shards[shard_to_split]
        if not shard.is_open or not (shard.starting_hash < new_start < shard.ending_hash):
            raise km.InvalidArgumentError(message=f"cannot split {shard_to_split} at {new_start}")
        last_id = sorted(self.shards.values(), key=attrgetter("_shard_id"))[-1]._shard_id
        for index, start, end in ((1, shard.starting_hash, new_start - 1), (2, new_start, shard.ending_hash)):
            child = km.Shard(last_id + index, starting_hash=start, ending_hash=end, parent=shard.shard_id)
            self.shards[child.shard_id] = child
        shard.is_open = False

    def merge_shards(self, shard_to_merge, adjacent_shard_to_merge):
        first = self.shards[shard_to_merge]
        second = self.shards[adjacent_shard_to_merge]
        if first.ending_hash + 1 == second.starting_hash:
            low, high = first, second
        elif second.ending_hash + 1 == first.starting_hash:
            low, high = second, first
        else:
            raise km.InvalidArgumentError(adjacent_shard_to_merge)
        if not (first.is_open and second.is_open):
            raise km.InvalidArgumentError(message="both shards must be open")
        last_id = sorted(self.shards.values(), key=attrgetter("_shard_id"))[-1]._shard_id
        child = km.Shard(
            last_id + 1,
            starting_hash=low.starting_hash,
            ending_hash=high.ending_hash,
            parent=first.shard_id,
            adjacent_parent=second.shard_id,
        )
        self.shards[child.shard_id] = child
        first.is_open = False
        second.is_open = False

    original_get_records = km.KinesisBackend.get_records

    def get_records(self, stream_arn, shard_iterator, limit):
        next_iterator, records, millis = original_get_records(self, stream_arn, shard_iterator, limit)
        stream_name, shard_id, _ = km.decompose_shard_iterator(shard_iterator)
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        shard = stream.get_shard(shard_id)
        _, _, last = km.decompose_shard_iterator(next_iterator)
        if not shard.is_open and int(last) >= shard.get_max_sequence_number():
            next_iterator = None
        return next_iterator, records, millis

    km.Stream.get_shard_for_key = get_shard_for_key
    km.Stream.split_shard = split_shard
    km.Stream.merge_shards = merge_shards
    km.KinesisBackend.get_records = get_records


CONTROL_ROUTES = {
    "/ade-control/emr/step-state": set_step_state,
    "/ade-control/emr/cluster-state": set_cluster_state,
}


class ControlMiddleware:
    """WSGI middleware: /ade-control/* is ours, everything else goes to moto."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/ade-control/"):
            return self.app(environ, start_response)
        if path == "/ade-control/health":
            return self.reply(start_response, 200, {"ok": True})
        handler = CONTROL_ROUTES.get(path)
        if handler is None or environ.get("REQUEST_METHOD") != "POST":
            return self.reply(start_response, 404, {"error": f"unknown control endpoint {path}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            status, payload = handler(body)
        except (KeyError, ValueError) as e:
            status, payload = 400, {"error": f"bad request: {e!r}"}
        return self.reply(start_response, status, payload)

    @staticmethod
    def reply(start_response, status, payload):
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port, reported in the ready line")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    patch_kinesis_resharding()
    patch_emr_cancel_steps()

    stamp_running_steps()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    # ThreadedMotoServer builds its werkzeug server in start(); wrap its WSGI app.
    wsgi_server = server._server
    wsgi_server.app = ControlMiddleware(wsgi_server.app)
    port = server.get_host_and_port()[1]

    url = f"http://{args.host}:{port}/ade-control/health"
    for _ in range(200):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    else:
        print("moto did not become ready", file=sys.stderr)
        server.stop()
        sys.exit(1)
    print(f"ready {port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()

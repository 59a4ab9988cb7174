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

  POST /ade-control/ec2/fleet-failures
       {"instanceTypes": ["m5.large", ...], "market": "spot" | "on-demand" | "any",
        "errorCode": "InsufficientInstanceCapacity", "errorMessage": "optional"}
       -> 200 with the setting now in force; 400 on a bad market
       While set, an instant CreateFleet launches nothing for overrides of a listed
       type in a matching market and answers an Errors item for each instead
       (patch_ec2_fleet_failures). Each call replaces the last; an empty
       instanceTypes clears it. One setting for the whole server (every account
       and region).

  POST /ade-control/ec2/spot-interruption
       {"instanceId": "i-...", "region": ..., "accountId": ...}
       -> 200 {"instanceId":..., "state": "terminated"}, 404 if unknown
       EC2 reclaims a spot instance: it terminates as TerminateInstances would,
       but with the state reason EC2 gives a reclaimed spot instance
       (Server.SpotInstanceTermination) and a "Service initiated (<time> GMT)"
       transition reason, as DescribeInstances then shows them.

  POST /ade-control/ec2/spot-prices
       {"prices": {"m5.xlarge": 0.0712, ...}}
       -> 200 with the prices now in force; 400 unless each is a number >= 0
       DescribeSpotPriceHistory answers these prices for the listed types
       (moto answers 0.00001 for every type), still in effect since moto's
       2006 timestamp. Each call replaces the last; {} restores moto's.

  POST /ade-control/sqs/queue
       {"name": "q", "region": ..., "accountId": ...}
       -> 200 {"queueUrl": "http://127.0.0.1:PORT/123456789012/q"}; 400 on a bad name
       Creates the (standard) SQS queue unless it exists; queueUrl is what
       GetQueueUrl answers a client of this host (moto builds it from the
       request's scheme and Host: <scheme>://<host>/<accountId>/<name>).

  POST /ade-control/ec2/interruption-event
       {"queue": "q", "instanceId": "i-...",
        "kind": "spot-interruption-warning" | "rebalance-recommendation" | "state-change",
        "state": "shutting-down" (state-change only, and required there),
        "region": ..., "accountId": ...}
       -> 200 {"messageId": "...", "event": {...}}; 404 if the queue is unknown,
       400 on an unknown kind or state
       Plays EventBridge delivering an EC2 event to an SQS target of a rule
       (moto's EventBridge delivers none of EC2's): one message on queue q whose
       body is the event as EventBridge writes it (compact JSON, keys in its order):
         {"version":"0","id":"<uuid>","detail-type":"EC2 Spot Instance Interruption Warning",
          "source":"aws.ec2","account":"<accountId>","time":"2024-01-02T03:04:05Z",
          "region":"<region>","resources":["arn:aws:ec2:<region>:<accountId>:instance/<id>"],
          "detail":{"instance-id":"<id>","instance-action":"terminate"}}
       A rebalance-recommendation has detail-type "EC2 Instance Rebalance
       Recommendation" and detail {"instance-id":"<id>"}; a state-change "EC2
       Instance State-change Notification" and {"instance-id":"<id>","state":"<state>"}.
       The instance is not looked up (EventBridge does not either) nor changed.

CancelSteps, which moto lacks, is added (patch_emr_cancel_steps). CreateFleet
honors its ClientToken as EC2 does (patch_ec2_fleet_client_token).

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
from werkzeug.wsgi import get_current_url

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


# What /ade-control/ec2/fleet-failures set: (instance types, market, code, message),
# replaced whole on every call, so a CreateFleet reads one consistent setting.
FLEET_FAILURES = (frozenset(), "any", "", "")
FLEET_MARKETS = ("spot", "on-demand", "any")


def set_fleet_failures(body):
    global FLEET_FAILURES
    types = body["instanceTypes"]
    market = body.get("market", "any")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return 400, {"error": "instanceTypes must be a list of instance type names"}
    if market not in FLEET_MARKETS:
        return 400, {"error": f"market must be one of {', '.join(FLEET_MARKETS)}, not {market!r}"}
    code = body.get("errorCode") or "InsufficientInstanceCapacity"
    # An empty message: error_for writes EC2's, naming the type and the subnet's zone.
    message = body.get("errorMessage") or ""
    FLEET_FAILURES = (frozenset(types), market, code, message)
    return 200, {"instanceTypes": sorted(set(types)), "market": market, "errorCode": code, "errorMessage": message}


def patch_ec2_fleet_failures():
    """Lets an instant CreateFleet fail some of its overrides, as EC2 does when a pool
    has no capacity (moto always launches). While /ade-control/ec2/fleet-failures
    lists a type for a market, moto's Fleet launches from the other overrides only
    (all of the capacity on the first of them, as moto does unless the spot
    strategy is diversified) and records one error per failed override and market
    in `fleet.errors`, shaped like botocore's CreateFleetError (LaunchTemplateAndOverrides,
    Lifecycle, ErrorCode, ErrorMessage). moto serializes from the service model,
    so CreateFleet answers them in its errorSet and DescribeFleets in FleetData's.
    If every override fails, nothing launches and the fulfilled capacity stays 0
    (upstream would pick a spec from an empty list: IndexError, a 500). Fleets of
    type maintain or request are left alone.
    """
    from moto.ec2.models.fleets import Fleet
    from moto.ec2.responses.fleets import Fleets

    def error_for(fleet, spec, lifecycle, code, message):
        if not message:
            try:
                zone = fleet.ec2_backend.get_subnet(spec.subnet_id).availability_zone
            except Exception:  # no or an unknown subnet: moto launches in the region's first zone
                zone = fleet.ec2_backend.region_name + "a"
            message = (
                f"We currently do not have sufficient {spec.instance_type} capacity in the "
                f"Availability Zone you requested ({zone})."
            )
        launched_from = {"LaunchTemplateSpecification": spec.launch_template_spec}
        if spec.overrides:
            launched_from["Overrides"] = spec.overrides
        return {
            "LaunchTemplateAndOverrides": launched_from,
            "Lifecycle": lifecycle,
            "ErrorCode": code,
            "ErrorMessage": message,
        }

    def failing(lifecycle, original):
        def create(self, weight_to_add):
            types, market, code, message = FLEET_FAILURES
            if self.fleet_type != "instant" or market not in (lifecycle, "any"):
                return original(self, weight_to_add)
            failed = [spec for spec in self.launch_specs if spec.instance_type in types]
            if not failed:
                return original(self, weight_to_add)
            # `errors` is FleetData's and CreateFleetResult's Errors to moto's serializer.
            errors = self.__dict__.setdefault("errors", [])
            # One error per override and market (moto may ask a market twice: its
            # SpotTargetCapacity, then the rest of the total in the default market).
            seen = self.__dict__.setdefault("_ade_failed", set())
            for spec in failed:
                if (spec, lifecycle) not in seen:
                    seen.add((spec, lifecycle))
                    errors.append(error_for(self, spec, lifecycle, code, message))
            rest = [spec for spec in self.launch_specs if spec not in failed]
            if not rest:
                return self.spot_requests if lifecycle == "spot" else None
            every = self.launch_specs
            self.launch_specs = rest
            try:
                return original(self, weight_to_add)
            finally:
                self.launch_specs = every

        return create

    Fleet.create_spot_requests = failing("spot", Fleet.create_spot_requests)
    Fleet.create_on_demand_requests = failing("on-demand", Fleet.create_on_demand_requests)

    original_create_fleet = Fleets.create_fleet

    def create_fleet(self):
        result = original_create_fleet(self)
        fleet = self.ec2_backend.get_fleet(result.result["FleetId"])
        errors = getattr(fleet, "errors", None)
        if errors:
            result.result["Errors"] = errors
        return result

    Fleets.create_fleet = create_fleet


def patch_ec2_fleet_client_token():
    """Makes CreateFleet idempotent by its ClientToken, as EC2 does (moto ignores
    the token): a call whose token this account and region have seen answers
    the fleet the first call made and launches nothing more, so an SDK that
    retries a call whose answer was lost does not launch twice."""
    from moto.ec2.responses.fleets import Fleets

    original = Fleets.create_fleet
    made = {}
    lock = threading.Lock()

    def create_fleet(self):
        token = self._get_param("ClientToken")
        if not token:
            return original(self)
        key = (self.current_account, self.region, token)
        with lock:
            if key not in made:
                made[key] = original(self)
            return made[key]

    Fleets.create_fleet = create_fleet


# What /ade-control/ec2/spot-prices set: instance type -> USD per hour.
SPOT_PRICES = {}


def set_spot_prices(body):
    global SPOT_PRICES
    prices = body["prices"]
    if not isinstance(prices, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in prices.values()
    ):
        return 400, {"error": "prices must map instance types to numbers >= 0"}
    SPOT_PRICES = {str(k): float(v) for k, v in prices.items()}
    return 200, {"prices": SPOT_PRICES}


def patch_ec2_spot_prices():
    """DescribeSpotPriceHistory answers the prices /ade-control/ec2/spot-prices set."""
    from moto.ec2.responses.spot_instances import SpotInstances

    original = SpotInstances.describe_spot_price_history

    def describe_spot_price_history(self):
        result = original(self)
        prices = SPOT_PRICES
        for item in result.result.get("SpotPriceHistory", []):
            if item.get("InstanceType") in prices:
                item["SpotPrice"] = f"{prices[item['InstanceType']]:.6f}"
        return result

    SpotInstances.describe_spot_price_history = describe_spot_price_history


def interrupt_spot_instance(body):
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    backend = ec2_backends[body.get("accountId", DEFAULT_ACCOUNT)][body.get("region", DEFAULT_REGION)]
    instance = backend.get_instance_by_id(body["instanceId"])
    if instance is None:
        return 404, {"error": f"no instance {body['instanceId']}"}
    instance.terminate()
    instance._reason = f"Service initiated ({utcnow().strftime('%Y-%m-%d %H:%M:%S GMT')})"
    instance.state_reason = StateReason(
        "Server.SpotInstanceTermination: Spot instance termination",
        "Server.SpotInstanceTermination",
    )
    return 200, {"instanceId": instance.id, "state": instance._state.name}


def with_base_url(handler):
    """Marks a control handler that also takes the request's base URL
    (`<scheme>://<Host>`, what moto builds URLs such as queue URLs from)."""
    handler.wants_base_url = True
    return handler


def sqs_backend(account_id, region):
    from moto.sqs.models import sqs_backends

    return sqs_backends[account_id][region]


@with_base_url
def create_sqs_queue(body, base_url):
    from urllib.parse import urlparse

    from moto.core.exceptions import ServiceException

    backend = sqs_backend(body.get("accountId", DEFAULT_ACCOUNT), body.get("region", DEFAULT_REGION))
    name = body["name"]
    if not isinstance(name, str):
        return 400, {"error": "name must be a string"}
    queue = backend.queues.get(name)
    if queue is None:
        try:
            queue = backend.create_queue(name)
        except ServiceException as e:  # InvalidParameterValue for a bad name
            return 400, {"error": f"{e.code}: {e.message}"}
    # GetQueueUrl's answer: moto's Queue.url of the request URL (scheme and host).
    return 200, {"queueUrl": queue.url(urlparse(base_url))}


# kind -> EventBridge's detail-type for the EC2 events /ade-control/ec2/interruption-event sends.
EC2_EVENT_DETAIL_TYPES = {
    "spot-interruption-warning": "EC2 Spot Instance Interruption Warning",
    "rebalance-recommendation": "EC2 Instance Rebalance Recommendation",
    "state-change": "EC2 Instance State-change Notification",
}
EC2_INSTANCE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")


def send_ec2_interruption_event(body):
    """EventBridge delivering an EC2 event to a rule's SQS target: the event, as
    EventBridge writes it, is the body of one message on the queue."""
    import uuid

    from moto.core.exceptions import ServiceException

    account = body.get("accountId", DEFAULT_ACCOUNT)
    region = body.get("region", DEFAULT_REGION)
    instance = body["instanceId"]
    kind = body["kind"]
    if kind not in EC2_EVENT_DETAIL_TYPES:
        return 400, {"error": f"kind must be one of {', '.join(EC2_EVENT_DETAIL_TYPES)}, not {kind!r}"}
    if kind == "spot-interruption-warning":
        detail = {"instance-id": instance, "instance-action": "terminate"}
    elif kind == "rebalance-recommendation":
        detail = {"instance-id": instance}
    else:
        state = body.get("state")
        if state not in EC2_INSTANCE_STATES:
            states = ", ".join(EC2_INSTANCE_STATES)
            return 400, {"error": f"a state-change needs a state, one of {states}, not {state!r}"}
        detail = {"instance-id": instance, "state": state}
    if not isinstance(body["queue"], str):
        return 400, {"error": "queue must be a queue name"}
    backend = sqs_backend(account, region)
    if body["queue"] not in backend.queues:
        return 404, {"error": f"no queue {body['queue']} in {account}/{region}"}
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EC2_EVENT_DETAIL_TYPES[kind],
        "source": "aws.ec2",
        "account": account,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:{account}:instance/{instance}"],
        "detail": detail,
    }
    try:
        message = backend.send_message(body["queue"], json.dumps(event, separators=(",", ":")))
    except ServiceException as e:  # e.g. MissingParameter: a FIFO queue wants a message group
        return 400, {"error": f"{e.code}: {e.message}"}
    return 200, {"messageId": message.id, "event": event}


CONTROL_ROUTES = {
    "/ade-control/emr/step-state": set_step_state,
    "/ade-control/emr/cluster-state": set_cluster_state,
    "/ade-control/ec2/fleet-failures": set_fleet_failures,
    "/ade-control/ec2/spot-interruption": interrupt_spot_instance,
    "/ade-control/ec2/spot-prices": set_spot_prices,
    "/ade-control/sqs/queue": create_sqs_queue,
    "/ade-control/ec2/interruption-event": send_ec2_interruption_event,
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
            if getattr(handler, "wants_base_url", False):
                status, payload = handler(body, get_current_url(environ, host_only=True).rstrip("/"))
            else:
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
    patch_ec2_fleet_failures()
    patch_ec2_fleet_client_token()
    patch_ec2_spot_prices()

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

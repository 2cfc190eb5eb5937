"""One environment's AWS, on this machine: moto's server, filled from the synthesized templates.

Everything comes from the cloud assembly, none of it from a second list: buckets, topics,
queues and log groups are created as the templates declare them; each BucketDeployment's
sources are unpacked into its destination, as the deployment's handler does (so the DAG
folder and the Glue scripts are read back from S3, where MWAA and Glue find them); Glue jobs
are created from their `AWS::Glue::Job` properties. CloudFormation's intrinsic functions are
resolved the way CloudFormation would, with the names a stack gives unnamed resources.

Two parts of AWS are not moto's:
- EventBridge rules. Each rule's event pattern, as synthesized, decides whether an event
  reaches the rule's targets. The matcher is the one moto's PutEvents uses
  (moto.events.models.EventPattern: prefix, suffix, anything-but, numeric, exists, wildcard,
  equals-ignore-case); moto implements neither TestEventPattern nor Lambda targets without
  Docker, so the rules are evaluated here. Targets are SQS queues (sent to in moto), Lambda
  functions (run by `lambdas.LocalFunction`) and SNS topics (published to in moto).
- Lambda. moto runs functions in Docker, which is not available; `lambdas.LocalFunction`
  runs each bundle from the assembly in a Python process of its own. An SNS subscription of
  protocol `lambda` becomes an SQS queue subscribed to the topic in moto, whose messages are
  handed to the function as the SNS event Lambda would receive. An SQS event source mapping
  is a poller of its queue in moto (moto's own invokes each message alone, at send time, and
  ignores partial batch responses).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glueflow_local.assembly import BUCKET_DEPLOYMENT, CloudAssembly
from glueflow_local.errors import LocalRunError
from glueflow_local.events import sns_lambda_event, sqs_lambda_event
from glueflow_local.lambdas import LocalFunction
from glueflow_local.timeline import Timeline

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",  # moto's; nothing leaves this machine
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto decides the account of a request by, first, MOTO_ACCOUNT_ID, then an
# `x-moto-account-id` header, then the IAM access key it was signed with
# (moto/core/responses.py, `get_current_account`). Each account here gets its own IAM user
# and key, created with the header: the environment's processes sign with the environment's,
# a source's owner with its own, and moto keeps their buckets apart as AWS does.
ACCOUNT_HEADER = "x-moto-account-id"
LOCAL_USER = "glueflow-local"


@dataclass
class Rule:
    """An EventBridge rule: its pattern and the ARNs of its targets."""

    stack: str
    logical_id: str
    pattern: dict[str, Any]
    targets: list[str]
    dead_letter_arn: str | None = None
    arn: str = ""
    matcher: Any = None  # the pattern, compiled once

    def __post_init__(self) -> None:
        self.matcher = _compile(self.pattern)


@dataclass
class Archive:
    """An EventBridge archive: its pattern, and the events it kept, with when they came."""

    arn: str
    pattern: dict[str, Any]
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    matcher: Any = None  # the pattern, compiled once

    def __post_init__(self) -> None:
        self.matcher = _compile(self.pattern)


@dataclass
class Subscription:
    """An SNS subscription of a Lambda function, carried by an SQS queue in moto."""

    topic_arn: str
    function: LocalFunction
    queue_url: str
    arn: str = ""


@dataclass
class EventSource:
    """An SQS event source mapping: the queue and the function it feeds."""

    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int
    partial: bool  # ReportBatchItemFailures


@dataclass
class Physical:
    """What CloudFormation returns for a resource: its Ref and its attributes."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


CATALOG_TYPES = ("AWS::Glue::Database", "AWS::Glue::Table")


def create_catalog(glue: Any, resources: list[tuple[str, dict[str, Any]]]) -> None:
    """The templates' Glue Data Catalog: databases first, then their tables (CreateDatabase and
    CreateTable with the DatabaseInput and TableInput CloudFormation passes on). `resources`:
    (type, resolved properties)."""
    for kind, props in sorted(resources, key=lambda r: CATALOG_TYPES.index(r[0])):
        if kind == "AWS::Glue::Database":
            glue.create_database(CatalogId=props["CatalogId"], DatabaseInput=props["DatabaseInput"])
        else:
            glue.create_table(
                CatalogId=props["CatalogId"],
                DatabaseName=props["DatabaseName"],
                TableInput=props["TableInput"],
            )


class LocalCloud:
    """moto's server with one environment's resources, and the rules and functions around it."""

    def __init__(self, assembly: CloudAssembly, timeline: Timeline, workdir: Path) -> None:
        self.assembly = assembly
        self.timeline = timeline
        self.workdir = workdir
        first = next(iter(assembly.stack_artifacts.values()))
        _, _, account_region = first["environment"].partition("aws://")
        self.account, _, self.region = account_region.partition("/")
        self.physical: dict[tuple[str, str], Physical] = {}
        self.functions: dict[str, LocalFunction] = {}  # function ARN -> function
        self.function_env: dict[str, str] = {}  # set on every function, over its template's
        self.rules: list[Rule] = []
        self.archives: list[Archive] = []
        self.replays: dict[str, dict[str, Any]] = {}
        self.subscriptions: list[Subscription] = []
        self.event_sources: list[EventSource] = []
        # Seconds of scenario time per real second (glueflow_local/scenarios.py): a batch the
        # function failed comes back after the queue's visibility timeout divided by it.
        self.time_scale = 1.0
        self.endpoint = ""
        self._server: Any = None
        self._stop = threading.Event()
        self._pollers: list[threading.Thread] = []
        self._on_stop: list[Callable[[], None]] = []
        # What stand-ins need in the environment of Airflow's processes (a CA bundle that
        # trusts a loopback HTTPS server): the local run passes it on.
        self.process_env: dict[str, str] = {}
        # Per account, the access key its requests are signed with (`start`, `credentials`).
        self._credentials: dict[str, dict[str, str]] = {}
        self.sources: Any = None  # glueflow_local.sources.Sources, after provision()

    # --- moto ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start moto's server on a free loopback port; this process's AWS clients use it."""
        os.environ.update(CREDENTIALS)
        os.environ["AWS_DEFAULT_REGION"] = self.region
        # Not MOTO_ACCOUNT_ID: it would put every account's requests in one (ACCOUNT_HEADER).
        os.environ.pop("MOTO_ACCOUNT_ID", None)
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto's backends are this process's: a second local run in it (make scenario, one per
        # clock) would find the first one's buckets, queues and jobs. Its reset API empties
        # them (POST /moto-api/reset: moto's reset API, its changelog and server-mode docs).
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310 - loopback http
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
        self._credentials = {}
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(self.credentials(self.account))  # the templates' account
        return self.endpoint

    def credentials(self, account: str) -> dict[str, str]:
        """The access key of `account`'s local user: requests it signs are that account's."""
        if account not in self._credentials:
            import boto3

            iam = boto3.client("iam", region_name=self.region, endpoint_url=self.endpoint,
                               **_keys(CREDENTIALS))  # fmt: skip
            iam.meta.events.register(
                "before-sign.iam.*",
                lambda request, **_: request.headers.__setitem__(ACCOUNT_HEADER, account),
            )
            iam.create_user(UserName=LOCAL_USER)
            key = iam.create_access_key(UserName=LOCAL_USER)["AccessKey"]
            self._credentials[account] = {
                "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            }
        return self._credentials[account]

    def client(self, service: str, account: str | None = None) -> Any:
        """A client of this machine's AWS, as the environment's account or as `account`."""
        import boto3

        keys = _keys(self.credentials(account or self.account))
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint,
                            **keys)  # fmt: skip

    def aws_env(self) -> dict[str, str]:
        """What another process needs to reach this AWS, as the environment's account."""
        return {
            **self.credentials(self.account),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def on_stop(self, stop: Callable[[], None]) -> None:
        """Run `stop` when the local cloud stops (a stand-in's server)."""
        self._on_stop.append(stop)

    def put_connection(self, conn_id: str, value: dict[str, Any]) -> None:
        """Fill an Airflow connection's secret, as its owner does on AWS (README,
        "Connections"): the secret the template declares under airflow/connections/, created
        empty by `provision`, or a new one where no template declared it (a unit test)."""
        secrets, name = self.client("secretsmanager"), f"airflow/connections/{conn_id}"
        try:
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps(value))
        except secrets.exceptions.ResourceNotFoundException:
            secrets.create_secret(Name=name, SecretString=json.dumps(value))

    def stop(self) -> None:
        self._stop.set()
        for stop in self._on_stop:
            stop()
        for function in self.functions.values():
            function.stop()
        for poller in self._pollers:
            poller.join(timeout=5)
        if self._server is not None:
            self._server.stop()
            self._server = None

    # --- Provisioning -------------------------------------------------------------------

    def provision(self, event_sources: bool = True) -> None:
        """Create what the templates declare, in stack order; without `event_sources`, no
        poller hands a queue's messages to its function (the queues only)."""
        resources = [
            (stack, logical_id, resource)
            for stack, template in self.assembly.templates.items()
            for logical_id, resource in template.get("Resources", {}).items()
        ]
        for stack, logical_id, resource in resources:
            self.physical[(stack, logical_id)] = self._name(stack, logical_id, resource)
        creators: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::SNS::Topic": self._topic,
            "AWS::SQS::Queue": self._queue,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SecretsManager::Secret": self._secret,
        }
        for resource_type, create in creators.items():
            for stack, logical_id, resource in resources:
                if resource["Type"] == resource_type:
                    create(stack, logical_id, resource.get("Properties", {}))
        for stack, logical_id, resource in resources:
            if resource["Type"] == "AWS::SQS::Queue":
                self._redrive(stack, logical_id, resource.get("Properties", {}))
        for stack, logical_id, resource in resources:
            if resource["Type"] == BUCKET_DEPLOYMENT:
                self._deploy(stack, logical_id, resource["Properties"])
        for stack, _, resource in resources:
            if resource["Type"] == "AWS::Glue::Job":
                self._glue_job(stack, resource["Properties"])
        create_catalog(
            self.client("glue"),
            [
                (resource["Type"], self.resolve(stack, resource["Properties"]))
                for stack, _, resource in resources
                if resource["Type"] in CATALOG_TYPES
            ],
        )
        for stack, logical_id, resource in resources:
            if resource["Type"] == "AWS::Events::Rule":
                self._rule(stack, logical_id, resource["Properties"])
            elif resource["Type"] == "AWS::Events::Archive":
                self._archive(stack, logical_id, resource["Properties"])
        for stack, _, resource in resources:
            if resource["Type"] == "AWS::SNS::Subscription":
                self._subscription(stack, resource["Properties"])
        for stack, _, resource in resources:
            if event_sources and resource["Type"] == "AWS::Lambda::EventSourceMapping":
                self._event_source(stack, resource["Properties"])
        self._provision_sources()

    def _provision_sources(self) -> None:
        """The accounts of the external buckets the environment's jobs use
        (glueflow_local/sources.py)."""
        from configs.manifest import manifest_path
        from glueflow_local.sources import Sources

        manifest = json.loads(manifest_path(self.assembly.outdir, self.assembly.env).read_text())
        self.sources = Sources(self, self.assembly.env, manifest, self.workdir)
        self.sources.provision()

    def _name(self, stack: str, logical_id: str, resource: dict[str, Any]) -> Physical:
        """The resource's Ref and attributes, as CloudFormation would make them."""
        props = resource.get("Properties", {})
        kind = resource["Type"]
        generated = f"{stack}-{logical_id}"
        arn = f"arn:aws:{{}}:{self.region}:{self.account}:{{}}"
        if kind == "AWS::S3::Bucket":
            name = self._literal(stack, props.get("BucketName")) or generated.lower()[:63]
            return Physical(name, {"Arn": f"arn:aws:s3:::{name}"})
        if kind == "AWS::SNS::Topic":
            name = self._literal(stack, props.get("TopicName")) or generated[:256]
            topic = arn.format("sns", name)
            return Physical(topic, {"TopicName": name, "TopicArn": topic})
        if kind == "AWS::SQS::Queue":
            name = self._literal(stack, props.get("QueueName")) or generated[:80]
            url = f"{self.endpoint}/{self.account}/{name}"
            return Physical(url, {"Arn": arn.format("sqs", name), "QueueName": name,
                                  "QueueUrl": url})  # fmt: skip
        if kind == "AWS::Logs::LogGroup":
            name = self._literal(stack, props.get("LogGroupName")) or f"/local/{generated}"
            return Physical(name, {"Arn": arn.format("logs", f"log-group:{name}:*")})
        if kind == "AWS::IAM::Role":
            name = self._literal(stack, props.get("RoleName")) or generated[:64]
            return Physical(name, {"Arn": f"arn:aws:iam::{self.account}:role/{name}"})
        if kind == "AWS::Events::Rule":
            name = self._literal(stack, props.get("Name")) or generated[:64]
            return Physical(name, {"Arn": arn.format("events", f"rule/{name}")})
        if kind == "AWS::Events::Archive":
            name = self._literal(stack, props.get("ArchiveName")) or generated[:48]
            return Physical(name, {"Arn": arn.format("events", f"archive/{name}")})
        if kind == "AWS::Lambda::Function":
            name = self._literal(stack, props.get("FunctionName")) or generated[:64]
            return Physical(name, {"Arn": arn.format("lambda", f"function:{name}")})
        if kind in ("AWS::Glue::Job", "AWS::Glue::SecurityConfiguration"):
            return Physical(self._literal(stack, props.get("Name")) or generated)
        if kind == "AWS::SecretsManager::Secret":
            name = self._literal(stack, props.get("Name")) or generated
            return Physical(arn.format("secretsmanager", f"secret:{name}"), {"Id": name})
        if kind == "AWS::KMS::Key":
            key_id = str(uuid.UUID(hashlib.md5(generated.encode()).hexdigest()))  # noqa: S324
            return Physical(key_id, {"Arn": arn.format("kms", f"key/{key_id}"), "KeyId": key_id})
        return Physical(generated)

    def _literal(self, stack: str, value: Any) -> str | None:
        """A name property, when the template gives one that needs no other resource."""
        if value is None:
            return None
        try:
            return str(self.resolve(stack, value))
        except LocalRunError:
            return None

    def _bucket(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3")
        name = self.physical[(stack, logical_id)].ref
        config = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
        s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": config} if config else {}))
        if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def _secret(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """A secret the template declares, with its value if it gives one: a connection's is
        created empty ("If you omit both GenerateSecretString and SecretString, you create an
        empty secret", AWS::SecretsManager::Secret), to be filled by its stand-in."""
        physical = self.physical[(stack, logical_id)]
        value = {"SecretString": props["SecretString"]} if "SecretString" in props else {}
        made = self.client("secretsmanager").create_secret(Name=physical.attributes["Id"],
                                                           **value)  # fmt: skip
        physical.ref = made["ARN"]

    def _topic(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        self.client("sns").create_topic(Name=self.physical[(stack, logical_id)].attributes[
            "TopicName"])  # fmt: skip

    def _queue(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        physical = self.physical[(stack, logical_id)]
        kept = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
        attributes = {k: str(props[k]) for k in kept if k in props}
        url = self.client("sqs").create_queue(
            QueueName=physical.attributes["QueueName"], Attributes=attributes
        )["QueueUrl"]
        physical.ref = physical.attributes["QueueUrl"] = url

    def _redrive(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """A queue's redrive policy, once every queue (its dead-letter queue too) exists."""
        if "RedrivePolicy" in props:
            policy = self.resolve(stack, props["RedrivePolicy"])
            self.client("sqs").set_queue_attributes(
                QueueUrl=self.physical[(stack, logical_id)].ref,
                Attributes={"RedrivePolicy": json.dumps(policy)},
            )

    def _log_group(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        self.client("logs").create_log_group(logGroupName=self.physical[(stack, logical_id)].ref)

    def _deploy(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        """What the BucketDeployment's handler does: its sources, unpacked in order, under the
        destination prefix."""
        bucket = self.resolve(stack, props["DestinationBucketName"])
        prefix = props.get("DestinationBucketKeyPrefix", "")
        folder = self.assembly.deployed_folder(prefix, self.workdir / "deployments" / logical_id)
        s3 = self.client("s3")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            s3.upload_file(str(path), bucket, prefix + path.relative_to(folder).as_posix())

    def _glue_job(self, stack: str, props: dict[str, Any]) -> None:
        resolved = self.resolve(stack, props)
        allowed = ("Name", "Description", "Role", "ExecutionProperty", "Command",
                   "DefaultArguments", "MaxRetries", "Timeout", "GlueVersion", "WorkerType",
                   "NumberOfWorkers", "SecurityConfiguration", "ExecutionClass",
                   "JobRunQueuingEnabled", "Tags")  # fmt: skip
        self.client("glue").create_job(**{k: v for k, v in resolved.items() if k in allowed})

    def _rule(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        if props.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in props:
            return
        targets = [self.resolve(stack, t["Arn"]) for t in props.get("Targets", [])]
        arn = self.physical[(stack, logical_id)].attributes["Arn"]
        self.rules.append(Rule(stack, logical_id, props["EventPattern"], targets, arn=arn))

    def _archive(self, stack: str, logical_id: str, props: dict[str, Any]) -> None:
        arn = self.physical[(stack, logical_id)].attributes["Arn"]
        self.archives.append(Archive(arn, props.get("EventPattern") or {}))

    def _subscription(self, stack: str, props: dict[str, Any]) -> None:
        if props.get("Protocol") != "lambda":
            return
        topic = self.resolve(stack, props["TopicArn"])
        function = self.function(self.resolve(stack, props["Endpoint"]))
        sqs = self.client("sqs")
        name = f"local-sns-{function.name}"[:80]
        queue = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        arn = self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)[
            "SubscriptionArn"
        ]
        subscription = Subscription(topic, function, queue, arn)
        self.subscriptions.append(subscription)
        poller = threading.Thread(target=self._deliver_sns, args=(subscription,), daemon=True)
        self._pollers.append(poller)
        poller.start()

    def _event_source(self, stack: str, props: dict[str, Any]) -> None:
        """An SQS event source mapping: a poller that hands the queue's messages to the
        function in batches, as Lambda's does."""
        queue_arn = self.resolve(stack, props["EventSourceArn"])
        if ":sqs:" not in queue_arn:
            raise LocalRunError(f"event source {queue_arn}: only SQS is run locally")
        name = self.resolve(stack, props["FunctionName"])
        arn = name if name.startswith("arn:") else (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        )  # fmt: skip
        source = EventSource(
            self.queue_url(queue_arn), queue_arn, self.function(arn),
            int(props.get("BatchSize", 10)),
            "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        )  # fmt: skip
        self.event_sources.append(source)
        poller = threading.Thread(target=self._deliver_sqs, args=(source,), daemon=True)
        self._pollers.append(poller)
        poller.start()

    def _deliver_sqs(self, source: EventSource) -> None:
        """SQS -> Lambda, as the event source mapping does ("Handling errors for an SQS event
        source in Lambda", AWS Lambda Developer Guide): a batch of up to BatchSize messages
        per invocation; on success every message is deleted but those the partial batch
        response names; on an error none is, and each comes back when its visibility
        timeout runs out (the queue's, or what the function set)."""
        sqs = self.client("sqs")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=source.queue_url, MaxNumberOfMessages=min(source.batch_size, 10),
                    WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"],
                ).get("Messages", [])  # fmt: skip
            except Exception:  # the server is stopping
                if self._stop.is_set():
                    return
                raise
            if not messages:
                continue
            answer = source.function.invoke(sqs_lambda_event(messages, source.queue_arn))
            if not answer["ok"]:
                self.timeline.say(
                    "lambda",
                    f"{source.function.name} failed on a batch of {len(messages)} from its "
                    f"queue: {answer['errorType']}: {answer['errorMessage']}; they come back",
                )
                if self.time_scale > 1:
                    self._compress_visibility(sqs, source, messages)
                continue
            result = answer.get("result") or {}
            failed = {
                f.get("itemIdentifier")
                for f in (result.get("batchItemFailures") or [] if source.partial else [])
            }
            for message in messages:
                if message["MessageId"] not in failed:
                    sqs.delete_message(
                        QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )

    def _compress_visibility(self, sqs: Any, source: EventSource, messages: list) -> None:
        """On a compressed clock, a failed batch comes back after the queue's visibility
        timeout in scenario time, not in real time."""
        timeout = int(sqs.get_queue_attributes(
            QueueUrl=source.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"])  # fmt: skip
        for message in messages:
            sqs.change_message_visibility(
                QueueUrl=source.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=max(1, round(timeout / self.time_scale)),
            )

    # --- Functions ----------------------------------------------------------------------

    def function(self, arn: str) -> LocalFunction:
        """The function an ARN names, started on first use from its bundle in the assembly."""
        if arn in self.functions:
            return self.functions[arn]
        for (stack, logical_id), physical in self.physical.items():
            if physical.attributes.get("Arn") == arn:
                props = self.assembly.templates[stack]["Resources"][logical_id]["Properties"]
                break
        else:
            raise LocalRunError(f"no Lambda function {arn} in the assembly")
        path, _ = self.assembly.asset_source(stack, props["Code"]["S3Key"])
        environment = self.resolve(stack, props.get("Environment", {}).get("Variables", {}))
        dead_letter = props.get("DeadLetterConfig", {}).get("TargetArn")
        function = LocalFunction(
            name=physical.ref,
            code_dir=path,
            handler=props["Handler"],
            environment={**self.aws_env(), **environment, **self.function_env},
            timeout_s=int(props.get("Timeout", 3)),
            log_path=self.workdir / "lambda" / f"{physical.ref}.log",
            timeline=self.timeline,
            dead_letter_arn=self.resolve(stack, dead_letter) if dead_letter else None,
            dead_letter=self.send_to_queue,
        )
        self.functions[arn] = function
        return function

    def queue_url(self, arn: str) -> str:
        for physical in self.physical.values():
            if physical.attributes.get("Arn") == arn and "QueueUrl" in physical.attributes:
                return physical.ref
        raise LocalRunError(f"no SQS queue {arn} in the assembly")

    def send_to_queue(self, arn: str, body: str, reason: str) -> None:
        self.client("sqs").send_message(
            QueueUrl=self.queue_url(arn),
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )

    def _deliver_sns(self, subscription: Subscription) -> None:
        """SNS -> Lambda: each notification, as the SNS event, to the function."""
        sqs = self.client("sqs")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception:  # the server is stopping
                if self._stop.is_set():
                    return
                raise
            for message in messages:
                notification = json.loads(message["Body"])
                event = sns_lambda_event(notification, subscription.arn)
                subscription.function.invoke_async(event, source="SNS")
                sqs.delete_message(
                    QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    # --- EventBridge --------------------------------------------------------------------

    def matching(self, event: dict[str, Any]) -> list[Rule]:
        """The rules whose pattern matches the event."""
        return [rule for rule in self.rules if rule.matcher.matches_event(event)]

    def start_replay(self, **request: Any) -> dict[str, Any]:
        """EventBridge's StartReplay (boto3's parameters) on the local archive: each event
        archived in the window goes again, with `replay-name` added, to the rules of
        `Destination.FilterArns` whose pattern matches it ("StartReplay", Amazon EventBridge
        API Reference). moto's replays the whole archive to every rule, whatever the window
        and the filter."""
        name = request["ReplayName"]
        (archive,) = [a for a in self.archives if a.arn == request["EventSourceArn"]]
        start = request["EventStartTime"].timestamp()
        end = request["EventEndTime"].timestamp()
        only = request["Destination"].get("FilterArns")
        rules = [r for r in self.rules if not only or r.arn in only]
        replayed = 0
        for at, event in list(archive.events):
            if start <= at < end:
                again = {**event, "replay-name": name}
                matched = [r for r in rules if r.matcher.matches_event(again)]
                replayed += bool(self.put_event(again, matched))
        self.replays[name] = {"ReplayName": name, "State": "COMPLETED",
                              "StateReason": f"{replayed} archived events replayed"}  # fmt: skip
        self.timeline.say("event", f"replay {name}: {replayed} archived events again")
        return {"ReplayArn": archive.arn.replace(":archive/", ":replay/"), "State": "STARTING"}

    def describe_replay(self, **request: Any) -> dict[str, Any]:
        return self.replays[request["ReplayName"]]

    def put_event(self, event: dict[str, Any], matched: list[Rule] | None = None) -> list[Rule]:
        """Deliver an event to the targets of every rule whose pattern matches it; the rules
        that matched."""
        matched = self.matching(event) if matched is None else matched
        if "replay-name" not in event:  # a replayed event is not archived again
            for archive in self.archives:
                if archive.matcher.matches_event(event):
                    archive.events.append((time.time(), event))
        for rule in matched:
            for target in rule.targets:
                if ":sns:" in target:
                    self.client("sns").publish(TopicArn=target, Message=json.dumps(event))
                elif ":sqs:" in target:
                    self.client("sqs").send_message(
                        QueueUrl=self.queue_url(target), MessageBody=json.dumps(event)
                    )
                elif ":lambda:" in target:
                    self.function(target).invoke_async(event, source=f"rule {rule.logical_id}")
                else:
                    raise LocalRunError(f"rule {rule.logical_id}: target {target} not supported")
        return matched

    # --- CloudFormation intrinsics ------------------------------------------------------

    def resolve(self, stack: str, value: Any) -> Any:
        """`value` with every intrinsic function resolved in `stack`."""
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, arg), = value.items()  # fmt: skip
            if name == "Ref":
                return self._ref(stack, arg)
            if name == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attribute(stack, logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(stack, p)) for p in parts)
            if name == "Fn::Select":
                index, items = arg
                return self.resolve(stack, items)[int(self.resolve(stack, index))]
            if name == "Fn::Sub":
                return self._sub(stack, arg)
            if name == "Fn::GetStackOutput":
                return self._output(arg["StackName"], arg["OutputName"])
            if name == "Fn::ImportValue":
                return self._export(self.resolve(stack, arg))
            if name.startswith("Fn::"):
                raise LocalRunError(f"{stack}: {name} is not resolved by the local run")
        return {k: self.resolve(stack, v) for k, v in value.items()}

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if (stack, name) in self.physical:
            return self.physical[(stack, name)].ref
        parameter = self.assembly.templates[stack].get("Parameters", {}).get(name)
        if parameter is not None and "Default" in parameter:
            return parameter["Default"]
        raise LocalRunError(f"{stack}: Ref {name} names nothing the local run knows")

    def _attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        physical = self.physical.get((stack, logical_id))
        if physical is None or attribute not in physical.attributes:
            raise LocalRunError(f"{stack}: Fn::GetAtt {logical_id}.{attribute} is not known here")
        return physical.attributes[attribute]

    def _sub(self, stack: str, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(stack, variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self._attribute(stack, *name.split(".", 1)))
            return str(self._ref(stack, name))

        return re.sub(r"\$\{([^!}][^}]*)\}", value, text)

    def output(self, stack: str, output: str) -> Any:
        """A stack's output, as CloudFormation's DescribeStacks would give it."""
        return self._output(stack, output)

    def _output(self, stack: str, output: str) -> Any:
        outputs = self.assembly.templates[stack].get("Outputs", {})
        if output not in outputs:
            raise LocalRunError(f"{stack} has no output {output}")
        return self.resolve(stack, outputs[output]["Value"])

    def _export(self, name: str) -> Any:
        for stack, template in self.assembly.templates.items():
            for output in template.get("Outputs", {}).values():
                if self.resolve(stack, output.get("Export", {}).get("Name")) == name:
                    return self.resolve(stack, output["Value"])
        raise LocalRunError(f"no stack exports {name}")


def _keys(credentials: dict[str, str]) -> dict[str, str]:
    """Environment-variable credentials as boto3's client arguments."""
    return {
        "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": credentials.get("AWS_SESSION_TOKEN"),
    }


def _compile(pattern: dict[str, Any]) -> Any:
    """An event pattern as moto's PutEvents matches it, compiled once per rule or archive."""
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern))

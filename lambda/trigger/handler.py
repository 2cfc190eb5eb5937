"""Trigger Lambda: an S3 object created, or another deployment's table published (a Table
Published event, docs/architecture.md, decision 20) -> a DAG run of every job it routes to.

EventBridge delivers at least once, and sources send the same file again, so the run id is
derived from the object (bucket, key, ETag): a redelivered event or an unchanged file asks for
the same run, Airflow answers 409, and that counts as done (docs/architecture.md, decision 5).
Throttling, 429 and 5xx are retried with backoff and jitter while the invocation has time, then
the handler raises, so Lambda retries the event and finally dead-letters it. Every decision is
one JSON log line. Standard library only at import: boto3 is loaded on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routing import RoutingTable, TableRoutes
from transport import ApiResponse, HttpTransport, MwaaTransport, Transport

log = logging.getLogger("glueflow.trigger")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
REQUEST_TIMEOUT_S = 10.0
# Time kept back at the end of an invocation, so that it ends by raising, not by timing out.
SAFETY_MARGIN_S = 2.0


# A replay that `make replay` starts (glueflow_ops/replay.py) is named
# glueflow-<replay|reprocess>-<job hash>-<UTC time>, and EventBridge puts that name in each
# replayed event as `replay-name` ("Archiving and replaying events", Amazon EventBridge User
# Guide). Such an event starts only that job; a reprocess gives each object a new run.
REPLAY_NAME = re.compile(r"^glueflow-(?P<mode>replay|reprocess)-(?P<job>[0-9a-f]{12})-\d{8}T\d{6}$")


def replay_job_hash(job: str) -> str:
    """The job as a replay name carries it: a replay name has at most 64 characters, and a
    job name up to 64 of its own."""
    return hashlib.sha256(job.encode()).hexdigest()[:12]


class TriggerError(Exception):
    """A run could not be started. `later` says whether a later try may succeed (MWAA or
    Airflow away, throttled, the DAG not parsed yet, the role not yet allowed): the intake
    then brings the message back with backoff; otherwise it is dead-lettered at once."""

    def __init__(self, message: str, later: bool = True) -> None:
        super().__init__(message)
        self.later = later


class MalformedEvent(ValueError):
    """The event is not an S3 Object Created event this handler understands."""


@dataclass(frozen=True)
class CreatedObject:
    """The object an event reports, with its key decoded."""

    bucket: str
    key: str
    size: int | None
    etag: str | None
    sequencer: str
    event_time: str | None
    version_id: str | None = None

    def conf(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "version_id": self.version_id,
            "etag": self.etag,
            "sequencer": self.sequencer,
            "event_time": self.event_time,
        }

    def log_fields(self) -> dict[str, Any]:
        """What a decision's log line says of the object."""
        return {"key": self.key}

    def run_id(self, salt: str | None = None) -> str:
        """One run per object version. In a versioned bucket the version id names the write;
        without versioning, the event's sequencer does ("Event message structure", Amazon S3
        User Guide: the sequencer orders the events of one key). A redelivered event carries
        both unchanged, so it asks for the run that exists; a new write to the key, even of
        the same bytes, gets a run of its own. The ETag is not used: under SSE-KMS it is not
        a digest of the content, and a multipart ETag depends on the part size."""
        version = f"version:{self.version_id}" if self.version_id else f"seq:{self.sequencer}"
        salted = f"\n{salt}" if salt else ""  # a reprocess: a new run of the same object
        digest = hashlib.sha256(f"{self.bucket}\n{self.key}\n{version}{salted}".encode())
        return f"s3__{digest.hexdigest()[:40]}"


def parse_event(event: Any) -> list[CreatedObject]:
    """The objects of an EventBridge `Object Created` event (or a classic S3 notification)."""
    if not isinstance(event, dict):
        raise MalformedEvent("the event is not a JSON object")
    if "detail" in event:
        if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
            raise MalformedEvent(
                f"not an S3 Object Created event: source={event.get('source')!r}, "
                f"detail-type={event.get('detail-type')!r}"
            )
        detail = event["detail"]
        return [_created(detail.get("bucket"), detail.get("object"), event.get("time"))]
    if "Records" in event and isinstance(event["Records"], list) and event["Records"]:
        return [
            _created(r.get("s3", {}).get("bucket"), r.get("s3", {}).get("object"),
                     r.get("eventTime"))
            for r in event["Records"]
        ]  # fmt: skip
    raise MalformedEvent("the event has neither 'detail' nor 'Records'")


# --- Table Published events (docs/architecture.md, decision 20) ---------------------------------
# Another deployment's publish task (dags/glueflow_runtime/publish.py: table_published_entry)
# puts one on its default bus per table it published; its rule forwards it to this account's
# default bus, whose rule sends it to the intake queue, as S3's events are.
TABLE_EVENT_SOURCE = "glueflow"
TABLE_PUBLISHED = "Table Published"
ACCOUNT_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class PublishedTable:
    """A table another deployment published: who, which table, which of its runs."""

    account: str
    name_prefix: str
    environment: str
    table: str
    dag_id: str
    producer_run_id: str
    glue_run_id: str | None
    detail: dict[str, Any]
    event_time: str | None

    def conf(self) -> dict[str, Any]:
        """The DAG run's conf: the producer's detail, as the event carried it, with the
        account that sent it (`table_published`, apart from an S3 run's bucket and key)."""
        return {
            "table_published": {
                **self.detail,
                "account": self.account,
                "event_time": self.event_time,
            }
        }

    def run_id(self, salt: str | None = None) -> str:
        """One run per publish of the table: the producer's account, name_prefix, environment,
        table, DAG, Airflow run and Glue run. A redelivered event, or the same publish announced
        again by a retried task, asks for the run that exists; a new publish, even of the same
        DAG run (its Glue task cleared and run again), gets a run of its own."""
        parts = [self.account, self.name_prefix, self.environment, self.table, self.dag_id,
                 self.producer_run_id, self.glue_run_id or ""]  # fmt: skip
        digest = hashlib.sha256("\n".join(parts).encode())
        return f"table__{digest.hexdigest()[:40]}"

    def log_fields(self) -> dict[str, Any]:
        """What a decision's log line says of the table."""
        return {
            "table": f"{self.name_prefix}-{self.environment}.{self.table}",
            "producer_account": self.account,
            "producer_run_id": self.producer_run_id,
        }


def is_table_event(event: Any) -> bool:
    """An event of Glueflow's own source (another deployment's), not S3's."""
    return isinstance(event, dict) and event.get("source") == TABLE_EVENT_SOURCE


def parse_table_event(event: dict[str, Any]) -> PublishedTable:
    """The table of a Table Published event; MalformedEvent names what is missing."""
    if event.get("detail-type") != TABLE_PUBLISHED:
        raise MalformedEvent(
            f"not a Table Published event: source={event.get('source')!r}, "
            f"detail-type={event.get('detail-type')!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("the Table Published event has no detail object")
    account = event.get("account")
    if not isinstance(account, str) or not ACCOUNT_RE.match(account):
        raise MalformedEvent(f"the Table Published event names no account: {account!r}")
    required = ("name_prefix", "environment", "table", "dag_id", "run_id")
    missing = [f for f in required if not isinstance(detail.get(f), str) or not detail[f]]
    if missing:
        raise MalformedEvent(
            f"the Table Published event's detail lacks {', '.join(missing)}, so it cannot be "
            "routed or given its run id"
        )
    glue_run_id = detail.get("glue_run_id")
    return PublishedTable(
        account=account,
        name_prefix=detail["name_prefix"],
        environment=detail["environment"],
        table=detail["table"],
        dag_id=detail["dag_id"],
        producer_run_id=detail["run_id"],
        glue_run_id=glue_run_id if isinstance(glue_run_id, str) and glue_run_id else None,
        detail=detail,
        event_time=event.get("time") if isinstance(event.get("time"), str) else None,
    )


def decode_key(key: str) -> str:
    """The object key as S3 stores it. S3 sends keys form-encoded, in EventBridge events and
    classic notifications alike: a space is '+', a literal '+' is '%2B' ("Event message
    structure", Amazon S3 User Guide: "red flower.jpg" becomes "red+flower.jpg"). AWS Lambda
    Powertools decodes `detail.object.key` the same way (`S3EventBridgeNotificationObject.key`,
    aws_lambda_powertools/utilities/data_classes/s3_event.py: `unquote_plus`)."""
    return urllib.parse.unquote_plus(key)


def _created(bucket: Any, obj: Any, event_time: Any) -> CreatedObject:
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str):
        raise MalformedEvent("the event names no bucket")
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise MalformedEvent("the event names no object key")
    if not isinstance(obj.get("sequencer"), str) or not obj["sequencer"]:
        raise MalformedEvent("the event has no sequencer, so its run id cannot be derived")
    size = obj.get("size")
    return CreatedObject(
        bucket=bucket["name"],
        key=decode_key(obj["key"]),
        size=size if isinstance(size, int) else None,
        etag=obj.get("etag") or obj.get("eTag"),
        sequencer=obj["sequencer"],
        event_time=event_time if isinstance(event_time, str) else None,
        # EventBridge's Object Created detail: "version-id" (Amazon S3 User Guide, "Using
        # EventBridge"); a classic notification's object: "versionId". Absent or null when
        # the bucket is not versioned.
        version_id=obj.get("version-id") or obj.get("versionId") or None,
    )


def _say(decision: str, level: int = logging.INFO, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, json.dumps({"decision": decision, **fields}, sort_keys=True, default=str))


def _count(metric: str, value: float = 1, unit: str = "Count") -> None:
    """A CloudWatch metric through the log line itself (Embedded Metric Format): no API call."""
    env = os.environ.get("GLUEFLOW_ENVIRONMENT", "local")
    # Embedded Metric Format is read from stdout.
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": "Glueflow/Trigger",
                "Dimensions": [["Environment"]],
                "Metrics": [{"Name": metric, "Unit": unit}],
            }],
        },
        "Environment": env,
        metric: value,
    }))  # fmt: skip


class Trigger:
    """Starts DAG runs for created objects, through a transport, within a time budget."""

    def __init__(
        self,
        table: RoutingTable,
        transport: Transport,
        sleep: Any = time.sleep,
        jitter: Any = random.random,
        tables: TableRoutes | None = None,
    ) -> None:
        self.table = table
        self.transport = transport
        self.sleep = sleep
        self.jitter = jitter
        self.tables = tables if tables is not None else TableRoutes({})

    def handle(
        self, event: Any, remaining_s: Any, max_attempts: int | None = None
    ) -> dict[str, Any]:
        """Route and trigger; `remaining_s()` says how long the invocation may still run, and
        `max_attempts` bounds the tries of one run (None: as many as the time allows)."""
        if is_table_event(event):
            return self.handle_table(event, remaining_s, max_attempts)
        try:
            objects = parse_event(event)
        except MalformedEvent as exc:
            return _malformed(event, exc)
        result: dict[str, Any] = {"malformed": 0, "triggered": [], "already_triggered": []}
        replay = REPLAY_NAME.match(str(event.get("replay-name") or ""))
        name = event["replay-name"] if replay else None
        salt = name if replay and replay["mode"] == "reprocess" else None
        for obj in objects:
            routes = self.table.match(obj.bucket, obj.key)
            if not routes:
                _say("no_route", logging.DEBUG, bucket=obj.bucket, key=obj.key)
                continue
            for route in routes:
                if replay and replay_job_hash(route.dag_id) != replay["job"]:
                    continue  # replayed for another job of the same bucket
                outcome = self.start_run(
                    route.dag_id, obj, remaining_s, max_attempts, salt=salt, replay=name
                )
                result[outcome].append(route.dag_id)
        return result

    def handle_table(
        self, event: dict[str, Any], remaining_s: Any, max_attempts: int | None = None
    ) -> dict[str, Any]:
        """A Table Published event: a run of each job the table starts (decision 20). Malformed,
        it is dead-lettered as a malformed S3 event is; routed nowhere, it is logged."""
        try:
            published = parse_table_event(event)
        except MalformedEvent as exc:
            return _malformed(event, exc)
        result: dict[str, Any] = {"malformed": 0, "triggered": [], "already_triggered": []}
        dag_ids = self.tables.match(
            published.account, published.name_prefix, published.environment, published.table
        )
        if not dag_ids:
            _say("no_route", **published.log_fields())
        for dag_id in dag_ids:
            result[self.start_run(dag_id, published, remaining_s, max_attempts)].append(dag_id)
        return result

    def run_state(self, dag_id: str, run_id: str, remaining_s: Any) -> str | None:
        """The state of an existing run, or None when Airflow does not say. The run is found
        with `run_id_pattern` (GET /dags/{dag_id}/dagRuns, Airflow REST API v2): the run id
        in the path would pass InvokeRestApi's 64 characters."""
        path = f"/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns"
        timeout = max(min(REQUEST_TIMEOUT_S, remaining_s() - SAFETY_MARGIN_S), 0.5)
        answer = self.transport.get(path, {"run_id_pattern": run_id, "limit": 5}, timeout)
        state = _run_state(answer, run_id) if answer.status == 200 else None
        _say("run_state", dag_id=dag_id, run_id=run_id, status=answer.status, state=state)
        return state

    def start_run(
        self,
        dag_id: str,
        obj: CreatedObject | PublishedTable,
        remaining_s: Any,
        max_attempts: int | None = None,
        salt: str | None = None,
        replay: str | None = None,
    ) -> str:
        """POST the run; 'triggered' or 'already_triggered', else TriggerError. `salt` (a
        replay's name) asks for a new run of an object that has one. In a `replay`, an
        object whose run exists and failed gets a new run, salted with the replay's name."""
        run_id = obj.run_id(salt)
        conf = {**obj.conf(), **({"replay": salt} if salt else {})}
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        path = f"/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns"
        attempt = 0
        while True:
            attempt += 1
            budget = remaining_s() - SAFETY_MARGIN_S
            answer = self.transport.post(
                path, body, timeout=max(min(REQUEST_TIMEOUT_S, budget), 0.5)
            )
            fields = {"dag_id": dag_id, "run_id": run_id, **obj.log_fields(), "attempt": attempt}
            if answer.status in (200, 201):
                _say("triggered", **fields)
                return "triggered"
            if answer.status == 409:
                if replay and not salt and self.run_state(dag_id, run_id, remaining_s) == "failed":
                    _say("rerun_failed", **fields)
                    return self.start_run(dag_id, obj, remaining_s, max_attempts, salt=replay)
                _say("already_triggered", **fields)
                return "already_triggered"
            if not answer.retryable and answer.aws_error:
                # MWAA itself refused: no Airflow status, and no DAG was looked at.
                _say("mwaa_refused", logging.ERROR, error=answer.error, cause=answer.cause,
                     **fields)  # fmt: skip
                raise TriggerError(f"could not ask for a run of {dag_id}: {answer.cause}")
            if not answer.retryable:
                _say(
                    "rejected", logging.ERROR, status=answer.status, response=answer.body, **fields
                )
                # 404: the DAG is not parsed yet (a job deployed a moment ago), or is gone.
                raise TriggerError(
                    f"Airflow refused the run of {dag_id}: {_describe(answer)}",
                    later=answer.status == 404,
                )
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * self.jitter()
            out_of_tries = max_attempts is not None and attempt >= max_attempts
            if out_of_tries or remaining_s() - SAFETY_MARGIN_S - delay < 1.0:
                _say("gave_up", logging.ERROR, status=answer.status, error=answer.error, **fields)
                raise TriggerError(
                    f"Airflow did not accept the run of {dag_id} after {attempt} attempts "
                    f"({_describe(answer)}); the event will be retried"
                )
            _say("retrying", logging.WARNING, status=answer.status, error=answer.error,
                 delay_s=round(delay, 3), **fields)  # fmt: skip
            self.sleep(delay)


def _run_state(answer: ApiResponse, run_id: str) -> str | None:
    """The state of `run_id` in a `GET /dags/{dag_id}/dagRuns` answer (`dag_runs`, each with
    `dag_run_id` and `state`: airflow-core's DAGRunCollectionResponse), None if not there."""
    runs = answer.body.get("dag_runs") if isinstance(answer.body, dict) else None
    for run in runs if isinstance(runs, list) else []:
        if isinstance(run, dict) and run.get("dag_run_id") == run_id:
            return run.get("state")
    return None


def _describe(answer: ApiResponse) -> str:
    if answer.aws_error:
        return answer.cause
    body = json.dumps(answer.body, default=str)[:500]
    return f"status {answer.status or 'none'} {answer.error} {body}"


# SQS counts a message's body and attributes in bytes, and refuses more than the queue's
# MaximumMessageSize: 262,144 bytes by default, which the dead-letter queue keeps ("Amazon SQS
# message quotas", Amazon SQS Developer Guide). Some room is left for the attribute names.
MAX_DEAD_LETTER_BYTES = 262_144 - 1_024
MAX_REASON_CHARS = 1_000


def _malformed(event: Any, exc: MalformedEvent) -> dict[str, Any]:
    """An event that cannot be read: logged, counted and dead-lettered with its reason."""
    _say("malformed_event", logging.WARNING, reason=str(exc), event=event)
    _count("MalformedEvents")
    dead_letter(event, str(exc))
    return {"malformed": 1, "triggered": [], "already_triggered": []}


def dead_letter(event: Any, reason: str) -> None:
    """Keep an event the handler cannot use in the dead-letter queue: nothing is dropped
    silently. The body is the event itself, so it can be replayed as it is; see
    `dead_letter_body` for one too large to keep whole."""
    url = os.environ.get("DEAD_LETTER_QUEUE_URL")
    if not url:
        _say("not_dead_lettered", logging.ERROR, reason=reason, event=event,
             why="DEAD_LETTER_QUEUE_URL is not set")  # fmt: skip
        return
    import boto3

    reason = reason[:MAX_REASON_CHARS]
    boto3.client("sqs").send_message(
        QueueUrl=url,
        MessageBody=dead_letter_body(event, MAX_DEAD_LETTER_BYTES - len(reason.encode())),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
    )


def dead_letter_body(event: Any, max_bytes: int = MAX_DEAD_LETTER_BYTES) -> str:
    """The event as JSON within `max_bytes` of UTF-8. An event that does not fit keeps its
    shape, with long strings and lists cut (halving until it fits) and a `glueflow-truncated`
    note of its original size: always valid JSON, and the bucket, key and sequencer that a
    replay needs are short enough to survive."""
    whole = json.dumps(event, default=str)
    size = len(whole.encode())
    if size <= max_bytes:
        return whole
    limit = 4_096
    while True:
        shrunk = _shrink(event, limit)
        if isinstance(shrunk, dict):
            shrunk = {**shrunk, "glueflow-truncated": {"original_bytes": size}}
        else:
            shrunk = {"glueflow-truncated": {"original_bytes": size}, "event": shrunk}
        text = json.dumps(shrunk, default=str)
        if len(text.encode()) <= max_bytes or limit <= 16:
            return text
        limit //= 2


def _shrink(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {str(k)[:limit]: _shrink(v, limit) for k, v in list(value.items())[:limit]}
    if isinstance(value, list | tuple):
        return [_shrink(v, limit) for v in value[:limit]]
    return value if value is None or isinstance(value, int | float | bool) else str(value)[:limit]


def is_sqs_batch(event: Any) -> bool:
    """A batch from an SQS event source mapping: records whose eventSource is aws:sqs ("Using
    Lambda with Amazon SQS", AWS Lambda Developer Guide, example standard queue event)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records
    )


# The intake's backoff: a message that could not start its runs comes back after about
# FIRST, then twice that each time, up to CAP; after RETRY_S (INTAKE_RETRY_SECONDS) since it
# was sent, it is dead-lettered with the last reason. SQS takes a visibility timeout of 0 to
# 43,200 s ("ChangeMessageVisibility", Amazon SQS API Reference).
INTAKE_BACKOFF_FIRST_S = 30.0
INTAKE_BACKOFF_CAP_S = 1800.0
INTAKE_RETRY_S = 24 * 3600.0
# Tries of one run within an invocation (throttling passes in seconds); then the message waits.
INTAKE_ATTEMPTS = 3
MAX_VISIBILITY_S = 43_200


class Intake:
    """The intake queue's batches: each message (an EventBridge event, as the rule sent it)
    starts its runs, or comes back later with backoff, or is dead-lettered with its reason.

    The answer is the partial batch response of the event source mapping
    (`ReportBatchItemFailures`: `{"batchItemFailures": [{"itemIdentifier": messageId}]}`,
    "Handling errors for an SQS event source", AWS Lambda Developer Guide), as the Powertools
    batch utility builds it with `raise_on_entire_batch_failure=False`: the failed messages
    alone come back, each when its own visibility timeout, set here, runs out.

    Once one start fails in a way that may pass (MWAA away, throttled), the rest of the batch
    is not tried: each waits its backoff, so an outage costs one call per batch.

    `time_scale` (GLUEFLOW_TIME_SCALE, local runs only) is how many seconds of the policy
    pass per real second: a scenario's 6-hour outage runs in minutes with the same receives.
    """

    def __init__(
        self,
        trigger: Trigger,
        queue_url: str,
        sqs: Any = None,
        retry_s: float = INTAKE_RETRY_S,
        time_scale: float = 1.0,
        now: Any = time.time,
        jitter: Any = random.random,
    ) -> None:
        self.trigger = trigger
        self.queue_url = queue_url
        self._sqs = sqs
        self.retry_s = retry_s
        self.time_scale = time_scale
        self.now = now
        self.jitter = jitter

    @classmethod
    def from_environment(cls, trigger: Trigger) -> Intake:
        return cls(
            trigger,
            os.environ.get("INTAKE_QUEUE_URL", ""),
            retry_s=float(os.environ.get("INTAKE_RETRY_SECONDS") or INTAKE_RETRY_S),
            time_scale=float(os.environ.get("GLUEFLOW_TIME_SCALE") or 1.0),
        )

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3

            self._sqs = boto3.client("sqs")
        return self._sqs

    def process(self, batch: dict[str, Any], remaining_s: Any) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        waiting: str | None = None  # why the rest of the batch waits
        for record in batch["Records"]:
            if waiting is None:
                try:
                    self._start(record, remaining_s)
                    continue
                except TriggerError as exc:
                    if not exc.later:
                        if not self._dead_letter(record, str(exc)):
                            failures.append({"itemIdentifier": record["messageId"]})
                        continue
                    waiting = str(exc)
                except Exception as exc:  # a fault of this code: the message waits, not lost
                    _say("error", logging.ERROR, message_id=record.get("messageId"),
                         error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                    waiting = f"the trigger failed: {type(exc).__name__}: {exc}"
            if self._wait(record, waiting):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def _start(self, record: dict[str, Any], remaining_s: Any) -> None:
        try:
            event = json.loads(record["body"])
        except (TypeError, ValueError) as exc:
            _count("MalformedEvents")
            # Waiting cannot mend it: dead-lettered at once, as a refused run is.
            raise TriggerError(f"the message body is not JSON: {exc}", later=False) from None
        self.trigger.handle(event, remaining_s, max_attempts=INTAKE_ATTEMPTS)

    def _age_s(self, record: dict[str, Any]) -> float:
        sent_ms = int(record.get("attributes", {}).get("SentTimestamp") or self.now() * 1000)
        return max(0.0, self.now() - sent_ms / 1000) * self.time_scale

    def _wait(self, record: dict[str, Any], reason: str) -> bool:
        """Back off, or dead-letter a message past its time; True when it comes back later."""
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount") or 1)
        age_s = self._age_s(record)
        if age_s >= self.retry_s:
            return not self._dead_letter(
                record,
                f"{reason}; gave up after {receives} tries over {age_s / 3600:.1f} h",
            )
        delay = min(INTAKE_BACKOFF_CAP_S, INTAKE_BACKOFF_FIRST_S * 2 ** (receives - 1))
        delay = delay / 2 + self.jitter() * delay / 2  # half fixed, half jittered
        visibility = min(MAX_VISIBILITY_S, max(1, round(delay / self.time_scale)))
        fields = {"message_id": record.get("messageId"), "receives": receives,
                  "delay_s": round(delay, 1), "reason": reason}  # fmt: skip
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=visibility,
            )
        except Exception as exc:  # it comes back after the queue's own visibility timeout
            _say("backoff_not_set", logging.WARNING, error=str(exc), **fields)
        _say("deferred", logging.WARNING, **fields)
        _count("Deferred")
        # How long this file has waited for its run, which the intake's alarm watches: SQS's
        # ApproximateAgeOfOldestMessage leaves out a message received three times or more
        # ("Available CloudWatch metrics for Amazon SQS", Amazon SQS Developer Guide), as
        # every message that waits out an outage here is.
        _count("WaitingSeconds", round(age_s, 1), "Seconds")
        return True

    def _dead_letter(self, record: dict[str, Any], reason: str) -> bool:
        """True once the message is in the dead-letter queue; False (it stays in the intake
        and comes back) when the send failed."""
        body = record.get("body")
        try:
            event = json.loads(body) if isinstance(body, str) else body
        except ValueError:
            event = body
        try:
            dead_letter(event, reason)
        except Exception as exc:  # kept in the intake: it comes back, and is tried again
            _say("not_dead_lettered", logging.ERROR, message_id=record.get("messageId"),
                 reason=reason, error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            return False
        _say("dead_lettered", logging.ERROR, message_id=record.get("messageId"), reason=reason)
        _count("DeadLettered")
        return True


_trigger: Trigger | None = None
_intake: Intake | None = None


def _from_environment() -> Trigger:
    manifest_path = Path(os.environ.get("MANIFEST_PATH", Path(__file__).with_name("manifest.json")))
    manifest = json.loads(manifest_path.read_text())
    table = RoutingTable.from_manifest(manifest)
    if os.environ.get("AIRFLOW_API_URL"):
        transport: Transport = HttpTransport(
            os.environ["AIRFLOW_API_URL"], os.environ.get("AIRFLOW_API_TOKEN")
        )
    else:
        transport = MwaaTransport(os.environ["MWAA_ENVIRONMENT_NAME"])
    return Trigger(table, transport, tables=TableRoutes.from_manifest(manifest))


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point: a batch from the intake queue (the event source mapping), or one
    EventBridge event."""
    global _trigger, _intake  # built once per container (and its SQS client with them)
    if _trigger is None:
        _trigger = _from_environment()
    remaining_s = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
    if is_sqs_batch(event):
        if _intake is None:
            _intake = Intake.from_environment(_trigger)
        return _intake.process(event, remaining_s)
    return _trigger.handle(event, remaining_s)

"""The intake: SQS queue -> event source mapping -> trigger handler -> Airflow, with SQS in
moto's server and Airflow's API as a local HTTP server.

The event source mapping is played as AWS documents it ("Handling errors for an SQS event
source in Lambda", AWS Lambda Developer Guide, docs.aws.amazon.com/lambda/latest/dg/
services-sqs-errorhandling.html): it receives up to 10 messages, invokes the function with
them, deletes those the partial batch response does not name, and leaves the named ones to
come back when their visibility timeout runs out; SQS counts each receive
(ApproximateReceiveCount) and, past the queue's maxReceiveCount, moves the message to the
dead-letter queue ("Using dead-letter queues in Amazon SQS", Amazon SQS Developer Guide).

Airflow answers `POST /dags/{dag_id}/dagRuns` as its REST API v2 does: 200 with the run, 409
when the run id exists (airflow-core/src/airflow/api_fastapi/core_api/routes/public/
dag_run.py, `trigger_dag_run`). While "down" it answers 503, and while "throttled" 429.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from glueflow_local.events import sqs_lambda_event
from tests.json_http import JsonHandler, serving
from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_routing import event
from tests.moto_server import MotoServer

handler = trigger_module("handler")
routing = trigger_module("routing")
transport = trigger_module("transport")

REGION = "eu-west-1"
TABLE = routing.RoutingTable([routing.Route("sales_ingest", "raw", prefix="sales/incoming/")])


class FakeAirflow(JsonHandler):
    """Airflow's API server: runs by id, with a switch for 'up', 'down' and 'throttled'."""

    mode: str
    runs: dict[str, dict]
    requests: list[str]

    @classmethod
    def fresh(cls) -> type[FakeAirflow]:
        return type("Airflow", (cls,), {"mode": "up", "runs": {}, "requests": []})

    def do_POST(self) -> None:
        body = self.read_json()
        self.requests.append(self.path)
        if self.mode == "down":
            return self.answer(503, {"detail": "Service Unavailable"})
        if self.mode == "throttled":
            return self.answer(429, {"detail": "Too Many Requests"})
        if self.mode == "refusing":
            return self.answer(400, {"detail": "conf is not valid"})
        if self.path != "/api/v2/dags/sales_ingest/dagRuns":
            return self.answer(404, {"detail": f"The Dag with path {self.path} was not found"})
        run_id = body["dag_run_id"]
        if run_id in self.runs:
            return self.answer(409, {"detail": f"DAG run {run_id} already exists"})
        self.runs[run_id] = body["conf"]
        return self.answer(200, {"dag_run_id": run_id, "state": "queued"})


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = MotoServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def airflow() -> Iterator[type[FakeAirflow]]:
    api = FakeAirflow.fresh()
    with serving(api) as base:
        api.url = f"{base}/api/v2"  # type: ignore[attr-defined]
        yield api


class Queues:
    """The intake queue and its dead-letter queue in moto, as the trigger stack declares them
    (redrive after `max_receives`)."""

    def __init__(self, endpoint: str, name: str, max_receives: int = 1000) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        self.dlq = self.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = self._arn(self.dlq)
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
        self.url = self.sqs.create_queue(
            QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)}
        )["QueueUrl"]
        self.arn = self._arn(self.url)

    def _arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def land(self, *keys: str) -> None:
        """What the rule sends: the EventBridge event itself as the body."""
        for n, key in enumerate(keys):
            body = json.dumps(event(key, sequencer=f"0065A1B2C{n:02d}"))
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def poll(self, intake: Any, remaining_s: float = 60) -> dict | None:
        """One turn of the event source mapping; the function's answer, None if no message."""
        messages = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"],
            MessageAttributeNames=["All"], WaitTimeSeconds=0,
        ).get("Messages", [])  # fmt: skip
        if not messages:
            return None
        answer = intake.process(sqs_lambda_event(messages, self.arn), lambda: remaining_s)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return answer

    def count(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def dead_letters(self) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])


@pytest.fixture
def queues(
    moto_endpoint: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Queues:
    queues = Queues(moto_endpoint, f"intake-{request.node.name[:60]}")
    # The handler's own SQS calls (backoff, dead letters) go to moto, as on AWS to SQS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queues.dlq)
    return queues


def intake(queues: Queues, airflow: Any, **kwargs: Any) -> Any:
    trigger = handler.Trigger(TABLE, transport.HttpTransport(airflow.url), sleep=lambda s: None)
    return handler.Intake(trigger, queues.url, sqs=queues.sqs, jitter=lambda: 1.0, **kwargs)


def drain(queues: Queues, intake: Any, until: float) -> int:
    """Poll as the event source mapping does until the queue is empty; the polls made."""
    polls = 0
    while queues.count(queues.url) and time.monotonic() < until:
        polls += queues.poll(intake) is not None
        time.sleep(0.2)
    return polls


# Slow, not in `make test-fast`: seconds of real time on the compressed clock.
@pytest.mark.slow
def test_a_six_hour_outage_loses_no_file_and_runs_each_once(queues: Queues, airflow) -> None:
    """Airflow away for 6 hours of the policy's time (compressed: 2 h per second), files
    landing before and during it: once it is back, each file has exactly one run and no
    message was dead-lettered."""
    scale = 7200.0  # policy seconds per real second: 6 h in 3 s
    airflow.mode = "down"
    queues.land("sales/incoming/a.csv", "sales/incoming/b.csv")
    back_at = time.monotonic() + 6 * 3600 / scale
    the_intake = intake(queues, airflow, time_scale=scale)
    queues.land("sales/incoming/c.csv")
    while time.monotonic() < back_at:
        queues.poll(the_intake)
        time.sleep(0.2)
    assert queues.count(queues.url) == 3, "every file still waits"
    airflow.mode = "up"
    drain(queues, the_intake, time.monotonic() + 30)

    assert sorted(c["key"] for c in airflow.runs.values()) == [
        "sales/incoming/a.csv", "sales/incoming/b.csv", "sales/incoming/c.csv"
    ]  # fmt: skip
    assert queues.count(queues.url) == 0
    assert queues.dead_letters() == []


# Slow, not in `make test-fast`: seconds of real time on the compressed clock.
@pytest.mark.slow
def test_past_its_retry_window_a_message_is_dead_lettered_with_the_reason(
    queues: Queues, airflow
) -> None:
    """Airflow never back: after the window (24 h, compressed to 2 s) the message is in the
    dead-letter queue with why, and no longer in the intake."""
    airflow.mode = "down"
    queues.land("sales/incoming/a.csv")
    the_intake = intake(queues, airflow, time_scale=24 * 3600 / 2)
    drain(queues, the_intake, time.monotonic() + 30)

    (letter,) = queues.dead_letters()
    reason = letter["MessageAttributes"]["reason"]["StringValue"]
    assert "Airflow did not accept the run of sales_ingest" in reason
    assert "status 503" in reason
    assert "gave up after" in reason
    assert json.loads(letter["Body"])["detail"]["object"]["key"] == "sales/incoming/a.csv"
    assert airflow.runs == {}


def test_one_failed_start_holds_the_rest_of_the_batch_back_with_backoff(
    queues: Queues, airflow
) -> None:
    """With Airflow down, the first message is tried INTAKE_ATTEMPTS times and the rest not
    at all; every message is reported failed and hidden for its backoff."""
    airflow.mode = "down"
    queues.land(*(f"sales/incoming/{n}.csv" for n in range(5)))
    answer = queues.poll(intake(queues, airflow))

    assert answer is not None
    assert len(answer["batchItemFailures"]) == 5
    assert len(airflow.requests) == handler.INTAKE_ATTEMPTS
    # Each is hidden for its first backoff (30 s), not the queue's default.
    assert queues.poll(intake(queues, airflow)) is None
    assert queues.count(queues.url) == 5


def test_the_backoff_doubles_from_30_seconds_to_30_minutes(queues: Queues, airflow) -> None:
    """The visibility timeout asked of SQS for the 1st to 9th receive, jitter at its top."""
    asked: list[int] = []
    queues.sqs.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **_: asked.append(params["VisibilityTimeout"]),
    )
    airflow.mode = "down"
    queues.land("sales/incoming/a.csv")
    (message,) = queues.sqs.receive_message(QueueUrl=queues.url, AttributeNames=["All"])["Messages"]
    the_intake = intake(queues, airflow)
    for receives in range(1, 10):
        message["Attributes"]["ApproximateReceiveCount"] = str(receives)
        the_intake.process(sqs_lambda_event([message], queues.arn), lambda: 60)
    assert asked == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]


def test_throttling_is_passed_within_the_invocation(queues: Queues, airflow) -> None:
    """429 twice, then accepted: the run starts in the same invocation, nothing comes back."""
    airflow.mode = "throttled"
    queues.land("sales/incoming/a.csv")
    the_intake = intake(queues, airflow)
    original = the_intake.trigger.sleep

    def throttled_twice(seconds: float) -> None:
        if len(airflow.requests) >= 2:
            airflow.mode = "up"
        original(seconds)

    the_intake.trigger.sleep = throttled_twice
    answer = queues.poll(the_intake)

    assert answer == {"batchItemFailures": []}
    assert len(airflow.runs) == 1
    assert queues.count(queues.url) == 0


def test_a_refused_run_is_dead_lettered_at_once_and_an_unknown_dag_waits(
    queues: Queues, airflow
) -> None:
    """A 400 cannot pass by waiting: dead-lettered with Airflow's answer. A 404 can (the DAG
    of a job deployed a moment ago is not parsed yet): the message waits."""
    airflow.mode = "refusing"
    queues.land("sales/incoming/a.csv")
    assert queues.poll(intake(queues, airflow)) == {"batchItemFailures": []}
    (letter,) = queues.dead_letters()
    assert "conf is not valid" in letter["MessageAttributes"]["reason"]["StringValue"]

    airflow.mode = "up"
    unknown = handler.Trigger(
        routing.RoutingTable([routing.Route("not_parsed_yet", "raw", prefix="sales/")]),
        transport.HttpTransport(airflow.url),
    )
    queues.land("sales/incoming/b.csv")
    answer = queues.poll(handler.Intake(unknown, queues.url, sqs=queues.sqs))
    assert answer is not None
    assert len(answer["batchItemFailures"]) == 1
    assert airflow.runs == {}


def test_a_body_that_is_not_json_is_dead_lettered_not_retried(queues: Queues, airflow) -> None:
    queues.sqs.send_message(QueueUrl=queues.url, MessageBody="not json")
    assert queues.poll(intake(queues, airflow)) == {"batchItemFailures": []}
    (letter,) = queues.dead_letters()
    assert letter["Body"] == '"not json"'
    assert "not JSON" in letter["MessageAttributes"]["reason"]["StringValue"]


def test_a_dead_letter_that_cannot_be_sent_stays_in_the_intake(
    queues: Queues, airflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead-letter queue refuses the send: the message is reported failed (it comes back
    and is tried again), not deleted."""
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queues.url.replace("intake-", "missing-"))
    airflow.mode = "refusing"
    queues.land("sales/incoming/a.csv")
    answer = queues.poll(intake(queues, airflow))
    assert answer is not None
    assert len(answer["batchItemFailures"]) == 1
    assert queues.count(queues.url) == 1


def test_each_backoff_reports_how_long_the_file_has_waited(
    queues: Queues, airflow, capsys: pytest.CaptureFixture
) -> None:
    """`WaitingSeconds` (Embedded Metric Format, namespace Glueflow/Trigger), which the
    intake's alarm reads because SQS's ApproximateAgeOfOldestMessage leaves out a message
    received three times or more ("Available CloudWatch metrics for Amazon SQS", Amazon SQS
    Developer Guide)."""
    airflow.mode = "down"
    queues.land("sales/incoming/a.csv")
    (message,) = queues.sqs.receive_message(QueueUrl=queues.url, AttributeNames=["All"])["Messages"]
    message["Attributes"]["SentTimestamp"] = str(int((time.time() - 1200) * 1000))  # 20 min
    intake(queues, airflow).process(sqs_lambda_event([message], queues.arn), lambda: 60)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    (waited,) = [line for line in lines if "WaitingSeconds" in line]
    assert 1200 <= waited["WaitingSeconds"] < 1260
    assert waited["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "WaitingSeconds", "Unit": "Seconds"}
    ]

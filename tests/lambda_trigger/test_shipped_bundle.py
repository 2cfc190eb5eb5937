"""The trigger Lambda as it ships: `handler.handler(event, context)` loaded from the bundle in
the synthesized cloud assembly, with the manifest bundled beside it and the environment
variables of its AWS::Lambda::Function, in a fresh interpreter whose working directory and
first `sys.path` entry are the bundle, as Lambda's Python runtime runs `handler.handler`.

MWAA's `InvokeRestApi` is a real local HTTP server that answers as the API reference documents
it (`POST /restapi/{Name}` with `Path`, `Method` and `Body`; a 200 carries `RestApiStatusCode`
and `RestApiResponse`: "InvokeRestApi", Amazon MWAA API Reference). The dead-letter queue is
moto in server mode. The context gives the remaining time as Lambda's does
(`get_remaining_time_in_millis`, "Using the Lambda context object to retrieve Python function
information", AWS Lambda Developer Guide).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from glueflow_local.events import sqs_lambda_event
from tests.lambda_trigger.test_routing import event
from tests.moto_server import MotoServer
from tests.synth import Synthesized

RAW = "glueflow-dev-raw-111111111111"
DRIVER = """
import json, sys, time
sys.path.insert(0, ".")
import handler

class Context:
    def __init__(self, timeout_s):
        self.deadline = time.monotonic() + timeout_s
    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)

request = json.load(sys.stdin)
print(json.dumps(handler.handler(request["event"], Context(request["timeout_s"]))))
"""


class MwaaApi(http.server.BaseHTTPRequestHandler):
    """InvokeRestApi: records each call and answers Airflow's 200 for a queued run."""

    calls: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"url": self.path, **body})
        answer = json.dumps(
            {
                "RestApiStatusCode": 200,
                "RestApiResponse": {"dag_run_id": body["Body"]["dag_run_id"], "state": "queued"},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mwaa_api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []
    handler_class = type("RecordingMwaaApi", (MwaaApi,), {"calls": calls})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    # Polled every 50 ms, not 0.5 s: shutdown() waits for the next poll.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()


@pytest.fixture(scope="module")
def sqs_server() -> Iterator[str]:
    server = MotoServer()
    yield server.start()
    server.stop()


# Each invocation is a fresh interpreter (a quarter of a second or more): `make test-fast` runs
# one that starts a run per event kind (here and in test_table_published.py) and the ones that
# start none; the others are marked slow and run in `make test`.
@pytest.fixture
def invoke(dev: Synthesized, mwaa_api, sqs_server: str):
    """Run the shipped handler on one event; returns (result, InvokeRestApi calls, DLQ url)."""
    bundle = dev.assembly.lambda_bundle("glueflow-dev-triggers", "S3 object created")
    api_url, calls = mwaa_api
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_server)
    queue_url = sqs.create_queue(QueueName=f"trigger-dlq-{uuid.uuid4().hex}")["QueueUrl"]
    intake_url = sqs.create_queue(QueueName=f"trigger-intake-{uuid.uuid4().hex}")["QueueUrl"]
    # The template's variables; a Ref (a queue's URL) becomes the local queue's.
    local_queues = {"DEAD_LETTER_QUEUE_URL": queue_url, "INTAKE_QUEUE_URL": intake_url}
    variables = {
        name: (local_queues[name] if isinstance(value, dict) else str(value))
        for name, value in bundle.environment.items()
    }
    env = {
        "PATH": os.environ["PATH"],
        **variables,
        # What Lambda provides; the endpoints point the SDK at the local stand-ins.
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL_MWAA": api_url,
        "AWS_ENDPOINT_URL_SQS": sqs_server,
        # InvokeRestApi's endpoint has the host prefix "env.", which a loopback address lacks.
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
    }

    def run(payload: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        result = subprocess.run(
            [sys.executable, "-c", DRIVER],
            cwd=bundle.code_dir,
            env=env,
            input=json.dumps({"event": payload, "timeout_s": bundle.timeout_seconds}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1]), calls, queue_url

    return run


def raw_event(
    key: str, sequencer: str = "0065A1B2C3", version_id: str = "3HL4kqtJvjVBH40Nrjfkd"
) -> dict[str, Any]:
    """The event for a write to the raw bucket, which is versioned: S3 names the version in
    `detail.object.version-id` ("EventBridge event message structure", Amazon S3 User Guide)."""
    payload = event(key, sequencer)
    payload["detail"]["object"]["version-id"] = version_id
    payload["detail"]["bucket"]["name"] = RAW
    payload["resources"] = [f"arn:aws:s3:::{RAW}"]
    return payload


def test_the_bundle_is_what_lambda_runs(dev: Synthesized) -> None:
    bundle = dev.assembly.lambda_bundle("glueflow-dev-triggers", "S3 object created")
    assert bundle.handler == "handler.handler"
    assert sorted(p.name for p in bundle.code_dir.iterdir()) == [
        "handler.py",
        "manifest.json",
        "routing.py",
        "transport.py",
    ]
    assert bundle.environment["MWAA_ENVIRONMENT_NAME"] == "glueflow-dev"


def test_a_sales_csv_starts_sales_ingest_with_the_airflow_v2_body(invoke) -> None:
    """Airflow 3.0's `POST /api/v2/dags/{dag_id}/dagRuns` takes `dag_run_id`, `logical_date`
    (nullable: null means none) and `conf` (airflow/api_fastapi/core_api/datamodels/dag_run.py,
    `TriggerDAGRunPostBody`)."""
    result, calls, _ = invoke(raw_event("sales/incoming/2026-11-24.csv"))

    assert result == {"malformed": 0, "triggered": ["sales_ingest"], "already_triggered": []}
    (call,) = calls
    assert call["url"] == "/restapi/glueflow-dev"
    assert call["Path"] == "/dags/sales_ingest/dagRuns"
    assert call["Method"] == "POST"
    body = call["Body"]
    assert body["logical_date"] is None
    assert body["conf"] == {
        "bucket": RAW,
        "key": "sales/incoming/2026-11-24.csv",
        "size": 5,
        "version_id": "3HL4kqtJvjVBH40Nrjfkd",
        "etag": "b1946ac9",
        "sequencer": "0065A1B2C3",
        "event_time": "2026-11-24T06:00:00Z",
    }
    # A fixed value, sha256 of bucket, key and version id: the same object version must keep
    # asking for the same run.
    assert body["dag_run_id"] == "s3__06273c6fb6074fc0866d5117fd4e7d75cb711760"


@pytest.mark.slow  # not in `make test-fast`: three fresh interpreters (0.8 s)
def test_a_redelivery_asks_for_the_same_run_and_a_new_version_for_its_own(invoke) -> None:
    """The same event delivered again: the same run id, which Airflow refuses the second
    time. The same bytes written to the key again (a new version, the same ETag): a run of
    its own, which reads that version."""
    _, calls, _ = invoke(raw_event("sales/incoming/a.csv", "0065A1B2C3", version_id="v1"))
    invoke(raw_event("sales/incoming/a.csv", "0065A1B2C3", version_id="v1"))
    invoke(raw_event("sales/incoming/a.csv", "0065A1B2C4", version_id="v2"))

    run_ids = [c["Body"]["dag_run_id"] for c in calls]
    assert run_ids[0] == run_ids[1] != run_ids[2]
    assert [c["Body"]["conf"]["version_id"] for c in calls] == ["v1", "v1", "v2"]


def test_a_key_no_job_reads_starts_nothing(invoke) -> None:
    result, calls, _ = invoke(raw_event("sales/archive/2026-11-24.csv"))

    assert result["triggered"] == []
    assert calls == []


@pytest.mark.slow  # not in `make test-fast`: a fresh interpreter, beyond the one per event kind
def test_a_malformed_event_is_dead_lettered_by_the_shipped_handler(invoke, sqs_server) -> None:
    result, calls, queue_url = invoke({"detail-type": "Object Created", "source": "aws.s3"})

    assert result["malformed"] == 1
    assert calls == []
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_server)
    (message,) = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["source"] == "aws.s3"


@pytest.mark.slow  # not in `make test-fast`: a fresh interpreter, beyond the one per event kind
def test_a_batch_from_the_intake_queue_starts_its_runs_and_reports_no_failure(
    invoke, sqs_server: str
) -> None:
    """The event source mapping's event ("Using Lambda with Amazon SQS", AWS Lambda Developer
    Guide: records with eventSource aws:sqs, the EventBridge event as each body): the sales
    file starts its run, the malformed body is dead-lettered, and the partial batch
    response names no message to bring back."""
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_server)
    url = sqs.create_queue(QueueName=f"intake-{uuid.uuid4().hex}")["QueueUrl"]
    for body in (json.dumps(raw_event("sales/incoming/2026-11-24.csv")), "{not json"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    batch = sqs_lambda_event(messages["Messages"], arn["QueueArn"])

    result, calls, dead_letters = invoke(batch)

    assert result == {"batchItemFailures": []}
    assert [c["Body"]["conf"]["key"] for c in calls] == ["sales/incoming/2026-11-24.csv"]
    (letter,) = sqs.receive_message(QueueUrl=dead_letters, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert "not JSON" in letter["MessageAttributes"]["reason"]["StringValue"]

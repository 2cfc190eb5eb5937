"""The trigger handler against botocore's Stubber (InvokeRestApi answers) and moto (SQS)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_routing import event

handler = trigger_module("handler")
routing = trigger_module("routing")
transport = trigger_module("transport")

TABLE = routing.RoutingTable(
    [
        routing.Route("sales_ingest", "raw", prefix="sales/incoming/", suffix=".csv"),
        routing.Route("sales_audit", "raw", prefix="sales/"),
    ]
)
PATH = "/dags/sales_ingest/dagRuns"


class Clock:
    """Remaining invocation time that goes down as the handler sleeps; sleeps are recorded."""

    def __init__(self, remaining_s: float) -> None:
        self.remaining_s = remaining_s
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining_s -= seconds

    def __call__(self) -> float:
        return self.remaining_s


def expected_request(dag_id: str = "sales_ingest") -> dict:
    """InvokeRestApi's request for `event("sales/incoming/a.csv")`, written out by hand: the
    object as conf, no logical date, and the run id fixed for that bucket, key and (no
    versioning) sequencer."""
    return {
        "Name": "glueflow-dev",
        "Path": f"/dags/{dag_id}/dagRuns",
        "Method": "POST",
        "Body": {
            "dag_run_id": "s3__2bc4ed8da5a2a2a9eb75200d77d57169befe05a7",
            "logical_date": None,
            "conf": {
                "bucket": "raw",
                "key": "sales/incoming/a.csv",
                "size": 5,
                "version_id": None,
                "etag": "b1946ac9",
                "sequencer": "0065A1B2C3",
                "event_time": "2026-11-24T06:00:00Z",
            },
        },
    }


def ok(stubber: Stubber, dag_id: str, status: int = 200) -> None:
    stubber.add_response(
        "invoke_rest_api",
        {"RestApiStatusCode": status, "RestApiResponse": {"dag_run_id": "x", "state": "queued"}},
        expected_request(dag_id=dag_id),
    )


def client_error(stubber: Stubber, code: str, status: int, body: Any) -> None:
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code=code,
        http_status_code=status,
        service_message="from Airflow",
        response_meta={},
        # Only InvokeRestApi's own errors carry Airflow's status and body.
        modeled_fields=(
            {"RestApiStatusCode": status, "RestApiResponse": body}
            if code.startswith("RestApi")
            else None
        ),
        expected_params=expected_request(),
    )


def trigger(client, clock: Clock) -> Any:
    return handler.Trigger(
        TABLE,
        transport.MwaaTransport("glueflow-dev", client),
        sleep=clock.sleep,
        jitter=lambda: 1.0,
    )


def test_200_starts_every_routed_job_with_the_v2_body(mwaa) -> None:
    client, stubber = mwaa
    ok(stubber, "sales_audit")
    ok(stubber, "sales_ingest")
    result = trigger(client, Clock(60)).handle(event("sales/incoming/a.csv"), Clock(60))
    assert result["triggered"] == ["sales_audit", "sales_ingest"]


def test_409_means_already_triggered(mwaa) -> None:
    client, stubber = mwaa
    ok(stubber, "sales_audit")
    client_error(stubber, "RestApiClientException", 409, {"detail": "DAG run already exists"})
    result = trigger(client, Clock(60)).handle(event("sales/incoming/a.csv"), Clock(60))
    assert result == {"malformed": 0, "triggered": ["sales_audit"],
                      "already_triggered": ["sales_ingest"]}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status"),
    [("RestApiClientException", 429), ("RestApiServerException", 500),
     ("ThrottlingException", 429)],
)  # fmt: skip
def test_throttling_and_5xx_are_retried_with_backoff_then_succeed(mwaa, code, status) -> None:
    client, stubber = mwaa
    client_error(stubber, code, status, {"detail": "busy"})
    client_error(stubber, code, status, {"detail": "busy"})
    stubber.add_response(
        "invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {}}, expected_request()
    )
    clock = Clock(60)
    outcome = trigger(client, clock).start_run(
        "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], clock
    )
    assert outcome == "triggered"
    assert clock.sleeps == [0.2, 0.4]  # exponential (full jitter is 1.0 here)


def test_retries_stop_when_the_time_runs_out_and_the_handler_raises(mwaa) -> None:
    client, stubber = mwaa
    for _ in range(3):
        client_error(stubber, "RestApiServerException", 503, {"detail": "down"})
    clock = Clock(3.9)  # 2 s are kept back; the third failure leaves no time for a fourth try
    with pytest.raises(handler.TriggerError, match="after 3 attempts"):
        trigger(client, clock).start_run(
            "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], clock
        )


def test_other_4xx_is_logged_with_the_airflow_body_and_raised(mwaa, caplog) -> None:
    client, stubber = mwaa
    client_error(stubber, "RestApiClientException", 400, {"detail": "conf is not valid JSON"})
    with pytest.raises(handler.TriggerError, match="status 400"):
        trigger(client, Clock(60)).start_run(
            "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], Clock(60)
        )
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if "rejected" in r.getMessage()]
    assert line["response"] == {"detail": "conf is not valid JSON"}
    assert line["status"] == 400


def test_a_malformed_response_body_is_reported_not_parsed(mwaa) -> None:
    client, stubber = mwaa
    client_error(stubber, "RestApiClientException", 422, "<html>proxy error</html>")
    with pytest.raises(handler.TriggerError, match="proxy error"):
        trigger(client, Clock(60)).start_run(
            "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], Clock(60)
        )


class SlowThenOk(http.server.BaseHTTPRequestHandler):
    """A stand-in MWAA endpoint: the first request gets no answer in time, the next a 200.
    Each server gets its own subclass (`counting`), so the count starts at 0 every time."""

    requests: list[str]

    @classmethod
    def counting(cls) -> type[SlowThenOk]:
        return type("CountingSlowThenOk", (cls,), {"requests": []})

    def do_POST(self) -> None:
        self.requests.append(self.path)
        self.rfile.read(int(self.headers["Content-Length"]))
        if len(self.requests) == 1:
            time.sleep(1.0)  # longer than the client's read timeout
            return
        body = json.dumps({"RestApiStatusCode": 200, "RestApiResponse": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_timeout_is_retried() -> None:
    endpoint = SlowThenOk.counting()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), endpoint)
    # Polled every 50 ms, not 0.5 s: shutdown() waits for the next poll.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    client = boto3.client(
        "mwaa",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        # No "env." host prefix: the endpoint is a loopback address.
        config=Config(
            read_timeout=0.3, retries={"total_max_attempts": 1}, inject_host_prefix=False
        ),
    )
    clock = Clock(60)
    try:
        outcome = trigger(client, clock).start_run(
            "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], clock
        )
    finally:
        server.shutdown()
    assert outcome == "triggered"
    assert len(endpoint.requests) == 2
    assert len(clock.sleeps) == 1


def test_a_key_that_routes_nowhere_is_ignored(mwaa, caplog) -> None:
    client, _ = mwaa
    caplog.set_level("DEBUG", logger="glueflow.trigger")
    result = trigger(client, Clock(60)).handle(event("elsewhere/a.csv"), Clock(60))
    assert result["triggered"] == []
    assert any('"decision": "no_route"' in r.getMessage() for r in caplog.records)


@mock_aws
def test_a_malformed_event_is_counted_and_dead_lettered_without_crashing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="trigger-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    monkeypatch.setenv("GLUEFLOW_ENVIRONMENT", "dev")

    result = handler.Trigger(TABLE, transport.HttpTransport("http://127.0.0.1:9")).handle(
        {"detail-type": "Object Created", "source": "aws.s3", "detail": {}}, Clock(60)
    )

    assert result["malformed"] == 1
    metric = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metric["MalformedEvents"] == 1
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Glueflow/Trigger"
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert "names no bucket" in message["MessageAttributes"]["reason"]["StringValue"]


def test_a_replayed_event_starts_only_its_job_and_asks_for_the_run_it_has(mwaa) -> None:
    """EventBridge adds `replay-name` to each replayed event ("Archiving and replaying
    events", Amazon EventBridge User Guide); `make replay` names the job in it."""
    from glueflow_ops.replay import replay_job_hash

    assert replay_job_hash("sales_audit") == handler.replay_job_hash("sales_audit")
    client, stubber = mwaa
    ok(stubber, "sales_ingest")  # the same request, run id included, as the first time
    replayed = {**event("sales/incoming/a.csv"),
                "replay-name": f"glueflow-replay-{handler.replay_job_hash('sales_ingest')}-"
                               "20261205T081500"}  # fmt: skip
    result = trigger(client, Clock(60)).handle(replayed, Clock(60))
    assert result["triggered"] == ["sales_ingest"]  # sales_audit reads sales/ too, not asked


def replayed_run(client, stubber: Stubber, dag_id: str, name: str) -> list[str]:
    """Expect the POST of a new run of sales/incoming/a.csv salted with replay `name`, then
    handle that object's event as replay `name` delivers it; the jobs triggered."""
    obj = handler.parse_event(event("sales/incoming/a.csv"))[0]
    request = expected_request(dag_id)
    request["Body"] = {**request["Body"], "dag_run_id": obj.run_id(name),
                       "conf": {**request["Body"]["conf"], "replay": name}}  # fmt: skip
    stubber.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {}},
                         request)  # fmt: skip
    result = trigger(client, Clock(60)).handle(
        {**event("sales/incoming/a.csv"), "replay-name": name}, Clock(60)
    )
    return result["triggered"]


def test_a_reprocess_asks_each_object_for_a_new_run(mwaa) -> None:
    name = f"glueflow-reprocess-{handler.replay_job_hash('sales_audit')}-20261205T081500"
    obj = handler.parse_event(event("sales/incoming/a.csv"))[0]
    assert obj.run_id(name) != obj.run_id()
    assert obj.run_id(name) == obj.run_id(name)
    client, stubber = mwaa
    assert replayed_run(client, stubber, "sales_audit", name) == ["sales_audit"]


def test_in_a_replay_an_object_whose_run_failed_gets_a_new_run(mwaa) -> None:
    """409, then `GET /dags/sales_ingest/dagRuns` with `run_id_pattern` (InvokeRestApi's
    QueryParameters: the run id in the path would pass its 64 characters) says the run
    failed: a new run, salted with the replay's name."""
    client, stubber = mwaa
    name = f"glueflow-replay-{handler.replay_job_hash('sales_ingest')}-20261205T081500"
    obj = handler.parse_event(event("sales/incoming/a.csv"))[0]
    client_error(stubber, "RestApiClientException", 409, {"detail": "exists"})
    stubber.add_response(
        "invoke_rest_api",
        {"RestApiStatusCode": 200, "RestApiResponse": {
            "dag_runs": [{"dag_run_id": obj.run_id(), "state": "failed"}], "total_entries": 1}},
        {"Name": "glueflow-dev", "Path": PATH, "Method": "GET",
         "QueryParameters": {"run_id_pattern": obj.run_id(), "limit": 5}},
    )  # fmt: skip
    assert replayed_run(client, stubber, "sales_ingest", name) == ["sales_ingest"]

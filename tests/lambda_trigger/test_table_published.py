"""The trigger's branch for another deployment's Table Published events (docs/architecture.md,
decision 20): the shipped handler from the dev assembly, whose bundled manifest says
sales_daily_eur starts when treasury's prod deployment (account 555555555555) publishes
fx_rates (configs/environments/dev.yaml: external_tables.treasury_fx).

The event is what the producer's publish task puts on its bus (glueflow_runtime.publish:
`table_published_entry`, the one definition both sides share) as EventBridge delivers it to a
target: the envelope's `version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
`resources`, and the entry's Detail as a JSON object ("Amazon EventBridge events", EventBridge
User Guide). A forwarded event keeps the producer's `account` ("Sending and receiving events
between AWS accounts in Amazon EventBridge"). MWAA's InvokeRestApi is the local HTTP server of
test_shipped_bundle, and its 409 for a run that exists is botocore's Stubber answering as the
API reference documents (`RestApiClientException` with `RestApiStatusCode`).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
import pytest

from glueflow_local.events import sqs_lambda_event
from glueflow_runtime.publish import Published, table_published_entry
from glueflow_runtime.validation_report import PartitionWritten, TableWritten
from tests.lambda_trigger import test_shipped_bundle as shipped
from tests.lambda_trigger.conftest import trigger_module

# The shipped bundle's fixtures: the handler in a fresh interpreter, MWAA's API, moto's SQS.
invoke, mwaa_api, sqs_server = shipped.invoke, shipped.mwaa_api, shipped.sqs_server

handler = trigger_module("handler")
routing = trigger_module("routing")
transport = trigger_module("transport")

TREASURY = "555555555555"
FX_LOCATION = f"s3://glueflow-prod-curated-{TREASURY}/treasury/fx_rates/"


def fx_published(run_id: str = "scheduled__2026-11-24T05:00:00+00:00", glue_run: str = "jr_fx1",
                 **envelope: Any) -> dict[str, Any]:  # fmt: skip
    """Treasury's prod publishing fx_rates, as its publish task announces it and EventBridge
    delivers it here."""
    written = TableWritten(
        table="fx_rates",
        location=f"{FX_LOCATION}runs/{glue_run}/",
        partition_columns=["rate_date"],
        replace="partitions",
        partitions=[PartitionWritten(["2026-11-24"], "rate_date=2026-11-24/", 30)],
    )
    announce_as = {
        "environment": "prod", "name_prefix": "glueflow", "account": TREASURY,
        "region": "eu-west-1", "partition": "aws", "database": "glueflow_prod",
        "dag_id": "fx_rates_daily",
    }  # fmt: skip
    published = Published("fx_rates", 30, 1, 0, 0)
    entry = table_published_entry(announce_as, written, published, run_id, glue_run)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": TREASURY,
        "time": "2026-11-24T05:10:00Z",
        "region": "eu-west-1",
        "resources": entry["Resources"],
        "detail": json.loads(entry["Detail"]),
        **envelope,
    }


def test_treasurys_publish_starts_sales_daily_eur_with_its_detail_as_conf(invoke) -> None:
    event = fx_published()

    result, calls, _ = invoke(event)

    assert result == {"malformed": 0, "triggered": ["sales_daily_eur"], "already_triggered": []}
    (call,) = calls
    assert call["Path"] == "/dags/sales_daily_eur/dagRuns"
    assert call["Method"] == "POST"
    body = call["Body"]
    assert body["logical_date"] is None
    assert body["conf"] == {
        "table_published": {
            **event["detail"], "account": TREASURY, "event_time": "2026-11-24T05:10:00Z"
        }
    }  # fmt: skip
    # A fixed value: sha256 of account, name_prefix, environment, table, DAG, run and Glue run.
    assert body["dag_run_id"] == "table__" + handler.hashlib.sha256(
        "\n".join([TREASURY, "glueflow", "prod", "fx_rates", "fx_rates_daily",
                   "scheduled__2026-11-24T05:00:00+00:00", "jr_fx1"]).encode()
    ).hexdigest()[:40]  # fmt: skip


@pytest.mark.slow  # not in `make test-fast`: three fresh interpreters (0.8 s)
def test_a_redelivered_or_reannounced_publish_asks_for_the_same_run(invoke) -> None:
    """EventBridge's at-least-once delivery (a new envelope id, the same detail) and the
    producer's retried publish task (a second event of the same publish) ask for one run; a
    new publish (another Glue run) for its own."""
    _, calls, _ = invoke(fx_published())
    invoke(fx_published())  # another event id, the same publish
    invoke(fx_published(glue_run="jr_fx2"))  # the producer's Glue task cleared and run again

    run_ids = [c["Body"]["dag_run_id"] for c in calls]
    assert run_ids[0] == run_ids[1] != run_ids[2]


def test_a_table_no_job_is_started_by_starts_nothing(invoke) -> None:
    event = fx_published()
    event["detail"]["table"] = "holidays"

    result, calls, _ = invoke(event)

    assert result == {"malformed": 0, "triggered": [], "already_triggered": []}
    assert calls == []


@pytest.mark.slow  # not in `make test-fast`: a fresh interpreter, beyond the one per event kind
def test_a_malformed_table_event_is_dead_lettered_with_its_reason(invoke, sqs_server) -> None:
    event = fx_published()
    del event["detail"]["run_id"]

    result, calls, queue_url = invoke(event)

    assert result["malformed"] == 1
    assert calls == []
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_server)
    (message,) = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["detail"]["table"] == "fx_rates"
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert reason == (
        "the Table Published event's detail lacks run_id, so it cannot be routed or given its "
        "run id"
    )


@pytest.mark.slow  # not in `make test-fast`: a fresh interpreter, beyond the one per event kind
def test_a_table_event_from_the_intake_queue_starts_its_run(invoke, sqs_server: str) -> None:
    """The rule's target is the intake queue, as for S3's events; the event source mapping
    hands the handler its batch ("Using Lambda with Amazon SQS", AWS Lambda Developer Guide)."""
    sqs = boto3.client("sqs", region_name="eu-west-1", endpoint_url=sqs_server)
    url = sqs.create_queue(QueueName=f"intake-{uuid.uuid4().hex}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(fx_published()))
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]

    result, calls, _ = invoke(sqs_lambda_event(messages["Messages"], arn["QueueArn"]))

    assert result == {"batchItemFailures": []}
    assert [c["Path"] for c in calls] == ["/dags/sales_daily_eur/dagRuns"]


class Clock:
    def __call__(self) -> float:
        return 60.0


def routed_trigger(client: Any) -> Any:
    tables = routing.TableRoutes({(TREASURY, "glueflow", "prod", "fx_rates"): ["eur", "audit"]})
    return handler.Trigger(
        routing.RoutingTable([]),
        transport.MwaaTransport("glueflow-dev", client),
        sleep=lambda s: None,
        jitter=lambda: 1.0,
        tables=tables,
    )


def test_409_means_the_run_exists_and_counts_as_done(mwaa) -> None:
    """Airflow answers 409 for a run id it has (POST /dags/{dag_id}/dagRuns); the event was
    handled before: as for an S3 object's run."""
    client, stubber = mwaa
    stubber.add_response(
        "invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {"state": "queued"}}
    )
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code="RestApiClientException",
        http_status_code=409,
        service_message="from Airflow",
        response_meta={},
        modeled_fields={"RestApiStatusCode": 409,
                        "RestApiResponse": {"detail": "DAG run already exists"}},
    )  # fmt: skip

    result = routed_trigger(client).handle(fx_published(), Clock())

    assert result == {"malformed": 0, "triggered": ["audit"], "already_triggered": ["eur"]}


def test_an_event_that_routes_nowhere_is_logged(mwaa, caplog) -> None:
    client, _ = mwaa
    event = fx_published()
    event["account"] = "999999999999"  # the same table name, another producer

    with caplog.at_level(logging.INFO, logger="glueflow.trigger"):
        result = routed_trigger(client).handle(event, Clock())

    assert result["triggered"] == []
    (line,) = [json.loads(r.getMessage()) for r in caplog.records]
    assert line == {
        "decision": "no_route", "table": "glueflow-prod.fx_rates",
        "producer_account": "999999999999",
        "producer_run_id": "scheduled__2026-11-24T05:00:00+00:00",
    }  # fmt: skip


def test_another_glueflow_event_is_malformed_not_an_s3_one(mwaa, monkeypatch) -> None:
    client, _ = mwaa
    kept: list[tuple[Any, str]] = []
    monkeypatch.setattr(handler, "dead_letter", lambda event, reason: kept.append((event, reason)))

    result = routed_trigger(client).handle(
        fx_published(**{"detail-type": "Table Dropped"}), Clock()
    )

    assert result["malformed"] == 1
    assert (
        kept[0][1] == "not a Table Published event: source='glueflow', detail-type='Table Dropped'"
    )

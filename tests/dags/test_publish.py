"""Publishing a run (glueflow_runtime.publish, the code the DAG's gate and publish tasks run):
the catalog tables CloudFormation creates, from the synthesized dev templates, in a moto server.

A run's report lists what it wrote (glueflow_glue.tables, exercised on real Spark by
tests/glue_scripts/test_entry_contract.py); these tests hand the publisher such reports and
read the catalog back as a reader would (GetPartitions). The partition API's limits (100
partitions per BatchCreatePartition and BatchUpdatePartition, 25 per BatchDeletePartition,
1,000 per BatchGetPartition) are from the AWS Glue API reference, "Partition API".
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from glueflow_local.cloud import CATALOG_TYPES, create_catalog
from glueflow_runtime.publish import publish_all, publish_table
from glueflow_runtime.validation_report import PartitionWritten, TableWritten
from tests.moto_server import MotoServer
from tests.synth import Synthesized

DATABASE = "glueflow_dev"
ORDERS = "s3://glueflow-dev-curated-111111111111/sales/orders/"
DAILY = "s3://glueflow-dev-curated-111111111111/sales/daily/"


@pytest.fixture(scope="module")
def moto_glue() -> Iterator[Any]:
    server = MotoServer()
    url = server.start()
    client = boto3.client(
        "glue",
        region_name="eu-west-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's, not a secret
    )
    yield url, client
    server.stop()


@pytest.fixture
def glue(moto_glue: tuple[str, Any], dev: Synthesized) -> Iterator[Any]:
    """An empty catalog but for the dev templates' database and tables (moto's reset API
    first: one moto backend serves the whole process)."""
    url, client = moto_glue
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset).close()  # noqa: S310 - the local moto server, over http
    create_catalog(
        client,
        [(kind, props) for kind in CATALOG_TYPES for _, _, props in dev.assembly.resources(kind)],
    )
    yield client
    # moto's backends are the process's: leave no catalog behind for another module's server.
    urllib.request.urlopen(reset).close()  # noqa: S310


def orders_run(run: str, version: str, days: list[str], key: str = "a.csv") -> TableWritten:
    """What a sales_ingest run's report says it wrote for one object version."""
    source_id = f"src-{key}"
    return TableWritten(
        table="sales_orders",
        location=f"{ORDERS}runs/{run}/",
        partition_columns=["sale_date", "source_id"],
        replace="source_object",
        partitions=[
            PartitionWritten([day, source_id], f"sale_date={day}/source_id={source_id}/", 10)
            for day in days
        ],
        source={"uri": f"s3://raw/sales/incoming/{key}", "version_id": version, "id": source_id},
    )


def daily_run(run: str, days: list[str]) -> TableWritten:
    return TableWritten(
        table="sales_daily",
        location=f"{DAILY}runs/{run}/",
        partition_columns=["sale_date"],
        replace="partitions",
        partitions=[PartitionWritten([day], f"sale_date={day}/", 3) for day in days],
        source={"id": "job"},
    )


def visible(glue: Any, table: str) -> dict[tuple[str, ...], str]:
    """What a reader of the table sees: each partition's values and folder."""
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DATABASE, TableName=table)
    return {
        tuple(p["Values"]): p["StorageDescriptor"]["Location"]
        for page in pages
        for p in page["Partitions"]
    }


def test_a_run_is_visible_only_once_published_and_then_from_its_own_folder(glue) -> None:
    assert visible(glue, "sales_orders") == {}  # written, not published: nothing to read
    done = publish_table(glue, DATABASE, orders_run("jr_1", "v1", ["2026-11-23"]), "jr_1")
    assert (done.rows, done.created, done.updated, done.dropped) == (10, 1, 0, 0)
    assert visible(glue, "sales_orders") == {
        ("2026-11-23", "src-a.csv"): f"{ORDERS}runs/jr_1/sale_date=2026-11-23/source_id=src-a.csv/"
    }
    # The partition carries the table's columns and format, and where its rows came from.
    partition = glue.get_partition(
        DatabaseName=DATABASE, TableName="sales_orders", PartitionValues=["2026-11-23", "src-a.csv"]
    )["Partition"]
    columns = [c["Name"] for c in partition["StorageDescriptor"]["Columns"]]
    assert columns == ["order_id", "store_id", "sold_at", "amount", "quantity", "customer_id"]
    assert partition["Parameters"]["glueflow.run_id"] == "jr_1"
    assert partition["Parameters"]["glueflow.source_version"] == "v1"


def test_the_same_version_published_again_changes_nothing(glue) -> None:
    """A retry's new Glue run, a redelivery, a replay or a cleared task: same object version."""
    publish_table(glue, DATABASE, orders_run("jr_1", "v1", ["2026-11-23", "2026-11-24"]), "jr_1")
    before = visible(glue, "sales_orders")
    again = publish_table(
        glue, DATABASE, orders_run("jr_2", "v1", ["2026-11-23", "2026-11-24"]), "jr_2"
    )
    assert again.unchanged
    assert visible(glue, "sales_orders") == before  # still the first run's folders


def test_a_new_version_replaces_what_the_old_one_contributed(glue) -> None:
    publish_table(glue, DATABASE, orders_run("jr_1", "v1", ["2026-11-22", "2026-11-23"]), "jr_1")
    done = publish_table(
        glue, DATABASE, orders_run("jr_2", "v2", ["2026-11-23", "2026-11-24"]), "jr_2"
    )
    assert (done.created, done.updated, done.dropped) == (1, 1, 1)
    seen = visible(glue, "sales_orders")
    assert sorted(seen) == [("2026-11-23", "src-a.csv"), ("2026-11-24", "src-a.csv")]
    assert all("/runs/jr_2/" in folder for folder in seen.values())  # nothing of v1 is left


def test_two_sources_never_touch_each_others_rows(glue) -> None:
    """Two runs at once, of one job or of two writing the table: each owns its source_id."""
    runs = [
        orders_run(f"jr_{key}", "v1", ["2026-11-23", "2026-11-24"], key=key)
        for key in ("a.csv", "b.csv")
    ]
    threads = [
        threading.Thread(target=publish_table, args=(glue, DATABASE, r, r.location.split("/")[-2]))
        for r in runs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = visible(glue, "sales_orders")
    assert len(seen) == 4
    # b's new version replaces b's rows, and a's stay.
    publish_table(glue, DATABASE, orders_run("jr_b2", "v2", ["2026-11-25"], key="b.csv"), "jr_b2")
    assert sorted(visible(glue, "sales_orders")) == [
        ("2026-11-23", "src-a.csv"), ("2026-11-24", "src-a.csv"), ("2026-11-25", "src-b.csv")
    ]  # fmt: skip


def test_partitions_replace_only_the_days_a_run_wrote(glue) -> None:
    publish_all(glue, DATABASE, [daily_run("jr_1", ["2026-11-23", "2026-11-24"])], "jr_1")
    publish_all(glue, DATABASE, [daily_run("jr_2", ["2026-11-24"])], "jr_2")
    assert visible(glue, "sales_daily") == {
        ("2026-11-23",): f"{DAILY}runs/jr_1/sale_date=2026-11-23/",
        ("2026-11-24",): f"{DAILY}runs/jr_2/sale_date=2026-11-24/",
    }


def test_a_publish_larger_than_one_batch(glue) -> None:
    """250 partitions: three BatchCreatePartition calls; a new version of 40 drops 210 of
    them in nine BatchDeletePartition calls."""
    days = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)][:250]
    publish_table(glue, DATABASE, orders_run("jr_1", "v1", days), "jr_1")
    assert len(visible(glue, "sales_orders")) == 250
    done = publish_table(glue, DATABASE, orders_run("jr_2", "v2", days[:40]), "jr_2")
    assert (done.updated, done.dropped) == (40, 210)
    assert len(visible(glue, "sales_orders")) == 40


# --- Table Published events (docs/architecture.md, decision 20) ---------------------------------


@pytest.fixture
def bus(moto_glue: tuple[str, Any], glue: Any) -> tuple[Any, Any]:
    """moto's default bus with a rule that keeps every glueflow event in a queue, as a
    consumer's rule would take it: (events client, a function that reads what arrived)."""
    import json

    url, _ = moto_glue
    clients = {
        name: boto3.client(name, region_name="eu-west-1", endpoint_url=url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106
        for name in ("events", "sqs")
    }  # fmt: skip
    sqs = clients["sqs"]
    queue = sqs.create_queue(QueueName="published")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    events = clients["events"]
    events.put_rule(Name="published", EventPattern=json.dumps({"source": ["glueflow"]}))
    events.put_targets(Rule="published", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])

    def arrived() -> list[dict[str, Any]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return found

    return events, arrived


class TaskInstance:
    """What the publish task reads of its task instance: the Glue task's run id (XCom)."""

    def __init__(self, glue_run_id: str) -> None:
        self.glue_run_id = glue_run_id

    def xcom_pull(self, task_ids: str) -> str:
        return self.glue_run_id


def publish_task_kwargs(dev_manifest: dict) -> dict[str, Any]:
    """The publish task of sales_daily_aggregate as the shipped manifest builds it."""
    from glueflow_runtime.dag_builder import build_dag
    from glueflow_runtime.ids import PUBLISH_TASK

    job = dev_manifest["jobs"]["sales_daily_aggregate"]
    task = build_dag(job, dev_manifest["environment"]).get_task(PUBLISH_TASK)
    return dict(task.op_kwargs)


def run_publish_task(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict, glue: Any, events: Any, written: TableWritten
) -> dict:
    """The task's callable with its op_kwargs, Airflow's context (ti, run_id) and its AWS
    clients: moto's, in place of the Airflow hooks that would make them."""
    from glueflow_runtime import gate, publish
    from glueflow_runtime.validation_report import ValidationReport

    run = written.location.split("/")[-2]
    report = ValidationReport("sales_daily_aggregate", run, 3, 0, tables=[written])
    monkeypatch.setattr(gate, "read_report", lambda *a, **k: report)
    monkeypatch.setattr(publish, "glue_client", lambda *a, **k: glue)
    monkeypatch.setattr(publish, "events_client", lambda *a, **k: events)
    return publish.run_publish(
        **kwargs, ti=TaskInstance(run), run_id="scheduled__2026-11-24T06:00:00+00:00"
    )


def test_the_publish_task_announces_each_table_it_published(
    glue, bus, dev_manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One event per table, on the environment's default bus, after the partitions point at
    the run: source glueflow, detail-type Table Published, the table as a resource."""
    import json

    events, arrived = bus
    kwargs = publish_task_kwargs(dev_manifest)

    run_publish_task(monkeypatch, kwargs, glue, events, daily_run("jr_1", ["2026-11-24"]))

    assert visible(glue, "sales_daily") == {
        ("2026-11-24",): f"{DAILY}runs/jr_1/sale_date=2026-11-24/"
    }
    (event,) = arrived()
    assert (event["source"], event["detail-type"]) == ("glueflow", "Table Published")
    table_arn = "arn:aws:glue:eu-west-1:111111111111:table/glueflow_dev/sales_daily"
    assert event["resources"] == [table_arn]
    assert event["detail"] == {
        "environment": "dev", "name_prefix": "glueflow", "account": "111111111111",
        "region": "eu-west-1", "database": "glueflow_dev", "table": "sales_daily",
        "dag_id": "sales_daily_aggregate", "run_id": "scheduled__2026-11-24T06:00:00+00:00",
        "glue_run_id": "jr_1", "location": DAILY, "run_location": f"{DAILY}runs/jr_1/",
        "replace": "partitions", "partition_columns": ["sale_date"],
        "partitions": [["2026-11-24"]], "partition_count": 1, "partitions_truncated": False,
        "dropped": [], "rows": 3, "unchanged": False,
    }  # fmt: skip
    assert json.loads(json.dumps(event["detail"])) == event["detail"]


def test_a_retried_publish_task_changes_nothing_and_announces_the_same_run_again(
    glue, bus, dev_manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry after a refused event: the partitions already point at the run, so the
    publish repeats harmlessly; the event names the same run, whose id a consumer's trigger
    derives its own run id from (one run there)."""
    events, arrived = bus
    kwargs = publish_task_kwargs(dev_manifest)
    written = daily_run("jr_1", ["2026-11-23", "2026-11-24"])

    run_publish_task(monkeypatch, kwargs, glue, events, written)
    before = visible(glue, "sales_daily")
    run_publish_task(monkeypatch, kwargs, glue, events, written)

    assert visible(glue, "sales_daily") == before
    first, second = arrived()
    assert first["detail"] == second["detail"]
    assert first["id"] != second["id"]  # two events, one publish


class RefusingEvents:
    """PutEvents answering 200 with every entry refused, as the API reference documents a
    partial failure: `FailedEntryCount`, and `ErrorCode` and `ErrorMessage` on each entry in
    the request's order ("PutEvents", Amazon EventBridge API Reference)."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} for _ in Entries
            ],
        }


def test_an_event_eventbridge_does_not_accept_fails_the_task_after_its_tries(
    glue, dev_manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 is not a delivery: FailedEntryCount says which entries were refused. They are
    sent again, then the task fails, so Airflow's retry publishes (no change) and announces
    again; the table stays published."""
    from glueflow_runtime import publish

    refusing = RefusingEvents()
    monkeypatch.setattr(publish.time, "sleep", lambda s: None)
    kwargs = publish_task_kwargs(dev_manifest)

    with pytest.raises(publish.EventNotSent, match=r"sales_daily: InternalFailure try again"):
        run_publish_task(monkeypatch, kwargs, glue, refusing, daily_run("jr_1", ["2026-11-24"]))

    assert len(refusing.calls) == publish.PUT_EVENTS_ATTEMPTS
    assert visible(glue, "sales_daily")  # published before the announcement


def test_only_refused_entries_are_sent_again_in_batches_of_ten() -> None:
    """PutEvents takes at most 10 entries a request ("Amazon EventBridge quotas"); a partly
    refused request is answered entry by entry, in order."""
    from glueflow_runtime import publish

    class OneRefusedOnce:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls.append([publish._table_of(e) for e in Entries])
            refuse = len(self.calls) == 1
            results = [{"EventId": f"e{i}"} for i in range(len(Entries))]
            if refuse:
                results[3] = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
            return {"FailedEntryCount": int(refuse), "Entries": results}

    entries = [
        {"Source": "glueflow", "DetailType": "Table Published",
         "Detail": f'{{"table": "t{i:02d}"}}', "Resources": []}
        for i in range(12)
    ]  # fmt: skip
    events = OneRefusedOnce()

    publish.announce(events, entries, sleep=lambda s: None)

    assert events.calls == [
        [f"t{i:02d}" for i in range(10)], ["t03"], ["t10", "t11"]
    ]  # fmt: skip

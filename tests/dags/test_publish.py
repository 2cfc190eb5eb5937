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
from moto.server import ThreadedMotoServer

from glueflow_local.cloud import CATALOG_TYPES, create_catalog
from glueflow_runtime.publish import publish_all, publish_table
from glueflow_runtime.validation_report import PartitionWritten, TableWritten
from tests.synth import Synthesized

DATABASE = "glueflow_dev"
ORDERS = "s3://glueflow-dev-curated-111111111111/sales/orders/"
DAILY = "s3://glueflow-dev-curated-111111111111/sales/daily/"


@pytest.fixture(scope="module")
def moto_glue() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
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

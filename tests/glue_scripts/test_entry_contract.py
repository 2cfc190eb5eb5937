"""Every example job's main(), run as Glue runs it: Glue's argv, the real argument handling.

Glue starts a script with `--JOB_ID`, `--JOB_RUN_ID` and `--JOB_NAME`, then the job's
DefaultArguments overridden by the run's Arguments (AWS Glue developer guide, "Using job
parameters in AWS Glue jobs", docs.aws.amazon.com/glue/latest/dg/
aws-glue-programming-etl-glue-arguments.html). The job's arguments come from the synthesized
template, the run's from the DAG built from the shipped manifest; `awsglue` is the stand-in
under `standin/`, whose `getResolvedOptions` reproduces `awsglue/utils.py` of aws-glue-libs
(branch glue-5.0, as glue-5.1). See conftest.py for how a run is staged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from configs.loader import load_platform
from tests.conftest import REPO_ROOT
from tests.glue_scripts.conftest import (
    STANDIN,
    Deployed,
    GlueRun,
    LocalS3,
    deployed,
    glue_process,
    publish_run,
    published,
    read_report,
    run_as_glue,
)
from tests.moto_server import MotoServer
from tests.synth import synthesize

SALES_CSV = """order_id,store_id,sold_at,amount,quantity,customer_id
o-1,s-1,2026-11-23 09:15:00,12.50,1,c-1
o-2,s-1,2026-11-23 10:00:00,7.25,3,c-2
o-3,s-2,2026-11-24 08:30:00,100.00,2,c-1
o-4,s-2,not a time,5.00,1,c-3
o-5,s-2,2026-11-24 09:00:00,abc,1,c-3
,s-3,2026-11-24 09:30:00,1.00,1,c-3
o-7,s-3,2026-11-24 09:45:00,-4.00,1,
o-8,s-3,2026-11-24 10:00:00,4.00,0,
o-9,s-3
o-10,s-3,2026-11-24 11:00:00,20.00,2,
"""
# An earlier drop in the same prefix: an S3-triggered run reads only the object that started it.
EARLIER_CSV = SALES_CSV.splitlines()[0] + "\nold-1,s-9,2026-11-01 09:00:00,1.00,1,c-9\n"


def _event(event_id: str | None, customer: str, campaign: str, time: str) -> str:
    fields = {"event_id": event_id, "customer_id": customer, "campaign_id": campaign,
              "event_type": "click", "event_time": time}  # fmt: skip
    return json.dumps({k: v for k, v in fields.items() if v is not None})


EVENTS_JSON = (
    "\n".join(
        [
            _event("e-1", "c-1", "cmp-1", "2026-11-23T08:00:00Z"),
            _event("e-2", "c-1", "cmp-2", "2026-11-24T12:30:00Z"),
            _event("e-3", "c-4", "cmp-1", "2026-11-24T13:00:00Z"),
            _event("e-4", "", "cmp-1", "2026-11-24T13:00:00Z"),  # no customer
            _event("e-5", "c-2", "cmp-1", "yesterday"),  # a time that does not parse
            _event(None, "c-2", "cmp-1", "2026-11-24T13:00:00Z"),  # no event id
            "not json at all",
        ]
    )
    + "\n"
)


def s3_trigger(bucket: str, key: str, body: str) -> tuple[dict[str, Any], str]:
    """`dag_run.conf` and the DAG run id the trigger Lambda gives an S3-triggered run
    (lambda/trigger/handler.py: CreatedObject.conf, CreatedObject.run_id)."""
    sequencer = "0062E99A88DC407460"
    conf = {
        "bucket": bucket,
        "key": key,
        "size": len(body.encode()),
        "etag": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - an S3 ETag
        "sequencer": sequencer,
        "event_time": "2026-11-24T23:59:00Z",
    }
    digest = hashlib.sha256(f"{bucket}\n{key}\n{sequencer}".encode()).hexdigest()[:40]
    return conf, f"s3__{digest}"


def job_arguments(env: Deployed, job: str) -> dict[str, str]:
    return env.glue_jobs[env.manifest["jobs"][job]["glue_job_name"]]["DefaultArguments"]


def assert_succeeded(run: GlueRun) -> None:
    if run.error is not None:
        raise AssertionError(
            f"the Glue run failed: {type(run.error).__name__}: {run.error}"
        ) from run.error
    assert run.committed, "the run did not call Job.commit()"


# --- The stand-in reproduces Glue's argument handling -----------------------------------------


@pytest.fixture
def standin_utils() -> Iterator[Any]:
    with glue_process(["script.py"], [], Path("/nonexistent")):
        from awsglue import utils

        yield utils


GLUE_ARGV = [
    "script.py",
    "--JOB_ID", "j_1",
    "--JOB_RUN_ID", "jr_1",
    "--JOB_NAME", "glueflow-dev-sales_ingest",
    "--job-bookmark-option", "job-bookmark-enable",
    "--TempDir", "s3://artifacts/temp/",
    "--glueflow-inputs", "s3://raw/in/",
    "--enable-metrics", "true",
]  # fmt: skip


def test_the_old_entry_point_request_fails_as_on_glue(standin_utils) -> None:
    """Asking for JOB_RUN_ID again, as glueflow_glue/job.py did, fails as on Glue 5.x:
    awsglue/utils.py (aws-glue-libs glue-5.0 and glue-5.1) registers --JOB_RUN_ID itself and
    its reserved-name check compares with the dashes, so argparse reports the conflict."""
    with pytest.raises(argparse.ArgumentError, match="conflicting option string: --JOB_RUN_ID"):
        standin_utils.getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "JOB_RUN_ID", "glueflow-inputs"])
    with pytest.raises(RuntimeError, match="Using reserved arguments job-bookmark-option"):
        standin_utils.getResolvedOptions(GLUE_ARGV, ["job-bookmark-option"])
    with pytest.raises(RuntimeError, match="Using reserved arguments --JOB_ID"):
        standin_utils.getResolvedOptions(GLUE_ARGV, ["--JOB_ID"])


def test_standin_resolves_arguments_as_glue_does(standin_utils) -> None:
    resolved = standin_utils.getResolvedOptions(GLUE_ARGV, ["JOB_NAME", "glueflow-inputs"])

    assert resolved["glueflow_inputs"] == "s3://raw/in/"  # hyphens become underscores
    assert resolved["JOB_RUN_ID"] == "jr_1"  # Glue's own, without asking
    assert resolved["JOB_NAME"] == "glueflow-dev-sales_ingest"
    assert resolved["job_bookmark_option"] == "job-bookmark-enable"
    assert resolved["RedshiftTempDir"] == resolved["TempDir"] == "s3://artifacts/temp/"
    assert "enable_metrics" not in resolved  # unknown arguments are ignored
    assert "continuation_option" not in resolved

    bare = standin_utils.getResolvedOptions(["script.py", "--JOB_NAME", "x"], ["JOB_NAME"])
    assert bare["job_bookmark_option"] == "job-bookmark-disable"  # the default
    assert bare["JOB_RUN_ID"] is None
    legacy = ["script.py", "--continuation-option", "continuation-enabled"]
    assert standin_utils.getResolvedOptions(legacy, [])["job_bookmark_option"] == (
        "job-bookmark-enable"
    )
    with pytest.raises(standin_utils.GlueArgumentError, match="required: --glueflow-outputs"):
        standin_utils.getResolvedOptions(GLUE_ARGV, ["glueflow-outputs"])
    with pytest.raises(RuntimeError, match="Invalid option"):
        standin_utils.getResolvedOptions(
            ["script.py", "--job-bookmark-from", "a", "--job-bookmark-to", "b"], []
        )


# --- The example jobs, run as their DAGs start them -------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """S3 for boto3 (the validation report), for the whole module: a moto server, so that a
    run in a child process (a Glue 6.x job, on Spark 4) writes to the same S3."""
    # Port 0: the server binds a free port and reports it.
    server = MotoServer()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = server.start()
    yield
    server.stop()
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> LocalS3:
    """The buckets the runs of this module share, so one job's output is the next one's input."""
    return LocalS3(tmp_path_factory.mktemp("s3"))


@pytest.fixture(scope="module")
def catalog(dev_deployed: Deployed, aws) -> Iterator[None]:
    """The environment's catalog database and tables, from the templates, in a catalog with
    nothing else: moto's backends are the process's, shared with other modules' servers."""
    from moto.backends import get_backend

    get_backend("glue").reset()
    dev_deployed.install_catalog()
    yield
    get_backend("glue").reset()


@pytest.fixture(scope="module")
def sales_ingested(
    dev_deployed: Deployed, s3: LocalS3, spark: SparkSession, aws, catalog
) -> GlueRun:
    raw = job_arguments(dev_deployed, "sales_ingest")["--glueflow-inputs"]
    s3.put(f"{raw}2026-11-01/earlier.csv", EARLIER_CSV)
    key_uri = f"{raw}2026-11-24/pos drop.csv"
    s3.put(key_uri, SALES_CSV)
    bucket = key_uri[len("s3://") :].split("/", 1)[0]
    conf, airflow_run_id = s3_trigger(bucket, key_uri.split("/", 3)[3], SALES_CSV)
    return run_as_glue(
        dev_deployed,
        "sales_ingest",
        s3,
        spark,
        conf=conf,
        airflow_run_id=airflow_run_id,
        job_run_id="jr_sales_ingest_1",
    )


@pytest.fixture(scope="module")
def sales_published(sales_ingested: GlueRun, dev_deployed: Deployed) -> list[Any]:
    """The DAG's gate and publish tasks after sales_ingest's run (their code, on moto's Glue)."""
    report = sales_ingested.arguments()["--validation-report-uri"]
    return publish_run(dev_deployed, report, "jr_sales_ingest_1")


@pytest.fixture(scope="module")
def events_ingested(
    dev_deployed: Deployed, s3: LocalS3, spark: SparkSession, aws, catalog
) -> GlueRun:
    raw = job_arguments(dev_deployed, "marketing_events_ingest")["--glueflow-inputs"]
    key_uri = f"{raw}2026/11/24/clicks-0001.json"
    s3.put(key_uri, EVENTS_JSON)
    bucket = key_uri[len("s3://") :].split("/", 1)[0]
    conf, airflow_run_id = s3_trigger(bucket, key_uri.split("/", 3)[3], EVENTS_JSON)
    return run_as_glue(
        dev_deployed,
        "marketing_events_ingest",
        s3,
        spark,
        conf=conf,
        airflow_run_id=airflow_run_id,
        job_run_id="jr_events_1",
    )


def test_sales_ingest(
    sales_ingested: GlueRun, dev_deployed: Deployed, s3: LocalS3, spark: SparkSession
) -> None:
    assert_succeeded(sales_ingested)
    # Glue 6.1 runs Spark 4.1.3 ("Migrating AWS Glue for Spark jobs to AWS Glue version 6.1"):
    # so does this run, in a child process; its ANSI mode rejects rather than nulls a bad cast.
    assert dev_deployed.manifest["jobs"]["sales_ingest"]["glue"]["version"] == "6.1"
    assert sales_ingested.pyspark == "4.1.3"
    # Glue's path: the stand-in awsglue, and the library from the shipped zip, not the sources.
    assert sales_ingested.imported_from["glueflow_glue"].endswith(
        "glue_scripts/glueflow_glue.zip/glueflow_glue/__init__.py"
    )
    assert sales_ingested.imported_from["awsglue"] == str(STANDIN / "awsglue" / "__init__.py")
    arguments = sales_ingested.arguments()
    assert arguments["--glueflow-trigger"].startswith('{"bucket": ')  # rendered by the DAG
    orders_uri = arguments["--glueflow-outputs"]
    assert orders_uri.startswith("s3://")

    # Written where no reader looks: the run's own folder, and its rejected rows aside.
    assert s3.folders(orders_uri) == ["quarantine", "runs"]
    assert s3.folders(f"{orders_uri}runs/jr_sales_ingest_1/") == [
        "sale_date=2026-11-23", "sale_date=2026-11-24"
    ]  # fmt: skip
    assert published(dev_deployed, s3, spark, "sales_orders") == []  # not published yet

    report = read_report(arguments["--validation-report-uri"], "jr_sales_ingest_1")
    assert report == {
        "job": "sales_ingest",
        "run_id": "jr_sales_ingest_1",
        "read": 10,
        "invalid": 6,
    }


def test_sales_ingest_publishes_its_rows_and_quarantines_the_rest(
    sales_ingested: GlueRun,
    sales_published: list[Any],
    dev_deployed: Deployed,
    s3: LocalS3,
    spark: SparkSession,
) -> None:
    assert_succeeded(sales_ingested)
    assert [(p.table, p.rows, p.created) for p in sales_published] == [
        ("sales_orders_quarantine", 6, 1),
        ("sales_orders", 4, 2),
    ]
    rows = sorted(published(dev_deployed, s3, spark, "sales_orders"), key=lambda r: r["order_id"])
    assert [(r["order_id"], r["customer_id"]) for r in rows] == [
        ("o-1", "c-1"), ("o-10", None), ("o-2", "c-2"), ("o-3", "c-1")
    ]  # fmt: skip  # the earlier drop is not read again; an anonymous sale is valid
    assert rows[0]["amount"] == Decimal("12.50")
    assert rows[0]["sale_date"] == dt.date(2026, 11, 23)
    source = f"{sales_ingested.arguments()['--glueflow-inputs']}2026-11-24/pos drop.csv"
    source_id = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert {r["source_id"] for r in rows} == {source_id}

    # The rejected rows, kept as they were read, with their reasons.
    rejected = {
        json.loads(r["record"]).get("order_id"): r
        for r in published(dev_deployed, s3, spark, "sales_orders_quarantine")
    }
    assert sorted(rejected, key=str) == [None, "o-4", "o-5", "o-7", "o-8", "o-9"]
    assert rejected["o-5"]["reasons"] == ["bad_amount"]
    assert json.loads(rejected["o-5"]["record"])["amount"] == "abc"  # the text, not null
    assert rejected["o-4"]["source_uri"] == source
    assert rejected["o-4"]["glue_run_id"] == "jr_sales_ingest_1"


def test_sales_daily_aggregate(
    sales_published: list[Any], dev_deployed: Deployed, s3: LocalS3, spark: SparkSession
) -> None:
    """It reads the published orders table, only the days that changed since it last
    published, and its days replace sales_daily's when published."""
    run = run_as_glue(
        dev_deployed,
        "sales_daily_aggregate",
        s3,
        spark,
        conf={},
        airflow_run_id="scheduled__2026-11-25T06:00:00+00:00",
        job_run_id="jr_daily_1",
    )

    assert_succeeded(run)
    assert run.arguments()["--glueflow-trigger"] == "{}"
    daily_uri = run.arguments()["--glueflow-outputs"]
    assert s3.folders(f"{daily_uri}runs/jr_daily_1/") == [
        "sale_date=2026-11-23", "sale_date=2026-11-24"
    ]  # fmt: skip
    report_uri = run.arguments()["--validation-report-uri"]
    done = publish_run(dev_deployed, report_uri, "jr_daily_1")
    assert [(p.table, p.rows, p.created) for p in done] == [("sales_daily", 3, 2)]
    rows = sorted(
        published(dev_deployed, s3, spark, "sales_daily"),
        key=lambda r: (r["sale_date"], r["store_id"]),
    )
    assert rows == [
        {"store_id": "s-1", "revenue": Decimal("19.75"), "orders": 2, "units": 4,
         "sale_date": dt.date(2026, 11, 23)},
        {"store_id": "s-2", "revenue": Decimal("100.00"), "orders": 1, "units": 2,
         "sale_date": dt.date(2026, 11, 24)},
        {"store_id": "s-3", "revenue": Decimal("20.00"), "orders": 1, "units": 2,
         "sale_date": dt.date(2026, 11, 24)},
    ]  # fmt: skip
    # No validation: its report counts what it read, with none invalid, and lists its writes.
    report = read_report(run.arguments()["--validation-report-uri"], "jr_daily_1")
    assert report == {"job": "sales_daily_aggregate", "run_id": "jr_daily_1", "read": 4,
                      "invalid": 0}  # fmt: skip

    # Run again with no new orders: no day changed, nothing is read or written.
    again = run_as_glue(dev_deployed, "sales_daily_aggregate", s3, spark, conf={},
                        airflow_run_id="manual__again", job_run_id="jr_daily_2")  # fmt: skip
    assert_succeeded(again)
    assert publish_run(dev_deployed, report_uri, "jr_daily_2")[0].rows == 0
    assert read_report(report_uri, "jr_daily_2")["read"] == 0

    # A new file with an order on 2026-11-24 is published: only that day is recomputed.
    raw = job_arguments(dev_deployed, "sales_ingest")["--glueflow-inputs"]
    late = SALES_CSV.splitlines()[0] + "\no-11,s-3,2026-11-24 18:00:00,5.00,1,c-2\n"
    key_uri = f"{raw}2026-11-24/late drop.csv"
    s3.put(key_uri, late)
    bucket = key_uri[len("s3://") :].split("/", 1)[0]
    conf, airflow_run_id = s3_trigger(bucket, key_uri.split("/", 3)[3], late)
    ingest = run_as_glue(dev_deployed, "sales_ingest", s3, spark, conf=conf,
                         airflow_run_id=airflow_run_id, job_run_id="jr_sales_ingest_2")  # fmt: skip
    assert_succeeded(ingest)
    publish_run(dev_deployed, ingest.arguments()["--validation-report-uri"], "jr_sales_ingest_2")
    third = run_as_glue(dev_deployed, "sales_daily_aggregate", s3, spark, conf={},
                        airflow_run_id="manual__third", job_run_id="jr_daily_3")  # fmt: skip
    assert_succeeded(third)
    assert s3.folders(f"{daily_uri}runs/jr_daily_3/") == ["sale_date=2026-11-24"]
    assert read_report(report_uri, "jr_daily_3")["read"] == 3  # the day's 2 orders, and the new
    publish_run(dev_deployed, report_uri, "jr_daily_3")
    rows = {(str(r["sale_date"]), r["store_id"]): r
            for r in published(dev_deployed, s3, spark, "sales_daily")}  # fmt: skip
    assert rows[("2026-11-24", "s-3")]["revenue"] == Decimal("25.00")  # 20.00 + 5.00
    assert rows[("2026-11-23", "s-1")]["revenue"] == Decimal("19.75")  # untouched


def test_marketing_events_ingest(
    events_ingested: GlueRun, dev_deployed: Deployed, s3: LocalS3, spark: SparkSession
) -> None:
    assert_succeeded(events_ingested)
    # The DAG's gate reads this report; without it every run failed the gate.
    report = read_report(events_ingested.arguments()["--validation-report-uri"], "jr_events_1")
    assert report == {
        "job": "marketing_events_ingest",
        "run_id": "jr_events_1",
        "read": 7,
        "invalid": 4,
    }
    events_uri = events_ingested.arguments()["--glueflow-outputs"]
    assert s3.folders(f"{events_uri}runs/jr_events_1/") == [
        "event_date=2026-11-23", "event_date=2026-11-24"
    ]  # fmt: skip
    publish_run(dev_deployed, events_ingested.arguments()["--validation-report-uri"], "jr_events_1")
    rows = sorted(
        published(dev_deployed, s3, spark, "marketing_events"), key=lambda r: r["event_id"]
    )
    assert [(r["event_id"], r["customer_id"], r["campaign_id"], r["event_type"]) for r in rows] == [
        ("e-1", "c-1", "cmp-1", "click"),
        ("e-2", "c-1", "cmp-2", "click"),
        ("e-3", "c-4", "cmp-1", "click"),
    ]
    assert rows[1]["event_time"] == dt.datetime(2026, 11, 24, 12, 30)
    assert rows[1]["event_date"] == dt.date(2026, 11, 24)
    quarantined = published(dev_deployed, s3, spark, "marketing_events_quarantine")
    assert sorted(r["reasons"][0] for r in quarantined) == [
        "bad_event_time", "malformed_json", "missing_customer_id", "missing_event_id"
    ]  # fmt: skip


def test_customer_ltv(
    sales_published: list[Any],
    events_ingested: GlueRun,
    dev_deployed: Deployed,
    s3: LocalS3,
    spark: SparkSession,
) -> None:
    assert_succeeded(events_ingested)
    run = run_as_glue(
        dev_deployed,
        "customer_ltv",
        s3,
        spark,
        conf={},
        airflow_run_id="asset_triggered__2026-11-25T06:20:00+00:00",
        job_run_id="jr_ltv_1",
    )

    assert_succeeded(run)
    ltv_uri = run.arguments()["--glueflow-outputs"]
    assert s3.folders(f"{ltv_uri}runs/jr_ltv_1/") == ["as_of_date=2026-11-24"]
    publish_run(dev_deployed, run.arguments()["--validation-report-uri"], "jr_ltv_1")
    rows = {r["customer_id"]: r for r in published(dev_deployed, s3, spark, "customer_ltv")}
    assert sorted(rows) == ["c-1", "c-2", "c-4"]  # anonymous sales have no customer
    c1 = rows["c-1"]
    assert (c1["orders"], c1["revenue"], c1["campaign_events"], c1["campaigns"]) == (
        2, Decimal("112.50"), 2, 2
    )  # fmt: skip
    assert c1["projected_12m_value"] == Decimal("1368.75")  # 112.50 * 365 / 30 (2 days < 30)
    assert c1["lifetime_value"] == Decimal("1481.25")
    assert (rows["c-4"]["orders"], rows["c-4"]["lifetime_value"]) == (0, Decimal("0.00"))


# --- Validation cannot be forgotten -------------------------------------------------------

SILENT_SCRIPT = """
from glueflow_glue.job import run_glue_job


def main():
    run_glue_job(lambda spark, run: None)  # reads, writes, and reports nothing


if __name__ == "__main__":
    main()
"""


def test_a_job_with_validation_that_reports_nothing_fails(
    dev_deployed: Deployed, tmp_path: Path, spark: SparkSession, aws
) -> None:
    script = tmp_path / "silent.py"
    script.write_text(SILENT_SCRIPT)
    trigger = dev_deployed.manifest["jobs"]["sales_ingest"]["trigger"]
    run = run_as_glue(
        dev_deployed,
        "sales_ingest",
        LocalS3(tmp_path / "s3"),
        spark,
        conf={"bucket": trigger["bucket"], "key": f"{trigger['prefix']}silent.csv"},
        airflow_run_id="manual__1",
        job_run_id="jr_silent",
        script=script,
    )

    assert run.error is not None
    assert "returned nothing to report" in str(run.error)
    assert not run.committed  # no bookmark saved for a run that failed


def test_a_run_of_a_job_started_by_files_without_its_object_is_refused(
    dev_deployed: Deployed, tmp_path: Path, spark: SparkSession, aws
) -> None:
    """With the job's DefaultArguments from its template (`--glueflow-s3-trigger`), a run
    whose conf names no object fails before reading anything, saying how to name one: it
    never falls back to the job's whole input."""
    run = run_as_glue(
        dev_deployed,
        "sales_ingest",
        LocalS3(tmp_path / "s3"),
        spark,
        conf={},
        airflow_run_id="manual__2",
        job_run_id="jr_no_object",
    )

    assert run.error is not None
    assert "names no object" in str(run.error)
    assert "reprocess_prefix" in str(run.error)
    assert not run.committed


# --- A scaffolded job -----------------------------------------------------------------------

# The scaffold reads its CSV as text columns (its input's format); the author types them.
FILLED_CHECKS = """    quantity = F.expr("try_cast(quantity as int)")
    return [
        ("missing_sku", F.col("sku").isNull()),
        ("bad_quantity", quantity.isNull() | (quantity <= 0)),
    ]
"""
FILLED_TRANSFORM = """    typed = frame.select(
        "sku",
        F.expr("try_cast(quantity as int)").alias("quantity"),
        F.expr("try_cast(price as double)").alias("price"),
    )
    total = F.col("price") * F.col("quantity")
    return typed.withColumn("total", total).withColumn("day", F.to_date(F.lit("2026-11-24")))
"""
# A drop as the scaffold's trigger takes it (.csv), a missing SKU written NA (its null_values).
ORDERS_CSV = "sku,quantity,price\nsku-1,2,1.5\nsku-2,0,3.0\nNA,1,9.0\nsku-3,4,0.25\n"
TEMPLATE_COLUMNS = 'columns: {id: string, amount: "decimal(12,2)", day: date}'
FILLED_COLUMNS = "columns: {sku: string, quantity: int, price: double, total: double, day: date}"


def uncomment(text: str, *keys: str) -> str:
    """Uncomment a commented-out YAML block of the job template, by its top-level keys."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("# ") and line[2:].split(":")[0] in keys:
            inside = True
        elif not line.startswith("#   "):
            inside = False
        lines.append(line[2:] if inside and line.startswith("# ") else line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Deployed]:
    """A copy of the project's configs with a job made by `python -m configs new-job`, inputs,
    outputs and validation switched on; synthesized as `make synth` does."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(
        REPO_ROOT / "configs", root / "configs", ignore=shutil.ignore_patterns("__pycache__")
    )
    # configs validates steps against the step registry and the runtime's names, which ship
    # in the DAG folder.
    for part in (("glue_scripts", "jobs"), ("dags",)):
        shutil.copytree(
            REPO_ROOT.joinpath(*part), root.joinpath(*part),
            ignore=shutil.ignore_patterns("__pycache__"),
        )  # fmt: skip
    # The CLI writes under its own project root: run the copy's, from the copy.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "configs",
            "new-job",
            "orders_enriched",
            "--description",
            "Order lines with their totals.",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    job_file = root / "configs" / "jobs" / "orders_enriched.yaml"
    job_text = uncomment(job_file.read_text(), "inputs", "outputs", "validation")
    assert job_text.count(TEMPLATE_COLUMNS) == 1
    job_file.write_text(job_text.replace(TEMPLATE_COLUMNS, FILLED_COLUMNS))
    script = root / "glue_scripts" / "jobs" / "orders_enriched.py"
    text = script.read_text()
    assert text.count("    return []\n") == 1
    assert text.count("    return frame\n") == 1
    text = text.replace("    return []\n", FILLED_CHECKS).replace(
        "    return frame\n", FILLED_TRANSFORM
    )
    text = text.replace(
        "from pyspark.sql import ",
        "from pyspark.sql import functions as F\nfrom pyspark.sql import ",
        1,
    )
    script.write_text(text)

    platform = load_platform(
        "dev",
        root=root,
        jobs_dir=root / "configs" / "jobs",
        environments_dir=root / "configs" / "environments",
    )
    synth = synthesize(platform, root / "cdk.out")
    return script, deployed(synth, root / "deployed")


def test_scaffolded_job(
    scaffolded: tuple[Path, Deployed], tmp_path: Path, spark: SparkSession, aws
) -> None:
    script, env = scaffolded
    s3 = LocalS3(tmp_path / "s3")
    trigger = job_arguments(env, "orders_enriched")["--glueflow-s3-trigger"]
    s3.put(f"{trigger}orders.csv", ORDERS_CSV)
    bucket, _, prefix = trigger.removeprefix("s3://").partition("/")

    run = run_as_glue(
        env,
        "orders_enriched",
        s3,
        spark,
        conf={"bucket": bucket, "key": f"{prefix}orders.csv"},
        airflow_run_id="manual__2",
        job_run_id="jr_scaffold_1",
        script=script,
    )

    assert_succeeded(run)
    env.install_catalog()
    publish_run(env, run.arguments()["--validation-report-uri"], "jr_scaffold_1")
    rows = sorted((r["sku"], r["total"]) for r in published(env, s3, spark, "orders_enriched"))
    assert rows == [("sku-1", 3.0), ("sku-3", 1.0)]
    rejected = published(env, s3, spark, "orders_enriched_quarantine")
    assert sorted(r["reasons"][0] for r in rejected) == ["bad_quantity", "missing_sku"]
    report = read_report(run.arguments()["--validation-report-uri"], "jr_scaffold_1")
    assert report == {"job": "orders_enriched", "run_id": "jr_scaffold_1", "read": 4, "invalid": 2}

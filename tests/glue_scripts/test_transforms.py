"""The Glue scripts' transforms on a local SparkSession, with data the tests write."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pyspark.sql import SparkSession

from glueflow_local.spark import local_spark
from tests.conftest import REPO_ROOT
from tests.glue_scripts.conftest import job_spark_major, load_script, read_declared

CSV = """order_id,store_id,sold_at,amount,quantity,customer_id
o-1,s-1,2026-11-23 09:15:00,12.50,1, c-1
o-2,s-1,2026-11-23 10:00:00,7.25,3,
o-3,s-2,2026-11-24 08:30:00,100.00,2
o-4,s-2,not a time,5.00,1
o-5,s-2,2026-11-24 09:00:00,abc,1
,s-3,2026-11-24 09:30:00,1.00,1
o-7,s-3,2026-11-24 09:45:00,-4.00,1
o-8,s-3,2026-11-24 10:00:00,4.00,0
o-9,s-3
"""


@pytest.fixture(scope="module")
def ingest():
    return load_script("sales_ingest")


def _orders(spark: SparkSession, ingest, source: Path):
    """The drop read as sales_ingest's config declares it, with the script's own columns."""
    return read_declared(spark, "sales_ingest", [str(source)], ingest.RAW_SCHEMA)


@pytest.mark.glue_job("sales_ingest")
def test_ingest_counts_and_drops_malformed_rows(
    spark: SparkSession, ingest, tmp_path: Path
) -> None:
    source = tmp_path / "drop.csv"
    source.write_text(CSV)

    validated = ingest.validate_orders(_orders(spark, ingest, source))

    assert validated.records_read == 9
    assert validated.records_invalid == 6  # bad time, bad amount, no id, <0, 0 units, short row
    rows = validated.valid.orderBy("order_id").collect()
    assert [r.order_id for r in rows] == ["o-1", "o-2", "o-3"]
    assert rows[0].amount == Decimal("12.50")
    assert rows[0].sold_at == dt.datetime(2026, 11, 23, 9, 15)
    assert rows[1].quantity == 3
    # customer_id is optional: trimmed, empty or missing (a 5-column drop) is anonymous
    assert [r.customer_id for r in rows] == ["c-1", None, None]


@pytest.mark.glue_job("sales_ingest")
def test_ingest_partitions_by_sale_date(spark: SparkSession, ingest, tmp_path: Path) -> None:
    source = tmp_path / "drop.csv"
    source.write_text(CSV)
    validated = ingest.validate_orders(_orders(spark, ingest, source))

    out = tmp_path / "orders"
    ingest.to_partitioned(validated.valid).write.partitionBy("sale_date").parquet(str(out))

    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "sale_date=2026-11-23",
        "sale_date=2026-11-24",
    ]


@pytest.mark.glue_job("sales_ingest")
def test_an_empty_drop_reads_nothing_and_rejects_nothing(
    spark: SparkSession, ingest, tmp_path: Path
) -> None:
    source = tmp_path / "empty.csv"
    source.write_text("order_id,store_id,sold_at,amount,quantity\n")
    validated = ingest.validate_orders(_orders(spark, ingest, source))
    assert (validated.records_read, validated.records_invalid) == (0, 0)


@pytest.mark.glue_job("sales_ingest")
def test_ingest_counts_bad_values_as_invalid_under_ansi_mode(
    spark: SparkSession, ingest, tmp_path: Path
) -> None:
    """sales_ingest runs on Glue 6.1, so on Spark 4, where ANSI SQL mode is on by default: a
    plain CAST of a malformed or overflowing value fails the query instead of giving null
    (Spark SQL reference, "ANSI Compliance"). The script's try_* casts must still count such a
    row as invalid, and the run must go on."""
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"  # this session is Spark 4's
    source = tmp_path / "drop.csv"
    source.write_text(
        "order_id,store_id,sold_at,amount,quantity,customer_id\n"
        "o-1,s-1,2026-11-23 09:15:00,12.50,1,c-1\n"
        "o-2,s-1,2026-13-45 25:00:00,7.25,3,c-2\n"  # no such time
        'o-3,s-1,2026-11-23 09:15:00,"12,50",1,c-3\n'  # decimal comma
        "o-4,s-1,2026-11-23 09:15:00,1e999,1,c-4\n"  # beyond decimal(12,2)
        "o-5,s-1,2026-11-23 09:15:00,5.00,99999999999,c-5\n"  # beyond int
    )

    validated = ingest.validate_orders(_orders(spark, ingest, source))

    assert (validated.records_read, validated.records_invalid) == (5, 4)
    assert [r.order_id for r in validated.valid.collect()] == ["o-1"]


@pytest.mark.slow  # pytest in a child process that starts a Spark 4 JVM
def test_glue_6_transforms_on_spark_4(tmp_path: Path) -> None:
    """The tests of this module whose job runs on Glue 6.x, run on PySpark 4.1.3 (Glue 6.1 runs
    Spark 4.1.3: "Migrating AWS Glue for Spark jobs to AWS Glue version 6.1"); the others are
    skipped there, as the Glue 6.x ones are skipped here."""
    spark4 = local_spark("6.1")
    expected = sorted(
        name
        for name, test in globals().items()
        if name.startswith("test_")
        for mark in getattr(test, "pytestmark", [])
        if mark.name == "glue_job" and job_spark_major(mark.args[0]) == spark4.major
    )
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "-k", "not on_spark_4", f"--junitxml={report}"],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": spark4.pythonpath},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")  # noqa: S314 - pytest's own report
    passed = sorted(case.get("name") for case in cases if len(case) == 0)
    assert expected
    assert passed == expected


@pytest.mark.glue_job("sales_daily_aggregate")
def test_daily_aggregate(spark: SparkSession) -> None:
    aggregate = load_script("sales_daily_aggregate")
    orders = spark.createDataFrame(
        [
            ("o-1", "s-1", dt.date(2026, 11, 23), Decimal("12.50"), 1),
            ("o-2", "s-1", dt.date(2026, 11, 23), Decimal("7.25"), 3),
            ("o-2", "s-1", dt.date(2026, 11, 23), Decimal("0.00"), 1),  # a second line of o-2
            ("o-3", "s-2", dt.date(2026, 11, 24), Decimal("100.00"), 2),
        ],
        "order_id string, store_id string, sale_date date, amount decimal(12,2), quantity int",
    )

    rows = [r.asDict() for r in aggregate.aggregate_daily(orders).collect()]

    assert rows == [
        {"sale_date": dt.date(2026, 11, 23), "store_id": "s-1", "revenue": Decimal("19.75"),
         "orders": 2, "units": 5},
        {"sale_date": dt.date(2026, 11, 24), "store_id": "s-2", "revenue": Decimal("100.00"),
         "orders": 1, "units": 2},
    ]  # fmt: skip


@pytest.mark.glue_job("sales_daily_eur")
def test_daily_sales_in_euros(spark: SparkSession) -> None:
    eur = load_script("sales_daily_eur")
    daily = spark.createDataFrame(
        [
            ("s-1", Decimal("19.75"), 2, 5, dt.date(2026, 11, 23)),
            ("s-2", Decimal("100.00"), 1, 2, dt.date(2026, 11, 24)),
        ],
        "store_id string, revenue decimal(22,2), orders bigint, units bigint, sale_date date",
    )
    started_by = {"table_published": {"table": "fx_rates", "run_id": "scheduled__2026-11-24"}}

    rows = [
        r.asDict()
        for r in eur.in_euros(daily, eur.rate_of("0.92"), eur.fx_run_of(started_by)).collect()
    ]

    assert rows == [
        {"store_id": "s-1", "revenue_eur": Decimal("18.17"), "orders": 2, "units": 5,
         "eur_per_usd": Decimal("0.920000"), "fx_run": "scheduled__2026-11-24",
         "sale_date": dt.date(2026, 11, 23)},
        {"store_id": "s-2", "revenue_eur": Decimal("92.00"), "orders": 1, "units": 2,
         "eur_per_usd": Decimal("0.920000"), "fx_run": "scheduled__2026-11-24",
         "sale_date": dt.date(2026, 11, 24)},
    ]  # fmt: skip
    assert eur.fx_run_of({}) == "manual"  # a run started by hand
    with pytest.raises(ValueError, match="must be a positive number"):
        eur.rate_of("-1")


@pytest.mark.glue_job("marketing_events_ingest")
def test_events_validation_rejects_missing_ids_bad_times_and_bad_json(
    spark: SparkSession, tmp_path: Path
) -> None:
    events = load_script("marketing_events_ingest")
    source = tmp_path / "events.json"
    source.write_text(
        '{"event_id": "e-1", "customer_id": "c-1", "campaign_id": "k", "event_type": " Click ",'
        ' "event_time": "2026-11-23T23:30:00Z"}\n'
        '{"event_id": "e-2", "customer_id": " ", "campaign_id": "k", "event_type": "click",'
        ' "event_time": "2026-11-23T08:00:00Z"}\n'
        '{"event_id": "e-3", "customer_id": "c-1", "campaign_id": "k", "event_type": "click",'
        ' "event_time": "2026-13-45"}\n'
        '{"event_id": "e-4", "customer_id": "c-1", "campaign_id": "k",'
        ' "event_time": "2026-11-23T08:00:00Z"}\n'
        "{not json\n"
    )

    validated = events.validate_events(events.read_events(spark, [str(source)]))

    assert (validated.records_read, validated.records_invalid) == (5, 4)
    (row,) = events.to_partitioned(validated.valid).collect()
    assert (row.event_id, row.event_type) == ("e-1", "click")
    assert row.event_time == dt.datetime(2026, 11, 23, 23, 30)
    assert row.event_date == dt.date(2026, 11, 23)


@pytest.mark.glue_job("customer_ltv")
def test_customer_ltv(spark: SparkSession) -> None:
    ltv = load_script("customer_ltv")
    orders = spark.createDataFrame(
        [
            ("o-1", "c-1", Decimal("12.50"), 1, dt.date(2026, 11, 23)),
            ("o-2", "c-1", Decimal("100.00"), 2, dt.date(2026, 11, 24)),
            ("o-2", "c-1", Decimal("0.00"), 1, dt.date(2026, 11, 24)),  # a second line of o-2
            ("o-3", "c-2", Decimal("60.00"), 1, dt.date(2026, 1, 24)),  # 305 days before as-of
            ("o-4", None, Decimal("5.00"), 1, dt.date(2026, 11, 24)),  # anonymous
        ],
        ltv.ORDERS_SCHEMA,
    )
    events = spark.createDataFrame(
        [
            ("e-1", "c-1", "k-1", dt.datetime(2026, 11, 20, 8)),
            ("e-2", "c-1", "k-1", dt.datetime(2026, 11, 22, 8)),
            ("e-3", "c-3", "k-2", dt.datetime(2026, 11, 22, 9)),  # clicked, never bought
        ],
        ltv.EVENTS_SCHEMA,
    )

    rows = {r.customer_id: r.asDict() for r in ltv.customer_ltv(orders, events).collect()}

    assert sorted(rows) == ["c-1", "c-2", "c-3"]
    c1, c2, c3 = rows["c-1"], rows["c-2"], rows["c-3"]
    assert (c1["orders"], c1["revenue"], c1["avg_order_value"]) == (2, Decimal("112.50"),
                                                                    Decimal("56.25"))  # fmt: skip
    assert c1["projected_12m_value"] == Decimal("1368.75")  # 2 days observed: counted as 30
    assert c1["lifetime_value"] == Decimal("1481.25")
    assert (c1["campaign_events"], c1["campaigns"]) == (2, 1)
    assert c1["as_of_date"] == dt.date(2026, 11, 24)
    assert c2["projected_12m_value"] == Decimal("71.80")  # 60.00 * 365 / 305
    assert c2["campaign_events"] == 0
    assert (c3["orders"], c3["revenue"], c3["lifetime_value"]) == (0, Decimal("0.00"),
                                                                   Decimal("0.00"))  # fmt: skip
    assert c3["avg_order_value"] is None


@pytest.mark.glue_job("agency_spend_ingest")
def test_agency_spend_keeps_good_days_and_rejects_the_rest(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The agency's drop, read from its bucket as the job's config declares it (CSV with a
    header): typed rows kept, each malformed row counted, none dropped."""
    spend = load_script("agency_spend_ingest")
    source = tmp_path / "2026-11-23.csv"
    source.write_text(
        "campaign_id,spend_date,channel,spend,currency\n"
        "c-1,2026-11-23, Search ,120.50,eur\n"
        "c-2,2026-11-23,social,80,EUR\n"
        ",2026-11-23,search,1.00,EUR\n"
        "c-4,yesterday,search,1.00,EUR\n"
        "c-5,2026-11-23,,1.00,EUR\n"
        "c-6,2026-11-23,search,-3,EUR\n"
        "c-7,2026-11-23,search,3,euro\n"
    )

    raw = read_declared(spark, "agency_spend_ingest", [str(source)], spend.RAW_SCHEMA)
    validated = spend.validate_spend(raw)

    assert (validated.records_read, validated.records_invalid) == (7, 5)
    rows = validated.valid.orderBy("campaign_id").collect()
    assert [(r.campaign_id, r.channel, r.spend, r.currency) for r in rows] == [
        ("c-1", "search", Decimal("120.50"), "EUR"),
        ("c-2", "social", Decimal("80.00"), "EUR"),
    ]
    assert {r.spend_date for r in rows} == {dt.date(2026, 11, 23)}

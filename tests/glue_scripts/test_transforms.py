"""The Glue scripts' transforms on a local SparkSession, with data the tests write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.glue_scripts.conftest import load_script

CSV = """order_id,store_id,sold_at,amount,quantity
o-1,s-1,2026-11-23 09:15:00,12.50,1
o-2,s-1,2026-11-23 10:00:00,7.25,3
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


def test_ingest_counts_and_drops_malformed_rows(
    spark: SparkSession, ingest, tmp_path: Path
) -> None:
    source = tmp_path / "drop.csv"
    source.write_text(CSV)

    validated = ingest.validate_orders(ingest.read_orders(spark, [str(source)]))

    assert validated.records_read == 9
    assert validated.records_invalid == 6  # bad time, bad amount, no id, <0, 0 units, short row
    rows = validated.valid.orderBy("order_id").collect()
    assert [r.order_id for r in rows] == ["o-1", "o-2", "o-3"]
    assert rows[0].amount == Decimal("12.50")
    assert rows[0].sold_at == dt.datetime(2026, 11, 23, 9, 15)
    assert rows[1].quantity == 3


def test_ingest_partitions_by_sale_date(spark: SparkSession, ingest, tmp_path: Path) -> None:
    source = tmp_path / "drop.csv"
    source.write_text(CSV)
    validated = ingest.validate_orders(ingest.read_orders(spark, [str(source)]))

    out = tmp_path / "orders"
    ingest.to_partitioned(validated.valid).write.partitionBy("sale_date").parquet(str(out))

    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "sale_date=2026-11-23",
        "sale_date=2026-11-24",
    ]


def test_an_empty_drop_reads_nothing_and_rejects_nothing(
    spark: SparkSession, ingest, tmp_path: Path
) -> None:
    source = tmp_path / "empty.csv"
    source.write_text("order_id,store_id,sold_at,amount,quantity\n")
    validated = ingest.validate_orders(ingest.read_orders(spark, [str(source)]))
    assert (validated.records_read, validated.records_invalid) == (0, 0)


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

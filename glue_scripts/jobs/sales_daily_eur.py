"""sales_daily_eur: daily revenue per store in euros, from the published sales_daily table.

Treasury's deployment publishes its fx_rates table; each Table Published event starts a run
(trigger.table, docs/architecture.md, decision 20), whose conf carries the event's detail as
`table_published`. The run converts every day of sales_daily (sales_daily_aggregate's output,
read as published) at the job's `--eur-per-usd` rate, and records which treasury run started
it (`fx_run`: its Airflow run id, or "manual" for a run started by hand). Treasury's table is in
its own account, which has not shared it with this one: the event is the run's start signal,
and the rate is the job's argument until that data is shared.

A plain function on DataFrames does the work; only main() touches Glue. It checks nothing, so
it reports the daily rows it read with none invalid.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from glueflow_glue.validation import RecordCounts

RATE = DecimalType(12, 6)
MONEY = DecimalType(22, 2)
DAILY_SCHEMA = "store_id string, revenue decimal(22,2), orders bigint, units bigint, sale_date date"


def in_euros(daily: DataFrame, eur_per_usd: Decimal, fx_run: str) -> DataFrame:
    """sales_daily's rows with revenue in euros, the rate and the run it was converted for."""
    rate = F.lit(eur_per_usd).cast(RATE)
    return daily.select(
        "store_id",
        F.round(F.col("revenue") * rate, 2).cast(MONEY).alias("revenue_eur"),
        F.col("orders").cast("long").alias("orders"),
        F.col("units").cast("long").alias("units"),
        rate.alias("eur_per_usd"),
        F.lit(fx_run).alias("fx_run"),
        "sale_date",
    )


def rate_of(text: str) -> Decimal:
    """The `--eur-per-usd` argument: a positive decimal."""
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"--eur-per-usd {text!r} is not a decimal number") from None
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"--eur-per-usd {text!r} must be a positive number")
    return rate


def fx_run_of(trigger: dict[str, Any]) -> str:
    """The treasury run that started this one (the Table Published event's detail, which the
    trigger passes as the run's conf), or "manual"."""
    published = trigger.get("table_published")
    if isinstance(published, dict) and published.get("run_id"):
        return str(published["run_id"])
    return "manual"


def main() -> None:
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import read_table, write_table

    def body(spark: SparkSession, run: GlueRun) -> RecordCounts:
        daily = read_table(spark, run, 0)  # the published sales_daily table
        if daily is None:  # nothing published yet: an empty run publishes nothing
            daily = spark.createDataFrame([], DAILY_SCHEMA)
        daily = daily.cache()
        rate = rate_of(run.arguments["eur_per_usd"])
        write_table(run, in_euros(daily, rate, fx_run_of(run.trigger)))
        return RecordCounts(records_read=daily.count())

    run_glue_job(body, extra=("eur-per-usd",))


if __name__ == "__main__":
    main()

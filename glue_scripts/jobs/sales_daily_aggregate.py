"""sales_daily_aggregate: revenue, orders and units per store and day, from the orders table.

It reads the published sales_orders table (the catalog's partitions, never unpublished runs),
and only the days whose orders changed since sales_daily last published them: a new file, a
new version of one, or a file that no longer has that day. Each day it recomputes replaces
that day of sales_daily when the run is published; a day with no orders left is dropped.

A plain function on DataFrames does the work; only main() touches Glue. It checks nothing, so
it reports the order lines it read with none invalid (a job that has a validation report
location must report; see glue_scripts/README.md).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from glueflow_glue.validation import RecordCounts


def aggregate_daily(orders: DataFrame) -> DataFrame:
    """One row per (sale_date, store_id): revenue, distinct orders and units sold."""
    return (
        orders.groupBy("sale_date", "store_id")
        .agg(
            F.sum("amount").alias("revenue"),
            F.countDistinct("order_id").alias("orders"),
            F.sum("quantity").alias("units"),
        )
        .orderBy("sale_date", "store_id")
    )


def main() -> None:
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import read_changed, write_table

    def body(spark: SparkSession, run: GlueRun) -> RecordCounts:
        orders = read_changed(spark, run, 0, by="sale_date")
        if orders is None:  # no day changed: nothing to recompute
            orders = spark.createDataFrame(
                [],
                "order_id string, store_id string, amount decimal(12,2), "
                "quantity int, sale_date date",
            )
        orders = orders.cache()
        write_table(run, aggregate_daily(orders))
        return RecordCounts(records_read=orders.count())

    run_glue_job(body)


if __name__ == "__main__":
    main()

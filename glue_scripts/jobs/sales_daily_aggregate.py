"""sales_daily_aggregate: revenue, orders and units per store and day, from the orders table.

A plain function on DataFrames does the work; only main() touches Glue.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F


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
    from glueflow_glue.job import run_glue_job

    def body(spark: SparkSession, run) -> None:
        orders = spark.read.parquet(*run.inputs)
        # Rewrites only the days present in this run's input.
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        aggregate_daily(orders).write.mode("overwrite").partitionBy("sale_date").parquet(
            run.outputs[0]
        )

    run_glue_job(body)


if __name__ == "__main__":
    main()

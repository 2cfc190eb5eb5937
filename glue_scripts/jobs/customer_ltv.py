"""customer_ltv: customer lifetime value from orders and campaign clicks.

Runs after each daily sales refresh (it depends on sales_daily_aggregate) and recomputes every
customer's value from the whole orders table (sales_ingest's output) and the click events
(marketing_events_ingest's output): one snapshot per as-of date, the day of the latest order.

Per customer:

- orders, revenue, avg_order_value, first_order_date, last_order_date: from order lines with
  a customer (anonymous sales count for no one);
- projected_12m_value: revenue * 365 / observed days, the days from the first order to the
  as-of date, at least MIN_OBSERVED_DAYS so that a new customer's first purchase does not
  become a daily habit;
- lifetime_value: revenue so far plus projected_12m_value;
- campaign_events, campaigns, last_event_time: engagement from the click events. A customer
  who clicked but never bought is kept, with zero value.

The transform is a plain function on DataFrames; only main() touches Glue.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from glueflow_glue.validation import RecordCounts

MIN_OBSERVED_DAYS = 30
MONEY = DecimalType(14, 2)
# The columns read from each input (the tables may have more).
ORDERS_SCHEMA = StructType(
    [
        StructField("order_id", StringType()),
        StructField("customer_id", StringType()),
        StructField("amount", DecimalType(12, 2)),
        StructField("quantity", IntegerType()),
        StructField("sale_date", DateType()),
    ]
)
EVENTS_SCHEMA = StructType(
    [
        StructField("event_id", StringType()),
        StructField("customer_id", StringType()),
        StructField("campaign_id", StringType()),
        StructField("event_time", TimestampType()),
    ]
)


def customer_ltv(orders: DataFrame, events: DataFrame) -> DataFrame:
    """One row per customer with orders or events, as of the day of the latest order."""
    as_of = orders.agg(F.max("sale_date").alias("as_of_date"))
    bought = (
        orders.filter(F.col("customer_id").isNotNull())
        .groupBy("customer_id")
        .agg(
            F.countDistinct("order_id").alias("orders"),
            F.sum("amount").alias("revenue"),
            F.min("sale_date").alias("first_order_date"),
            F.max("sale_date").alias("last_order_date"),
        )
    )
    engaged = (
        events.filter(F.col("customer_id").isNotNull())
        .groupBy("customer_id")
        .agg(
            F.countDistinct("event_id").alias("campaign_events"),
            F.countDistinct("campaign_id").alias("campaigns"),
            F.max("event_time").alias("last_event_time"),
        )
    )
    customers = bought.join(engaged, "customer_id", "full_outer").crossJoin(as_of)
    observed_days = F.greatest(
        F.datediff("as_of_date", "first_order_date") + 1, F.lit(MIN_OBSERVED_DAYS)
    )
    revenue = F.coalesce(F.col("revenue"), F.lit(0))
    projected = F.coalesce(revenue * 365 / observed_days, F.lit(0))
    return customers.select(
        "customer_id",
        F.coalesce("orders", F.lit(0)).cast("long").alias("orders"),
        revenue.cast(MONEY).alias("revenue"),
        F.round(revenue / F.col("orders"), 2).cast(MONEY).alias("avg_order_value"),
        "first_order_date",
        "last_order_date",
        F.coalesce("campaign_events", F.lit(0)).cast("long").alias("campaign_events"),
        F.coalesce("campaigns", F.lit(0)).cast("long").alias("campaigns"),
        "last_event_time",
        F.round(projected, 2).cast(MONEY).alias("projected_12m_value"),
        F.round(revenue + projected, 2).cast(MONEY).alias("lifetime_value"),
        "as_of_date",
    )


def columns_of(table: DataFrame | None, schema: StructType, spark: SparkSession) -> DataFrame:
    """A published table's columns of `schema`; empty when nothing is published yet (None)."""
    if table is None:
        return spark.createDataFrame([], schema)
    return table.select(*[F.col(f.name).cast(f.dataType) for f in schema])


def main() -> None:
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import read_table, write_table

    def body(spark: SparkSession, run: GlueRun) -> RecordCounts:
        if len(run.inputs) != 2:
            raise ValueError(f"expected 2 inputs (orders, then events), got {run.inputs}")
        # The published tables: sales_orders, then marketing_events.
        orders = columns_of(read_table(spark, run, 0), ORDERS_SCHEMA, spark).cache()
        events = columns_of(read_table(spark, run, 1), EVENTS_SCHEMA, spark).cache()
        read = orders.count() + events.count()
        # No orders yet: no as-of date, and an empty snapshot publishes nothing. A rerun on
        # the same day replaces that day's snapshot, and only that one.
        snapshot = customer_ltv(orders, events)
        write_table(run, snapshot.limit(0) if orders.isEmpty() else snapshot)
        return RecordCounts(records_read=read)

    run_glue_job(body)


if __name__ == "__main__":
    main()

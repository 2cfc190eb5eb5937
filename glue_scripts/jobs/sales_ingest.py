"""sales_ingest: point-of-sale CSV drops to the sales_orders table, partitioned by sale date.

Rows that fail the schema are counted and kept aside with their reasons (the
sales_orders_quarantine table); main() returns the counts and the shared entry point writes
them as the run's report, which the DAG's gate reads to stop the pipeline when too many are
invalid. The run's rows are published only after the gate passes, and replace whatever the
same file (bucket and key) contributed before. An S3-triggered run reads only the object
version that started it. The transform is plain functions on DataFrames; only main() touches
Glue.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from glueflow_glue.validation import (
    INVALID_FLAG,
    RECORD,
    Validated,
    reasons,
    split_invalid,
    with_record,
)

# The CSV's columns, by position, all read as text so that a malformed value is caught here,
# not dropped. customer_id comes last and may be empty (an anonymous sale is a valid sale), so
# a drop from a till that does not send it still reads.
CSV_COLUMNS = ("order_id", "store_id", "sold_at", "amount", "quantity", "customer_id")
RAW_SCHEMA = StructType([StructField(name, StringType()) for name in CSV_COLUMNS])


def validate_orders(raw: DataFrame) -> Validated:
    """Type the columns and reject rows that do not fit the schema."""
    # try_* give null instead of failing the job on a bad value (Spark 3.5 and 4.x alike).
    typed = with_record(raw).select(
        RECORD,
        F.trim("order_id").alias("order_id"),
        F.trim("store_id").alias("store_id"),
        F.expr("try_to_timestamp(sold_at)").alias("sold_at"),
        F.expr("try_cast(amount as decimal(12,2))").alias("amount"),
        F.expr("try_cast(quantity as int)").alias("quantity"),
        F.nullif(F.trim("customer_id"), F.lit("")).alias("customer_id"),
    )
    flagged = typed.withColumn(
        INVALID_FLAG,
        reasons(
            ("missing_order_id", F.col("order_id").isNull() | (F.col("order_id") == "")),
            ("missing_store_id", F.col("store_id").isNull() | (F.col("store_id") == "")),
            ("bad_sold_at", F.col("sold_at").isNull()),
            ("bad_amount", F.col("amount").isNull() | (F.col("amount") < 0)),
            ("bad_quantity", F.col("quantity").isNull() | (F.col("quantity") <= 0)),
        ),
    )
    return split_invalid(flagged)


def to_partitioned(valid: DataFrame) -> DataFrame:
    """Valid orders with the sale date they are partitioned by."""
    return valid.withColumn("sale_date", F.to_date("sold_at"))


def main() -> None:
    from glueflow_glue.inputs import read_input
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import write_table

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        # Read as the config's input declares (CSV, header, NA and NULL as missing), with
        # the columns by position, all text: a row with too few or too many fields keeps
        # nulls, and is rejected here, not dropped.
        validated = validate_orders(read_input(spark, run, schema=RAW_SCHEMA))
        write_table(run, to_partitioned(validated.valid))  # published after the gate
        return validated  # the run's report; its rejected rows go to quarantine

    run_glue_job(body)


if __name__ == "__main__":
    main()

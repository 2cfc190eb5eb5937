"""sales_ingest: point-of-sale CSV drops to Parquet partitioned by sale date.

Rows that fail the schema are counted and left out; main() returns the counts and the shared
entry point writes them as the run's validation report, which the DAG's gate reads to stop the
pipeline when too many are invalid. An S3-triggered run reads only the object that started it.
The transform is plain functions on DataFrames; only main() touches Glue.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from glueflow_glue.validation import INVALID_FLAG, Validated, reasons, split_invalid

# The CSV's columns, by position, all read as text so that a malformed value is caught here,
# not dropped. customer_id comes last and may be empty (an anonymous sale is a valid sale), so
# a drop from a till that does not send it still reads.
CSV_COLUMNS = ("order_id", "store_id", "sold_at", "amount", "quantity", "customer_id")
RAW_SCHEMA = StructType([StructField(name, StringType()) for name in CSV_COLUMNS])


def read_orders(spark: SparkSession, uris: list[str]) -> DataFrame:
    """The CSV files as text columns; a row with too few or too many fields keeps nulls."""
    return spark.read.csv(uris, header=True, schema=RAW_SCHEMA, mode="PERMISSIVE")


def validate_orders(raw: DataFrame) -> Validated:
    """Type the columns and reject rows that do not fit the schema."""
    # try_* give null instead of failing the job on a bad value (Spark 3.5 and 4.x alike).
    typed = raw.select(
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
    from glueflow_glue.job import GlueRun, run_glue_job

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        validated = validate_orders(read_orders(spark, run.source_uris))
        (
            to_partitioned(validated.valid)
            .write.mode("append")
            .partitionBy("sale_date")
            .parquet(run.outputs[0])
        )
        return validated  # the run's validation report

    run_glue_job(body)


if __name__ == "__main__":
    main()

"""agency_spend_ingest: the marketing agency's daily campaign spend, which it drops as CSV in its
own AWS account (an external bucket, docs/architecture.md decision 19), to the campaign_spend
table, partitioned by the day of the spend.

Rows that fail the schema are counted and kept aside with their reasons
(campaign_spend_quarantine); the gate stops the pipeline when too many are invalid, and a
corrected file at the same key replaces what the one before contributed. The transform is plain
functions on DataFrames; only main() touches Glue.
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

# The agency's columns, by position, read as text so that a malformed value is caught here.
CSV_COLUMNS = ("campaign_id", "spend_date", "channel", "spend", "currency")
RAW_SCHEMA = StructType([StructField(name, StringType()) for name in CSV_COLUMNS])
# ISO 4217 codes, three capital letters.
CURRENCY = "^[A-Z]{3}$"


def validate_spend(raw: DataFrame) -> Validated:
    """Type the columns and reject rows that do not fit the schema."""
    typed = with_record(raw).select(
        RECORD,
        F.trim("campaign_id").alias("campaign_id"),
        F.to_date(F.expr("try_to_timestamp(spend_date)")).alias("spend_date"),
        F.lower(F.trim("channel")).alias("channel"),
        F.expr("try_cast(spend as decimal(12,2))").alias("spend"),
        F.upper(F.trim("currency")).alias("currency"),
    )
    flagged = typed.withColumn(
        INVALID_FLAG,
        reasons(
            ("missing_campaign_id", F.col("campaign_id").isNull() | (F.col("campaign_id") == "")),
            ("bad_spend_date", F.col("spend_date").isNull()),
            ("missing_channel", F.col("channel").isNull() | (F.col("channel") == "")),
            ("bad_spend", F.col("spend").isNull() | (F.col("spend") < 0)),
            ("bad_currency", F.col("currency").isNull() | ~F.col("currency").rlike(CURRENCY)),
        ),
    )
    return split_invalid(flagged)


def main() -> None:
    from glueflow_glue.inputs import read_input
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import write_table

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        validated = validate_spend(read_input(spark, run, schema=RAW_SCHEMA))
        write_table(run, validated.valid)  # published after the gate
        return validated  # the run's report; its rejected rows go to quarantine

    run_glue_job(body)


if __name__ == "__main__":
    main()

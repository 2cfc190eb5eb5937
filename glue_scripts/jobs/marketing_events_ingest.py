"""marketing_events_ingest: campaign click events (JSON lines) to Parquet partitioned by day.

Each line is one event: event_id, customer_id, campaign_id, event_type, event_time (ISO 8601).
Lines that are not JSON, miss an id or the event type, or have a time that does not parse are
counted and kept aside with their reasons (marketing_events_quarantine); main() returns the
counts and the shared entry point writes them as the run's report, which the DAG's gate reads.
The rows are published after the gate passes, replacing what the same file contributed before.
An S3-triggered run reads only the object version that started it. The transform is plain
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

EVENT_FIELDS = ("event_id", "customer_id", "campaign_id", "event_type", "event_time")
CORRUPT = "_corrupt_record"
# All text, so that a malformed value is caught here, not dropped; a line that is not JSON
# keeps its text in CORRUPT.
RAW_SCHEMA = StructType(
    [StructField(name, StringType()) for name in EVENT_FIELDS]
    + [StructField(CORRUPT, StringType())]
)
IDS = ("event_id", "customer_id", "campaign_id")


def read_events(spark: SparkSession, uris: list[str]) -> DataFrame:
    """The JSON lines as text columns (missing fields are null)."""
    return spark.read.json(
        uris, schema=RAW_SCHEMA, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT
    )


def _blank(column: str) -> object:
    return F.col(column).isNull() | (F.col(column) == "")


def validate_events(raw: DataFrame) -> Validated:
    """Type the columns and reject events that do not fit."""
    typed = with_record(raw).select(
        RECORD,
        *[F.trim(name).alias(name) for name in IDS],
        F.lower(F.trim("event_type")).alias("event_type"),
        # try_* gives null instead of failing the job on a bad value (Spark 3.5 and 4.x).
        F.expr("try_to_timestamp(event_time)").alias("event_time"),
        F.col(CORRUPT).isNotNull().alias("malformed"),
    )
    flagged = typed.withColumn(
        INVALID_FLAG,
        reasons(
            ("malformed_json", F.col("malformed")),
            *[(f"missing_{name}", _blank(name)) for name in IDS],
            ("missing_event_type", _blank("event_type")),
            ("bad_event_time", F.col("event_time").isNull()),
        ),
    ).drop("malformed")
    return split_invalid(flagged)


def to_partitioned(valid: DataFrame) -> DataFrame:
    """Valid events with the day (UTC) they are partitioned by."""
    return valid.withColumn("event_date", F.to_date("event_time"))


def main() -> None:
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import write_table

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        validated = validate_events(read_events(spark, run.source_uris))
        write_table(run, to_partitioned(validated.valid))  # published after the gate
        return validated  # the run's report; its rejected rows go to quarantine

    run_glue_job(body)


if __name__ == "__main__":
    main()

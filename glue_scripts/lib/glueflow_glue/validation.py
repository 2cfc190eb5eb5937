"""Counting invalid records, and writing the run's validation report where the gate reads it.

A job body returns the `Validated` from `split_invalid` (or `RecordCounts`); the shared entry
point (`glueflow_glue.job.run_glue_job`) writes the report from it with `write_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glueflow_runtime.validation_report import TableWritten, ValidationReport, report_location

INVALID_FLAG = "_glueflow_invalid_reasons"
# The row as it was read, as JSON text: what a rejected row is kept as (with_record).
RECORD = "_glueflow_record"


class Counts(Protocol):
    """What a validation report holds: records read, and how many of them were invalid."""

    @property
    def records_read(self) -> int: ...

    @property
    def records_invalid(self) -> int: ...


@dataclass(frozen=True)
class Validated:
    """Valid rows, and how many rows were read and rejected."""

    valid: DataFrame
    records_read: int
    records_invalid: int
    # The rejected rows: `record` (the row as read, JSON text) and `reasons` (array of names).
    rejected: DataFrame | None = None

    def __str__(self) -> str:
        return f"{self.records_invalid} of {self.records_read} records invalid"


@dataclass(frozen=True)
class RecordCounts:
    """Counts without the rows: for a job that checks nothing, what it read (none invalid)."""

    records_read: int
    records_invalid: int = 0

    def __str__(self) -> str:
        return f"{self.records_invalid} of {self.records_read} records invalid"


def with_record(raw: DataFrame) -> DataFrame:
    """`raw` with the RECORD column: each row as read, as JSON text, kept so that a rejected
    row can be fixed and landed again (typing turns a bad value into null)."""
    return raw.withColumn(RECORD, F.to_json(F.struct(*[F.col(c) for c in raw.columns])))


def split_invalid(flagged: DataFrame) -> Validated:
    """Split rows on the INVALID_FLAG column (an array of reasons, empty when valid).

    The rejected rows keep their RECORD (from `with_record`; without it, the row's typed
    columns as JSON) and their reasons."""
    flagged = flagged.cache()
    counts = flagged.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(F.when(F.size(F.col(INVALID_FLAG)) > 0, 1).otherwise(0)).alias("invalid"),
    ).first()
    columns = [c for c in flagged.columns if c not in (INVALID_FLAG, RECORD)]
    record = (
        F.col(RECORD)
        if RECORD in flagged.columns
        else F.to_json(F.struct(*[F.col(c) for c in columns]))
    )
    valid = flagged.filter(F.size(F.col(INVALID_FLAG)) == 0).select(*columns)
    rejected = flagged.filter(F.size(F.col(INVALID_FLAG)) > 0).select(
        record.alias("record"), F.col(INVALID_FLAG).alias("reasons")
    )
    return Validated(valid, int(counts["read"] or 0), int(counts["invalid"] or 0), rejected)


def reasons(*checks: tuple[str, object]) -> object:
    """An array column of the reason names whose condition is true for the row."""
    return F.filter(
        F.array(*[F.when(condition, F.lit(name)) for name, condition in checks]),
        lambda reason: reason.isNotNull(),
    )


def write_report(
    report_prefix: str,
    job: str,
    run_id: str,
    validated: Counts,
    tables: list[TableWritten] | None = None,
    s3: Any = None,
) -> str:
    """Write the report to `<report prefix><run id>.json`; returns its s3:// URI.

    `run_glue_job` calls this with what the job body returned and what it wrote; scripts need
    not.
    """
    import boto3

    report = ValidationReport(
        job, run_id, validated.records_read, validated.records_invalid, tables=tables or []
    )
    bucket, key = report_location(report_prefix, run_id)
    (s3 or boto3.client("s3")).put_object(
        Bucket=bucket, Key=key, Body=report.to_json().encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"

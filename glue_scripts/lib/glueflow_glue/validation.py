"""Counting invalid records, and writing the run's validation report where the gate reads it.

A job body returns the `Validated` from `split_invalid` (or `RecordCounts`); the shared entry
point (`glueflow_glue.job.run_glue_job`) writes the report from it with `write_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glueflow_runtime.validation_report import ValidationReport, report_location

INVALID_FLAG = "_glueflow_invalid_reasons"


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

    def __str__(self) -> str:
        return f"{self.records_invalid} of {self.records_read} records invalid"


@dataclass(frozen=True)
class RecordCounts:
    """Counts without the rows: for a job that checks nothing, what it read (none invalid)."""

    records_read: int
    records_invalid: int = 0

    def __str__(self) -> str:
        return f"{self.records_invalid} of {self.records_read} records invalid"


def split_invalid(flagged: DataFrame) -> Validated:
    """Split rows on the INVALID_FLAG column (an array of reasons, empty when valid)."""
    flagged = flagged.cache()
    counts = flagged.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(F.when(F.size(F.col(INVALID_FLAG)) > 0, 1).otherwise(0)).alias("invalid"),
    ).first()
    valid = flagged.filter(F.size(F.col(INVALID_FLAG)) == 0).drop(INVALID_FLAG)
    return Validated(valid, int(counts["read"] or 0), int(counts["invalid"] or 0))


def reasons(*checks: tuple[str, object]) -> object:
    """An array column of the reason names whose condition is true for the row."""
    return F.filter(
        F.array(*[F.when(condition, F.lit(name)) for name, condition in checks]),
        lambda reason: reason.isNotNull(),
    )


def write_report(report_prefix: str, job: str, run_id: str, validated: Counts) -> str:
    """Write the report to `<report prefix><run id>.json`; returns its s3:// URI.

    `run_glue_job` calls this with what the job body returned; scripts need not.
    """
    import boto3

    report = ValidationReport(job, run_id, validated.records_read, validated.records_invalid)
    bucket, key = report_location(report_prefix, run_id)
    boto3.client("s3").put_object(
        Bucket=bucket, Key=key, Body=report.to_json().encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"

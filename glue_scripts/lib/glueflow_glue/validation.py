"""Counting invalid records, and writing the run's validation report where the gate reads it.

A job body returns the `Validated` from `split_invalid` (or `RecordCounts`); the shared entry
point (`glueflow_glue.job.run_glue_job`) writes the report from it with `write_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glueflow_runtime.validation_report import (
    SAMPLE_RECORD_CHARS,
    SAMPLE_ROWS,
    RejectedRow,
    TableWritten,
    ValidationReport,
    report_location,
)

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
    # How many rows each reason rejected (a row can have several), and the first few rejected
    # rows: what the report, the gate's verdict and the alert show.
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_sample: list[RejectedRow] = field(default_factory=list)

    def __str__(self) -> str:
        by_reason = ", ".join(f"{k} {v}" for k, v in sorted(self.invalid_by_reason.items()))
        return f"{self.records_invalid} of {self.records_read} records invalid" + (
            f" ({by_reason})" if by_reason else ""
        )


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
    return raw.withColumn(RECORD, _as_json(raw.columns))


def _as_json(columns: list[str]) -> Any:
    """The columns as one JSON object, a null kept as null (to_json drops them by default:
    the `ignoreNullFields` JSON option, Spark SQL guide "JSON Files")."""
    return F.to_json(F.struct(*[F.col(c) for c in columns]), {"ignoreNullFields": "false"})


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
    record = F.col(RECORD) if RECORD in flagged.columns else _as_json(columns)
    valid = flagged.filter(F.size(F.col(INVALID_FLAG)) == 0).select(*columns)
    rejected = flagged.filter(F.size(F.col(INVALID_FLAG)) > 0).select(
        record.alias("record"), F.col(INVALID_FLAG).alias("reasons")
    )
    invalid = int(counts["invalid"] or 0)
    by_reason = (
        {
            row["reason"]: int(row["count"])
            for row in flagged.select(F.explode(INVALID_FLAG).alias("reason"))
            .groupBy("reason")
            .count()
            .collect()
        }
        if invalid
        else {}
    )
    sample = [
        RejectedRow(row["record"][:SAMPLE_RECORD_CHARS], list(row["reasons"]))
        for row in (rejected.limit(SAMPLE_ROWS).collect() if invalid else [])
    ]
    return Validated(valid, int(counts["read"] or 0), invalid, rejected, by_reason, sample)


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
        job,
        run_id,
        validated.records_read,
        validated.records_invalid,
        tables=tables or [],
        invalid_by_reason=dict(getattr(validated, "invalid_by_reason", {}) or {}),
        rejected_sample=list(getattr(validated, "rejected_sample", []) or []),
    )
    bucket, key = report_location(report_prefix, run_id)
    (s3 or boto3.client("s3")).put_object(
        Bucket=bucket, Key=key, Body=report.to_json().encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"

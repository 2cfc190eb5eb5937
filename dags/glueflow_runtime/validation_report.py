"""The run report: one definition, written by the Glue scripts, read by the gate and the
publish task.

Glue writes one report per run to `<report prefix><Glue job run id>.json` in the artifacts
bucket: the records read and rejected, and (version 2) each table the run wrote, partition by
partition, in its own folder (docs/architecture.md, decision 15). Standard library only: the
Glue scripts get this module in their --extra-py-files zip, MWAA gets it beside the factory DAG.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

REPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # a version-1 report (no tables) may still be in flight at deploy
# Under a table's location, each run's own folder: runs/<Glue run id>/.
RUNS_FOLDER = "runs/"
# The partition column of a table replaced by source object (configs/models.py).
SOURCE_PARTITION = "source_id"
# A partition parameter: a fingerprint of the input partitions its rows were computed from.
INPUT_PARAMETER = "glueflow.input"
# The rejected rows a report carries as a sample (all of them are in the quarantine table),
# each cut to this many characters: a report stays small whatever the rows are.
SAMPLE_ROWS = 5
SAMPLE_RECORD_CHARS = 500


@dataclass(frozen=True)
class RejectedRow:
    """One rejected row as it was read (JSON text, cut to SAMPLE_RECORD_CHARS) and why."""

    record: str
    reasons: list[str]

    def __str__(self) -> str:
        return f"{self.record} ({', '.join(self.reasons)})"


@dataclass(frozen=True)
class PartitionWritten:
    """One partition a run wrote: its values (strings, as the catalog holds them; None for
    Spark's default partition), its folder under the run's and its rows."""

    values: list[str | None]
    path: str
    rows: int
    # Set on the catalog partition when published: what its rows were computed from
    # (INPUT_PARAMETER, glueflow_glue.tables.read_changed).
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableWritten:
    """What a run wrote for one table, in its own folder, unpublished."""

    table: str
    location: str  # <table location>runs/<Glue run id>/
    partition_columns: list[str]
    replace: str  # "source_object" or "partitions"
    partitions: list[PartitionWritten]
    # The object the run read (uri, version_id, id): what a source_object table replaces.
    source: dict[str, Any] | None = None
    quarantine: bool = False
    # Partitions (values) the run found have no input left: dropped when it is published.
    dropped: list[list[str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableWritten:
        parts = [PartitionWritten(**p) for p in data["partitions"]]
        return cls(**{**data, "partitions": parts})


@dataclass(frozen=True)
class ValidationReport:
    """How many records a run read, and how many of those were invalid."""

    job: str
    run_id: str
    records_read: int
    records_invalid: int
    version: int = REPORT_VERSION
    tables: list[TableWritten] = field(default_factory=list)
    # Rows rejected per reason (a row may have several reasons), and the first few rejected
    # rows; absent from reports written before they were added.
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_sample: list[RejectedRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.records_read < 0 or not 0 <= self.records_invalid <= max(self.records_read, 0):
            raise ValueError(
                f"records_invalid ({self.records_invalid}) must be between 0 and records_read "
                f"({self.records_read})"
            )

    @property
    def quarantine(self) -> list[TableWritten]:
        """Where the run's rejected rows were written, one per output table."""
        return [t for t in self.tables if t.quarantine]

    def reasons_text(self) -> str:
        """`bad_amount 12, missing_id 3`: the counts per reason, most first; "" for none."""
        ranked = sorted(self.invalid_by_reason.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{reason} {count}" for reason, count in ranked)

    @property
    def invalid_ratio(self) -> float:
        """Invalid records over records read; 0.0 for an empty input."""
        return self.records_invalid / self.records_read if self.records_read else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ValidationReport:
        """Parse a report; ValueError names what is wrong with it."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"validation report is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("validation report must be a JSON object")
        if data.get("version") not in READABLE_VERSIONS:
            raise ValueError(
                f"validation report version {data.get('version')!r} is not one of "
                f"{READABLE_VERSIONS}"
            )
        fields = {"job": str, "run_id": str, "records_read": int, "records_invalid": int}
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise ValueError(f"validation report field {name!r} must be {kind.__name__}")
        try:
            tables = [TableWritten.from_dict(t) for t in data.get("tables", [])]
        except (TypeError, KeyError) as exc:
            raise ValueError(f"validation report field 'tables' is malformed: {exc}") from exc
        by_reason = data.get("invalid_by_reason") or {}
        if not isinstance(by_reason, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in by_reason.items()
        ):
            raise ValueError("validation report field 'invalid_by_reason' must map str to int")
        try:
            sample = [RejectedRow(**row) for row in data.get("rejected_sample") or []]
        except TypeError as exc:
            raise ValueError(
                f"validation report field 'rejected_sample' is malformed: {exc}"
            ) from exc
        return cls(
            **{name: data[name] for name in fields},
            tables=tables,
            invalid_by_reason=by_reason,
            rejected_sample=sample,
        )


def report_location(report_prefix: str, run_id: str) -> tuple[str, str]:
    """(bucket, key) of a run's report, from the job's `s3://bucket/prefix/` and the run id."""
    if not report_prefix.startswith("s3://"):
        raise ValueError(f"report prefix {report_prefix!r} is not an s3:// URI")
    bucket, _, prefix = report_prefix[len("s3://") :].partition("/")
    return bucket, f"{prefix}{run_id}.json"

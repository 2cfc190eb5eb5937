"""The validation report: one definition, written by the Glue scripts and read by the gate.

Glue writes one report per run to `<report prefix><Glue job run id>.json` in the artifacts
bucket. Standard library only: the Glue scripts get this module in their --extra-py-files zip,
MWAA gets it beside the factory DAG.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

REPORT_VERSION = 1


@dataclass(frozen=True)
class ValidationReport:
    """How many records a run read, and how many of those were invalid."""

    job: str
    run_id: str
    records_read: int
    records_invalid: int
    version: int = REPORT_VERSION

    def __post_init__(self) -> None:
        if self.records_read < 0 or not 0 <= self.records_invalid <= max(self.records_read, 0):
            raise ValueError(
                f"records_invalid ({self.records_invalid}) must be between 0 and records_read "
                f"({self.records_read})"
            )

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
        if data.get("version") != REPORT_VERSION:
            raise ValueError(f"validation report version {data.get('version')!r} is not 1")
        fields = {"job": str, "run_id": str, "records_read": int, "records_invalid": int}
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise ValueError(f"validation report field {name!r} must be {kind.__name__}")
        return cls(**{name: data[name] for name in fields})


def report_location(report_prefix: str, run_id: str) -> tuple[str, str]:
    """(bucket, key) of a run's report, from the job's `s3://bucket/prefix/` and the run id."""
    if not report_prefix.startswith("s3://"):
        raise ValueError(f"report prefix {report_prefix!r} is not an s3:// URI")
    bucket, _, prefix = report_prefix[len("s3://") :].partition("/")
    return bucket, f"{prefix}{run_id}.json"

"""The validation report's one format, and the gate's decision on it."""

from __future__ import annotations

import pytest

from glueflow_runtime.gate import decide
from glueflow_runtime.validation_report import ValidationReport, report_location


def test_report_round_trips() -> None:
    report = ValidationReport(
        job="sales_ingest", run_id="jr_1", records_read=200, records_invalid=7
    )
    assert ValidationReport.from_json(report.to_json()) == report
    assert report.invalid_ratio == 0.035


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ('{"version": 3}', "version 3"),
        ('{"version": 1, "job": "j", "run_id": "r", "records_read": "10", "records_invalid": 1}',
         "'records_read' must be int"),
        ('{"version": 1, "job": "j", "run_id": "r", "records_read": 1, "records_invalid": 2}',
         "between 0 and records_read"),
    ],
)  # fmt: skip
def test_a_malformed_report_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ValidationReport.from_json(text)


@pytest.mark.parametrize(
    ("read", "invalid", "threshold", "passed"),
    [
        (100, 5, 0.05, True),  # exactly at the threshold passes
        (100, 6, 0.05, False),
        (0, 0, 0.0, True),  # an empty input has nothing invalid
        (1000, 0, 0.0, True),
        (1000, 1, 0.0, False),
    ],
)
def test_gate_decision(read: int, invalid: int, threshold: float, passed: bool) -> None:
    decision = decide(ValidationReport("j", "jr_9", read, invalid), threshold)
    assert decision.passed is passed
    assert f"threshold {threshold:.4f}" in decision.message
    assert "jr_9" in decision.message


def test_the_verdict_names_each_reason_and_a_failure_quotes_rejected_rows() -> None:
    from glueflow_runtime.gate import _kept_aside
    from glueflow_runtime.validation_report import RejectedRow

    report = ValidationReport(
        "j", "jr_9", 10, 4,
        invalid_by_reason={"missing_id": 1, "bad_n": 3},
        rejected_sample=[RejectedRow('{"id":"","n":"abc"}', ["missing_id", "bad_n"])],
    )  # fmt: skip

    decision = decide(report, 0.1)

    assert not decision.passed
    assert decision.message.endswith("; by reason: bad_n 3, missing_id 1")
    assert '; first rejected: {"id":"","n":"abc"} (missing_id, bad_n)' in _kept_aside(report, "d")


def test_report_location() -> None:
    assert report_location("s3://bkt/validation/sales_ingest/", "jr_7") == (
        "bkt",
        "validation/sales_ingest/jr_7.json",
    )
    with pytest.raises(ValueError, match="not an s3:// URI"):
        report_location("bkt/validation/", "jr_7")

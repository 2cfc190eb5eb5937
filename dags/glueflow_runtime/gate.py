"""The validation gate: stop the pipeline when a run's invalid ratio exceeds its threshold."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from glueflow_runtime.ids import VERDICT_KEY
from glueflow_runtime.validation_report import ValidationReport, report_location

log = logging.getLogger(__name__)
# Rejected rows a failed verdict (and so its alert) quotes from the report's sample.
SAMPLE_IN_VERDICT = 3


@dataclass(frozen=True)
class GateDecision:
    """Whether the run may continue, and the sentence that says why."""

    passed: bool
    message: str


def decide(report: ValidationReport, max_invalid_ratio: float) -> GateDecision:
    """Pass when the invalid ratio is at most the threshold."""
    ratio = report.invalid_ratio
    reasons = report.reasons_text()
    numbers = (
        f"{report.records_invalid} of {report.records_read} records invalid "
        f"(ratio {ratio:.4f}, threshold {max_invalid_ratio:.4f})"
        + (f"; by reason: {reasons}" if reasons else "")
    )
    if ratio > max_invalid_ratio:
        return GateDecision(
            False, f"validation failed for {report.job} run {report.run_id}: {numbers}"
        )
    return GateDecision(True, f"validation passed for {report.job} run {report.run_id}: {numbers}")


def _kept_aside(report: ValidationReport, database: str) -> str:
    """Where a rejected run's output stays, unpublished, and where its rejected rows are."""
    held = [f"{t.table} at {t.location}" for t in report.tables if not t.quarantine]
    rejects = [f"{database}.{t.table} ({t.location})" for t in report.quarantine]
    sample = [str(row) for row in report.rejected_sample[:SAMPLE_IN_VERDICT]]
    return "".join(
        [
            f"; nothing was published, the run's output stays in {', '.join(held)}" if held else "",
            f"; rejected rows: {', '.join(rejects)}" if rejects else "",
            f"; first rejected: {'; '.join(sample)}" if sample else "",
        ]
    )


def read_report(
    report_prefix: str, run_id: str, aws_conn_id: str | None, region_name: str
) -> ValidationReport:
    """The run's report, from `<report prefix><Glue run id>.json`."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = report_location(report_prefix, run_id)
    text = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).read_key(key, bucket)
    return ValidationReport.from_json(text)


def run_gate(
    *,
    report_prefix: str,
    max_invalid_ratio: float,
    database: str,
    glue_task_id: str,
    aws_conn_id: str | None,
    region_name: str,
    ti: Any,
    **_: Any,
) -> str:
    """The gate task: read the run's report from S3, publish its rejected rows to the
    quarantine tables, and judge it.

    On a pass it returns the verdict (its XCom) and the run goes on. On a fail it raises
    AirflowFailException with the verdict: the task fails without retry, and the steps after
    it do not run. A report that cannot be read raises an ordinary error, which retries.
    """
    from airflow.sdk.exceptions import AirflowFailException

    run_id = ti.xcom_pull(task_ids=glue_task_id)
    report = read_report(report_prefix, run_id, aws_conn_id, region_name)
    # The rejected rows are kept whatever the verdict: published to the quarantine tables
    # first, so that the alert can name them.
    quarantined = [t for t in report.tables if t.quarantine]
    if quarantined:
        from glueflow_runtime.publish import glue_client, publish_all

        publish_all(glue_client(aws_conn_id, region_name), database, quarantined, run_id)
    decision = decide(report, max_invalid_ratio)
    if not decision.passed:
        decision = GateDecision(False, decision.message + _kept_aside(report, database))
    log.info(decision.message)
    # Also an XCom, for the failure callback when Airflow does not hand it the exception.
    ti.xcom_push(key=VERDICT_KEY, value=decision.message)
    if not decision.passed:
        raise AirflowFailException(decision.message)
    return decision.message

"""The validation gate: stop the pipeline when a run's invalid ratio exceeds its threshold."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from glueflow_runtime.ids import VERDICT_KEY
from glueflow_runtime.validation_report import ValidationReport, report_location

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    """Whether the run may continue, and the sentence that says why."""

    passed: bool
    message: str


def decide(report: ValidationReport, max_invalid_ratio: float) -> GateDecision:
    """Pass when the invalid ratio is at most the threshold."""
    ratio = report.invalid_ratio
    numbers = (
        f"{report.records_invalid} of {report.records_read} records invalid "
        f"(ratio {ratio:.4f}, threshold {max_invalid_ratio:.4f})"
    )
    if ratio > max_invalid_ratio:
        return GateDecision(
            False, f"validation failed for {report.job} run {report.run_id}: {numbers}"
        )
    return GateDecision(True, f"validation passed for {report.job} run {report.run_id}: {numbers}")


def run_gate(
    *,
    report_prefix: str,
    max_invalid_ratio: float,
    glue_task_id: str,
    aws_conn_id: str | None,
    region_name: str,
    ti: Any,
    **_: Any,
) -> str:
    """The gate task: read the run's report from S3 and judge it.

    On a pass it returns the verdict (its XCom) and the run goes on. On a fail it raises
    AirflowFailException with the verdict: the task fails without retry, and the steps after
    it do not run. A report that cannot be read raises an ordinary error, which retries.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk.exceptions import AirflowFailException

    run_id = ti.xcom_pull(task_ids=glue_task_id)
    bucket, key = report_location(report_prefix, run_id)
    text = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).read_key(key, bucket)
    decision = decide(ValidationReport.from_json(text), max_invalid_ratio)
    log.info(decision.message)
    # Also an XCom, for the failure callback when Airflow does not hand it the exception.
    ti.xcom_push(key=VERDICT_KEY, value=decision.message)
    if not decision.passed:
        raise AirflowFailException(decision.message)
    return decision.message

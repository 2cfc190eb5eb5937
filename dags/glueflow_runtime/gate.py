"""The validation gate: stop the pipeline when a run's invalid ratio exceeds its threshold."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from glueflow_runtime.ids import FAILED_TASK, PASSED_TASK
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
    """Branch callable: read the run's report from S3 and pick the next task.

    Pushes the decision's message as XCom `gate_message`, for the failure task to raise.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    run_id = ti.xcom_pull(task_ids=glue_task_id)
    bucket, key = report_location(report_prefix, run_id)
    text = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).read_key(key, bucket)
    decision = decide(ValidationReport.from_json(text), max_invalid_ratio)
    log.info(decision.message)
    ti.xcom_push(key="gate_message", value=decision.message)
    return PASSED_TASK if decision.passed else FAILED_TASK


def fail_run(*, gate_task_id: str, ti: Any, **_: Any) -> None:
    """Fail the run, without retries, with the gate's message."""
    from airflow.exceptions import AirflowFailException

    raise AirflowFailException(ti.xcom_pull(task_ids=gate_task_id, key="gate_message"))

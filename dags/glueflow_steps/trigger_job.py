"""`trigger_job`: start another job's DAG, passing conf, without waiting for it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from glueflow_steps.base import JobName, StepModel, StepType


class TriggerJobStep(StepModel):
    """Start another job's DAG, passing conf."""

    type: Literal["trigger_job"]
    job: JobName = Field(description="The job whose DAG to start.")
    conf: dict[str, Any] = Field(default_factory=dict, description="conf for that DAG run.")


class TriggerJob(StepType):
    name = "trigger_job"
    model = TriggerJobStep

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

        return TriggerDagRunOperator(
            task_id=step["name"],
            trigger_dag_id=step["job"],
            conf={
                **step["conf"],
                "triggered_by": {"dag_id": job["dag_id"], "run_id": "{{ run_id }}"},
            },
            wait_for_completion=False,
        )

    def target(self, step: dict[str, Any]) -> str:
        return step["job"]

    def starts(self, step: dict[str, Any]) -> list[tuple[str, str]]:
        return [("job", step["job"])]


STEP = TriggerJob()

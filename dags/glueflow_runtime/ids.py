"""Task ids of a factory DAG, the Airflow connection its AWS calls use, and where the Glue
task leaves its run id.

One place, because the DAG builder names the tasks and the gate, the cost monitor and the
failure callback find them by these names.
"""

from __future__ import annotations

from typing import Any

AWS_CONN_ID = "aws_default"

INPUT_SENSOR_TASK = "wait_for_input"
GLUE_TASK = "run_glue_job"
GATE_TASK = "validation_gate"
# The XCom in which the gate leaves its verdict, for the failure callback.
VERDICT_KEY = "gate_verdict"
COST_TASK = "record_cost"
# Makes the run's output visible: after the gate, before the steps and the asset event.
PUBLISH_TASK = "publish"
# Joins a job's last steps when several run side by side; it carries the asset event.
STEPS_DONE_TASK = "steps_done"
# The one task of a job whose DAG could not be built (dag_builder.broken_dag).
BROKEN_TASK = "dag_build_failed"


def glue_run_id(ti: Any, glue_task_id: str = GLUE_TASK) -> str | None:
    """The Glue run the Glue task started. The deferrable operator returns it only when the
    run succeeds; the console link it records as it starts is there for failed runs too."""
    link = ti.xcom_pull(task_ids=glue_task_id, key="glue_job_run_details") or {}
    return link.get("job_run_id") or ti.xcom_pull(task_ids=glue_task_id)

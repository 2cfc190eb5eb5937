"""Task ids of a factory DAG, and the Airflow connection its AWS calls use.

One place, because the DAG builder names the tasks and the gate and failure callback find
them by these names.
"""

from __future__ import annotations

AWS_CONN_ID = "aws_default"

INPUT_SENSOR_TASK = "wait_for_input"
GLUE_TASK = "run_glue_job"
GATE_TASK = "validation_gate"
PASSED_TASK = "validation_passed"
FAILED_TASK = "validation_failed"
COST_TASK = "record_cost"

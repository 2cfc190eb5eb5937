"""What happens when a task of a factory DAG fails."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("glueflow.failures")


def failure_record(context: dict[str, Any]) -> dict[str, Any]:
    """The facts of a failed task, as one JSON-able record."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    return {
        "event": "task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": str(context.get("exception") or ""),
    }


def on_task_failure(context: dict[str, Any]) -> None:
    """Log one structured line per failure. Never raises: an alert path must not break a run."""
    try:
        log.error(json.dumps(failure_record(context), sort_keys=True, default=str))
    except Exception:  # the callback must never fail the task further
        log.exception("glueflow failure callback could not describe the failure")

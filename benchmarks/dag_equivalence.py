"""Field-by-field equivalence of two builds of the same DAGs: glueflow's factory against
dag-factory's, or against the hand-written files.

A DAG's record has two parts, because Airflow uses a DAG in two forms:

- `scheduler`: the DAG as the DAG processor serializes it (`DagSerialization.to_dict`, which
  Airflow 3.3.1's `airflow/dag_processing/processor.py` `_serialize_dags` calls), which is
  all the scheduler and the UI know: tasks, operator classes, template fields, edges, trigger
  rules, setup/teardown flags, timetable, assets, DAG dependencies, callbacks, and the
  client defaults that task fields left out of it fall back to.
- `worker`: every public attribute of the DAG and of each task as a worker builds them,
  which adds what the serialized form leaves out but the task runs with (a Glue task's
  `deferrable`, `waiter_delay`, `stop_job_run_on_kill`; a Python task's callable).

Values become plain JSON (`plain`); callables and classes by their dotted names, and texts
longer than LONG_TEXT by digest, so a record stays small enough to pass between processes.
What differs by design is left out (NOT_COMPARED); anything else that differs makes the two
builds not equivalent, and a benchmark of them compares different DAGs.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

# Where each side's DAG folder and file are, when the DagBag loaded the DAG, and what
# dag-factory adds about itself: the YAML in doc_md (after the same description), its
# `dagfactory` tag and its generated-DAG marker. The description and doc_md come from the same
# manifest field, so the description still checks that text.
NOT_COMPARED = frozenset(
    {
        "_processor_dags_folder", "fileloc", "relative_fileloc", "last_loaded", "doc_md",
        "is_dagfactory_auto_generated",
    }
)  # fmt: skip
DAGFACTORY_TAG = "dagfactory"
LONG_TEXT = 200


class NotEquivalent(Exception):
    """The two sides built DAGs that differ: no timing of them may be reported."""


@functools.cache
def _airflow() -> SimpleNamespace:
    """Airflow's types, imported on first use: the benchmark's parent never needs them."""
    from airflow.sdk import DAG, BaseOperator
    from airflow.sdk.definitions.asset import BaseAsset
    from airflow.sdk.definitions.taskgroup import TaskGroup
    from airflow.serialization.encoders import encode_asset_like
    from airflow.timetables.base import Timetable

    return SimpleNamespace(
        DAG=DAG, BaseOperator=BaseOperator, BaseAsset=BaseAsset, TaskGroup=TaskGroup,
        Timetable=Timetable, encode_asset_like=encode_asset_like,
    )  # fmt: skip


def plain(value: Any) -> Any:
    """`value` as JSON data that compares equal exactly when the values do."""
    airflow = _airflow()
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):  # before str: Airflow's enums are str enums
        return plain(value.value)
    if isinstance(value, str):
        if len(value) <= LONG_TEXT:
            return value
        return f"<{len(value)} chars, sha256 {hashlib.sha256(value.encode()).hexdigest()[:16]}>"
    if isinstance(value, timedelta):
        return {"timedelta_seconds": value.total_seconds()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=json.dumps)
    if isinstance(value, airflow.DAG):
        return {"dag": value.dag_id}
    if isinstance(value, airflow.BaseOperator):
        return {"task": value.task_id}
    if isinstance(value, airflow.TaskGroup):
        return {"task_group": value.group_id}
    if isinstance(value, airflow.BaseAsset):
        # As the serializer writes it: name, uri, group, extra, watchers, access control.
        return {"asset": type(value).__name__, **plain(airflow.encode_asset_like(value))}
    if isinstance(value, airflow.Timetable):
        return {"timetable": _dotted(type(value)), **plain(value.serialize())}
    if isinstance(value, type) or inspect.isroutine(value):
        return _dotted(value)
    return {"object": _dotted(type(value)), **plain(_public(value))}


def _dotted(value: Any) -> str:
    return f"{value.__module__}.{value.__qualname__}"


def _public(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in getattr(obj, "__dict__", {}).items() if not k.startswith("_")}


def dag_record(dag: Any, serialized: dict[str, Any]) -> dict[str, Any]:
    """What must match between the two sides for one DAG: see the module docstring."""
    scheduler = dict(serialized["dag"])
    scheduler["tasks"] = {t["__var"]["task_id"]: t for t in scheduler.pop("tasks")}
    scheduler["client_defaults"] = serialized.get("client_defaults")
    worker = {k: v for k, v in _public(dag).items() if k not in ("task_dict", "task_group")}
    worker["tasks"] = {task.task_id: _public(task) for task in dag.tasks}
    record = {"scheduler": scheduler, "worker": worker}
    for part in record.values():
        for key in NOT_COMPARED:
            part.pop(key, None)
        part["tags"] = sorted(set(part.get("tags") or ()) - {DAGFACTORY_TAG})
    return plain(record)


def differences(glueflow: Any, other: Any, name: str, path: str = "") -> list[str]:
    """Where two records differ, one line per leaf: `dag.part.field: glueflow X, <name> Y`."""
    if isinstance(glueflow, dict) and isinstance(other, dict):
        found = []
        for key in sorted(set(glueflow) | set(other)):
            where = f"{path}.{key}" if path else key
            found += differences(glueflow.get(key), other.get(key), name, where)
        return found
    if glueflow == other:
        return []
    return [f"{path}: glueflow {json.dumps(glueflow)}, {name} {json.dumps(other)}"]


def check(
    glueflow: dict[str, Any], other: dict[str, Any], jobs: int, name: str = "dag-factory"
) -> None:
    """Raise NotEquivalent, naming the first fields that differ, unless the records of
    glueflow's DAGs and of the `name` side's match."""
    found = differences(glueflow, other, name)
    if found:
        shown = "\n  ".join(found[:20])
        raise NotEquivalent(
            f"NOT EQUIVALENT to {name} at {jobs} jobs: {len(found)} fields differ,"
            f" first ones:\n  {shown}"
        )

"""The DAG folder as MWAA gets it, rebuilt from the synthesized cloud assembly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from configs.manifest import write_manifest
from tests.synth import Synthesized


def dag_folder(target: Path, manifest: dict, shipped: Path) -> Path:
    """The shipped DAG folder copied to `target`, with another manifest in place of its own
    (for tests of manifests that the example configs do not produce)."""
    shutil.copytree(shipped, target)
    write_manifest(manifest, target / "manifest.json")
    return target


@pytest.fixture(scope="session")
def dev_dag_folder(tmp_path_factory: pytest.TempPathFactory, dev: Synthesized) -> Path:
    """`dags/` on MWAA for dev: the bucket deployment's sources for that prefix, unpacked in
    order from the synthesized assembly."""
    return dev.assembly.deployed_folder("dags/", tmp_path_factory.mktemp("mwaa") / "dags")


@pytest.fixture(scope="session")
def dev_manifest(dev_dag_folder: Path) -> dict:
    """The manifest as shipped beside the factory."""
    return json.loads((dev_dag_folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def failures_as_on_mwaa(monkeypatch: pytest.MonkeyPatch) -> None:
    """dag.test() failing a task the way the triggerer and a worker do, in two places.

    - A trigger that raises: dag.test() runs it inline and marks the task failed itself
      (airflow/sdk/definitions/dag.py, `_run_task`), so no callback runs. The triggerer
      instead calls `Trigger.submit_failure`: the task is rescheduled with next_method
      `__fail__`, raises TaskDeferralError when it resumes, and fails the usual way, callbacks
      included. Here that same function runs in place of the shortcut.
    - The callback's context: a worker puts the task's exception in it before the callbacks
      run (task_runner.main); dag.test()'s in-process runner does not. Here it does.

    Only Airflow's test harness changes; the DAG, the operators and the callback run as deployed.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk.definitions import dag as sdk_dag
    from airflow.sdk.execution_time import task_runner
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    run_inline_trigger, run_task, finalize = (
        sdk_dag._run_inline_trigger, sdk_dag._run_task, task_runner.finalize
    )  # fmt: skip
    raised: list[BaseException] = []

    # Both wrappers pass every argument through: Airflow 3.3.1 added `task` to _run_task and
    # the task instance to _run_inline_trigger, and dag.test() retries a task whose runner
    # raises forever (it logs "Task failed" and the task stays scheduled), which is how a
    # signature this fixture did not accept hung the test.
    def run_trigger(trigger: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return run_inline_trigger(trigger, *args, **kwargs)
        except Exception as exc:
            raised.append(exc)
            return None

    def run_task_then_fail_its_trigger(*, ti: Any, **kwargs: Any) -> Any:
        try:
            result = run_task(ti=ti, **kwargs)
        except Exception as exc:  # pytest.fail is a BaseException: dag.test() cannot loop on it
            pytest.fail(f"dag.test()'s task runner raised, and would retry forever: {exc!r}")
        if raised:
            with create_session() as session:
                row = session.get(TaskInstance, ti.id)
                row.state = TaskInstanceState.DEFERRED  # as it is while the triggerer runs
                trigger_id = row.trigger_id
            Trigger.submit_failure(trigger_id=trigger_id, exc=raised.pop())
        return result

    def finalize_with_exception(ti: Any, state: Any, context: Any, log: Any, error=None) -> None:
        context["exception"] = error
        finalize(ti, state, context, log, error)

    monkeypatch.setattr(sdk_dag, "_run_inline_trigger", run_trigger)
    monkeypatch.setattr(sdk_dag, "_run_task", run_task_then_fail_its_trigger)
    monkeypatch.setattr(task_runner, "finalize", finalize_with_exception)


@pytest.fixture
def airflow_db() -> None:
    """An empty Airflow database for each test that uses one, so that no test sees another's
    DAGs, runs, asset events or queued asset triggers, whatever order they run in."""
    from airflow.settings import Session
    from airflow.utils.db import resetdb

    Session.remove()  # the previous test's session, bound to the tables about to be dropped
    resetdb(skip_init=False)

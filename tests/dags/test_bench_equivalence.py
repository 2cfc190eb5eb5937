"""The DAG benchmark's equivalence check (benchmarks/dag_equivalence.py): the same DAGs pass,
and a DAG that differs in any one field that matters makes the benchmark fail; the
hand-written DAG files (benchmarks/handwritten_dags.py) build the factory's DAGs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.serialization.serialized_objects import DagSerialization

from benchmarks import handwritten_dags
from benchmarks.dag_equivalence import NotEquivalent, check, dag_record
from benchmarks.generate import write_jobs
from configs.loader import load_platform
from configs.manifest import compile_manifest
from glueflow_runtime.dag_builder import build_dag
from glueflow_runtime.ids import COST_TASK, GATE_TASK, GLUE_TASK

JOBS = 6


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Generated jobs with every part of a DAG: sensor, gate, steps, cost teardown, assets."""
    jobs_dir = write_jobs(tmp_path_factory.mktemp("jobs"), JOBS, downstream=True)
    return compile_manifest(load_platform("dev", jobs_dir=Path(jobs_dir)))


def records(manifest: dict[str, Any], change: Callable[[Any], None] | None = None) -> dict:
    """Each job's record, as the benchmark takes it, after `change` to every DAG."""
    found = {}
    for name, job in manifest["jobs"].items():
        dag = build_dag(job, manifest["environment"])
        if change is not None:
            change(dag)
        found[name] = dag_record(dag, DagSerialization.to_dict(dag))
    return found


@pytest.fixture(scope="module")
def factory(manifest: dict[str, Any]) -> dict:
    """The factory's records, built once for the module: what each test compares with (the
    records are plain data, and `check` only reads them)."""
    return records(manifest)


def test_the_same_dags_are_equivalent(manifest: dict[str, Any]) -> None:
    check(records(manifest), records(manifest), JOBS)


def _not_a_teardown(dag: Any) -> None:
    dag.get_task(COST_TASK).is_teardown = False


def _another_threshold(dag: Any) -> None:
    dag.get_task(GATE_TASK).op_kwargs["max_invalid_ratio"] = 0.5


def _another_poll(dag: Any) -> None:
    dag.get_task(GLUE_TASK).waiter_delay = 1


def _another_trigger_rule(dag: Any) -> None:
    dag.get_task(GATE_TASK).trigger_rule = "all_done"


def _another_edge(dag: Any) -> None:
    dag.get_task(GATE_TASK) >> dag.get_task(COST_TASK)


def _no_outlet(dag: Any) -> None:
    for task in dag.tasks:
        task.outlets = []


def _no_callback(dag: Any) -> None:
    dag.get_task(GLUE_TASK).on_failure_callback = []


def _more_active_runs(dag: Any) -> None:
    dag.max_active_runs = 99


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_not_a_teardown, "tasks.record_cost.is_teardown"),
        (_another_threshold, "tasks.validation_gate.op_kwargs.max_invalid_ratio"),
        (_another_poll, "worker.tasks.run_glue_job.waiter_delay"),
        (_another_trigger_rule, "tasks.validation_gate.trigger_rule"),
        (_another_edge, "tasks.validation_gate.downstream_task_ids"),
        (_no_outlet, "outlets"),
        (_no_callback, "tasks.run_glue_job.on_failure_callback"),
        (_more_active_runs, "max_active_runs"),
    ],
)
def test_any_differing_field_is_not_equivalent(
    manifest: dict[str, Any], factory: dict, change: Callable[[Any], None], field: str
) -> None:
    with pytest.raises(
        NotEquivalent, match=rf"(?s)NOT EQUIVALENT to dag-factory at {JOBS} jobs: .*\.{field}"
    ):
        check(factory, records(manifest, change), JOBS)


def test_a_missing_dag_is_not_equivalent(manifest: dict[str, Any], factory: dict) -> None:
    fewer = records(manifest)
    fewer.pop("gen_job_00001")
    with pytest.raises(NotEquivalent, match=r"gen_job_00001: glueflow .*, dag-factory null"):
        check(factory, fewer, JOBS)


@pytest.fixture(scope="module")
def handwritten(manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hand-written DAG file per job, as the benchmark writes them."""
    return handwritten_dags.write_folder(tmp_path_factory.mktemp("bench") / "dags", manifest)


def handwritten_records(folder: Path) -> dict:
    """Each file's DAG, parsed on its own as the DAG processor parses a file."""
    found = {}
    for path in sorted(folder.glob("*.py")):
        bag = BundleDagBag(dag_folder=str(path), bundle_path=folder, load_op_links=False)
        assert not bag.import_errors
        assert len(bag.dags) == 1
        for dag in bag.dags.values():
            found[dag.dag_id] = dag_record(dag, DagSerialization.to_dict(dag))
    return found


def test_the_handwritten_files_build_the_factorys_dags(factory: dict, handwritten: Path) -> None:
    check(factory, handwritten_records(handwritten), JOBS, "hand-written")


def test_a_changed_handwritten_file_is_not_equivalent(
    factory: dict, handwritten: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "dags"
    changed.mkdir()
    source = handwritten / "gen_job_00004.py"
    text = source.read_text().replace(
        "retries=0,\n    ).as_teardown()", "retries=1,\n    ).as_teardown()"
    )
    assert text != source.read_text()
    (changed / source.name).write_text(text)
    theirs = factory | handwritten_records(changed)
    with pytest.raises(NotEquivalent, match=r"gen_job_00004\..*record_cost\.retries"):
        check(factory, theirs, JOBS, "hand-written")


def test_a_handwritten_file_imports_only_what_its_dag_uses(handwritten: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    files = sorted(str(path) for path in handwritten.glob("*.py"))
    unused = subprocess.run(
        [ruff, "check", "--no-cache", "--isolated", "--select", "F401,F811", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unused.returncode == 0, unused.stdout

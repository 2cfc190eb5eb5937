"""The factory DAG file under Airflow's own loader: what the MWAA scheduler sees."""

from __future__ import annotations

import copy
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
from airflow.sdk import DAG
from airflow.utils.dag_cycle_tester import check_cycle

from tests.dags.conftest import dag_folder


@pytest.fixture(scope="module")
def dagbag(dev_dag_folder: Path) -> DagBag:
    return DagBag(dag_folder=str(dev_dag_folder))


def test_imports_without_errors_and_builds_a_dag_per_job(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    for dag in dagbag.dags.values():
        check_cycle(dag)  # raises on a cycle
    assert sorted(dagbag.dag_ids) == [
        "agency_spend_ingest",
        "customer_ltv",
        "marketing_events_ingest",
        "sales_daily_aggregate",
        "sales_daily_eur",
        "sales_ingest",
    ]


def test_only_the_factory_is_parsed(dagbag: DagBag, dev_dag_folder: Path) -> None:
    """The files the DagBag read, not where its DAGs came from: without `.airflowignore` the
    runtime modules are parsed too (each mentions both "airflow" and "dag", which is what
    safe mode looks for: airflow/utils/file.py, `might_contain_dag_via_default_heuristic`)."""
    assert [Path(f).name for f in dagbag.file_last_changed] == ["glueflow_factory.py"]


@pytest.mark.parametrize(
    ("dag_id", "tasks", "edges"),
    [
        (
            # S3-triggered, validation gate, publish, then a Redshift step
            "sales_ingest",
            {
                "run_glue_job",
                "validation_gate",  # one task: no branch markers
                "publish",
                "refresh_orders_mart",
                "record_cost",
            },
            {
                ("run_glue_job", "record_cost"),
                ("run_glue_job", "validation_gate"),
                ("validation_gate", "publish"),
                ("publish", "refresh_orders_mart"),
            },
        ),
        (
            # cron with an input: sensor first, publish, then a Redshift and an HTTP step side
            # by side (after: []), the Step Functions one after the Redshift one, joined
            # before the asset is marked
            "sales_daily_aggregate",
            {
                "wait_for_input",
                "run_glue_job",
                "publish",
                "refresh_sales_mart",
                "announce_daily_sales",
                "start_finance_close",
                "steps_done",
                "record_cost",
            },
            {
                ("wait_for_input", "run_glue_job"),
                ("run_glue_job", "publish"),
                ("publish", "refresh_sales_mart"),
                ("publish", "announce_daily_sales"),
                ("refresh_sales_mart", "start_finance_close"),
                ("start_finance_close", "steps_done"),
                ("announce_daily_sales", "steps_done"),
                ("run_glue_job", "record_cost"),
            },
        ),
    ],
)
def test_tasks_and_edges(dagbag: DagBag, dag_id: str, tasks: set, edges: set) -> None:
    dag = dagbag.dags[dag_id]
    assert set(dag.task_ids) == tasks
    found = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert found == edges


def test_a_scheduled_job_with_validation_waits_for_its_input_first(
    tmp_path: Path, dev_manifest: dict, dev_dag_folder: Path
) -> None:
    manifest = copy.deepcopy(dev_manifest)
    manifest["jobs"]["sales_daily_aggregate"]["validation"] = {
        "max_invalid_ratio": 0.1,
        "report_prefix": "s3://artifacts/validation/sales_daily_aggregate/",
    }
    folder = dag_folder(tmp_path / "dags", manifest, dev_dag_folder)
    bag = DagBag(dag_folder=str(folder))
    dag = bag.dags["sales_daily_aggregate"]
    found = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert found == {
        ("wait_for_input", "run_glue_job"),
        ("run_glue_job", "record_cost"),
        ("run_glue_job", "validation_gate"),
        ("validation_gate", "publish"),
        ("publish", "refresh_sales_mart"),
        ("publish", "announce_daily_sales"),
        ("refresh_sales_mart", "start_finance_close"),
        ("start_finance_close", "steps_done"),
        ("announce_daily_sales", "steps_done"),
    }


def test_schedules_tags_and_retries_come_from_the_manifest(dagbag: DagBag) -> None:
    ingest = dagbag.dags["sales_ingest"]
    assert ingest.schedule is None  # S3 events start it through the API
    assert set(ingest.tags) == {"sales-data@example.com", "env:dev", "trigger:s3"}
    glue = ingest.get_task("run_glue_job")
    assert glue.retries == 1
    assert glue.deferrable is True
    assert glue.stop_job_run_on_kill is True
    assert glue.job_name == "glueflow-dev-sales_ingest"
    assert glue.script_args["--glueflow-trigger"] == "{{ dag_run.conf | tojson }}"
    assert glue.script_args["--source-format"] == "csv"
    aggregate = dagbag.dags["sales_daily_aggregate"]
    assert aggregate.timetable.summary == "0 6 * * *"


def test_a_dependent_job_is_scheduled_on_its_upstream_asset(dagbag: DagBag) -> None:
    upstream = dagbag.dags["sales_daily_aggregate"]
    (last,) = [t for t in upstream.tasks if not t.downstream_task_ids and not t.is_teardown]
    assert [a.uri for a in last.outlets] == ["glueflow://dev/sales_daily_aggregate"]
    dependent = dagbag.dags["customer_ltv"]
    assert "glueflow://dev/sales_daily_aggregate" in str(dependent.timetable.asset_condition)


def test_every_dag_starts_unpaused_under_mwaas_config(airflow_db, dagbag: DagBag) -> None:
    """MWAA keeps Airflow's dags_are_paused_at_creation = True (glueflow_local/mwaa.py, from
    MWAA's mwaa/config/airflow.py), yet each factory DAG is registered unpaused: a paused one
    takes API triggers and never runs them. Registered as the DAG processor registers a DAG it
    has not seen (airflow/dag_processing/collection.py, `_create_orm_dags`)."""
    from airflow.configuration import conf
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    assert conf.getboolean("core", "dags_are_paused_at_creation") is True  # as on MWAA
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(dagbag, "dags-folder", None)

    with create_session() as session:
        paused = {dag.dag_id: dag.is_paused for dag in session.query(DagModel)}
    assert paused == dict.fromkeys(dagbag.dag_ids, False)


def test_a_worker_builds_only_the_dag_it_runs(
    dev_dag_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Airflow sets when a worker parses the file to run one task of one DAG.
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sales_ingest")
    module = runpy.run_path(str(dev_dag_folder / "glueflow_factory.py"))
    built = sorted(name for name, value in module.items() if isinstance(value, DAG))
    assert built == ["sales_ingest"]


@pytest.mark.slow  # not in `make test-fast`: a fresh interpreter that imports Airflow (3 s)
def test_the_factory_reads_only_the_local_manifest(dev_dag_folder: Path) -> None:
    """Importing the DAG file works with no network and with configs/ unimportable."""
    code = (
        "import socket, sys, runpy\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network used at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "sys.modules['configs'] = None\n"
        f"sys.path.insert(0, {str(dev_dag_folder)!r})\n"
        f"m = runpy.run_path({str(dev_dag_folder / 'glueflow_factory.py')!r})\n"
        "print(sorted(k for k, v in m.items() if type(v).__name__ == 'DAG'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'sales_ingest'" in result.stdout
    assert "network used at import" not in result.stderr


def test_steps_fan_out_and_in_as_their_after_says(
    dev_dag_folder: Path, dev_manifest: dict, tmp_path: Path
) -> None:
    """Two steps after the publish run side by side, a third after both; its end carries the
    asset event. Steps with no `after` keep the list's order (the other tests' DAGs), and two
    last steps are joined, so the event waits for both."""
    from configs.manifest import downstream_graph
    from configs.models import JobConfig
    from tests.conftest import valid_job

    def step(name: str, after: list[str] | None = None) -> dict:
        found = {"type": "trigger_job", "name": name, "job": "customer_ltv"}
        return found if after is None else {**found, "after": after}

    def built(steps: list[dict]) -> DAG:
        manifest = copy.deepcopy(dev_manifest)
        job = JobConfig.model_validate(valid_job("sales_ingest", downstream=steps))
        manifest["jobs"]["sales_ingest"]["downstream"] = downstream_graph(job)
        folder = dag_folder(tmp_path / str(len(list(tmp_path.iterdir()))), manifest,
                            dev_dag_folder)  # fmt: skip
        bag = DagBag(dag_folder=str(folder))
        assert bag.import_errors == {}
        return bag.dags["sales_ingest"]

    def edges(dag: DAG) -> set:
        return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids
                if t.task_id not in ("run_glue_job", "validation_gate")}  # fmt: skip

    def with_event(dag: DAG) -> list[str]:
        return [t.task_id for t in dag.tasks if t.outlets]

    fan = built([step("dbt", []), step("tableau", []), step("notify", ["dbt", "tableau"])])
    assert edges(fan) == {
        ("publish", "dbt"), ("publish", "tableau"), ("dbt", "notify"), ("tableau", "notify"),
    }  # fmt: skip
    assert with_event(fan) == ["notify"]

    two_ends = built([step("dbt"), step("tableau", [])])
    assert edges(two_ends) == {
        ("publish", "dbt"), ("publish", "tableau"), ("dbt", "steps_done"),
        ("tableau", "steps_done"),
    }  # fmt: skip
    assert with_event(two_ends) == ["steps_done"]

    in_order = built([step("a"), step("b"), step("c")])
    assert edges(in_order) == {("publish", "a"), ("a", "b"), ("b", "c")}
    assert with_event(in_order) == ["c"]

"""The trigger handler against a real Airflow 3.3.1 deployment on loopback, with the factory DAGs.

Each test gets its own Airflow: a home with the shipped DAG folder (factory, runtime package,
manifest) and its own SQLite database, and the processes MWAA's scheduler and webserver
containers run (images/airflow/3.3.1/python/mwaa/execute_command.py in
aws/amazon-mwaa-docker-images): `airflow api-server`, `airflow scheduler` and `airflow
dag-processor`, all with MWAA's Airflow configuration (glueflow_local/mwaa.py). Not started:
the triggerer, which only resumes deferred tasks, and no test here gets that far.

The executor is MWAA's LocalExecutor option: tasks run as processes of the scheduler, with
no Celery, SQS or other service. Airflow 3.3.1 has no SequentialExecutor, and runs
LocalExecutor on SQLite itself in `airflow standalone`
(airflow/cli/commands/standalone_command.py), so no PostgreSQL is needed.

Auth is SimpleAuthManager with every user an admin, as MWAA without IAM sign-in sets it: on
MWAA, InvokeRestApi authenticates the call instead.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from glueflow_local.airflow import Airflow, serialized, start_deployment
from glueflow_local.airflow import airflow_env as _airflow_env
from glueflow_local.airflow import get as _get
from glueflow_local.airflow import post as _post
from tests.dags import conftest as dags_conftest
from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_routing import event

# Slow, not in `make test-fast`: starts Airflow's scheduler, DAG processor and API server.
pytestmark = pytest.mark.slow

handler = trigger_module("handler")
routing = trigger_module("routing")
transport = trigger_module("transport")

# The DAG folder as MWAA gets it and its manifest (fixtures of tests/dags, used here too).
dev_dag_folder = dags_conftest.dev_dag_folder
dev_manifest = dags_conftest.dev_manifest

RAW = "glueflow-dev-raw-111111111111"
STARTUP_S = 180  # bound on starting the three processes on a busy 2-core machine
SCHEDULING_S = 90  # bound on the scheduler acting on what a test did


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory, dev_dag_folder: Path) -> Path:
    """An Airflow home as MWAA's migrate-db step leaves it, made once for the module: the
    shipped DAG folder, a migrated database with the DAGs serialized, and the airflow.cfg
    Airflow writes on first use (its JWT secret signs task tokens for every process)."""
    home = tmp_path_factory.mktemp("airflow-template")
    shutil.copytree(dev_dag_folder, home / "dags")
    # serialized(): MWAA's migrate-db step, then SQLite's write-ahead log, as the local run
    # has it (without it a long reader stalls the API server's writes for up to 60 s), and
    # the DAGs serialized.
    serialized(home, _airflow_env(home))
    return home


@pytest.fixture
def airflow(migrated_home: Path, tmp_path: Path, dev_manifest: dict) -> Iterator[Airflow]:
    """A fresh Airflow for one test: a copy of the migrated home, and the API server, scheduler
    and DAG processor running on it, each DAG of the manifest parsed by that processor."""
    home = tmp_path / "airflow"
    shutil.copytree(migrated_home, home)
    # No AWS here: the tasks' AWS calls go to a port this fixture holds without listening,
    # and are refused at once (never to AWS with the dummy credentials).
    with socket.socket() as no_aws:
        no_aws.bind(("127.0.0.1", 0))
        deployment = start_deployment(
            home,
            {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{no_aws.getsockname()[1]}"},
            STARTUP_S,
            components=("scheduler", "dag-processor"),
            parsed=list(dev_manifest["jobs"]),
        )
        try:
            yield deployment
        finally:
            deployment.stop()


def _once_started(url: str) -> Callable[[], dict | None]:
    """The DAG run at `url`, once it has left `queued`."""

    def check() -> dict | None:
        run = _get(url)
        return run if run["state"] != "queued" else None

    return check


def _in_raw(delivered: dict) -> dict:
    delivered["detail"]["bucket"]["name"] = RAW
    delivered["resources"] = [f"arn:aws:s3:::{RAW}"]
    return delivered


def _trigger(airflow: Airflow, manifest: dict) -> Any:
    return handler.Trigger(
        routing.RoutingTable.from_manifest(manifest), transport.HttpTransport(airflow.base)
    )


def test_events_start_runs_with_their_object_and_redelivery_starts_none(
    airflow: Airflow, dev_manifest: dict
) -> None:
    """Each object starts one run of the DAG its prefix routes to, with the object as conf;
    EventBridge's redeliveries start none (the run id is the object's, Airflow refuses it
    twice: airflow/api_fastapi/core_api/routes/public/dag_run.py, `trigger_dag_run`)."""
    trigger = _trigger(airflow, dev_manifest)
    first = _in_raw(event("sales/incoming/2026-11-24%20store%2042.csv", sequencer="0065A1B2C3"))
    second = _in_raw(event("marketing/events/clicks.json", sequencer="0065A1B2C4"))

    outcomes = [trigger.handle(e, lambda: 60) for e in (first, second, first, second, first)]

    assert [o["triggered"] for o in outcomes] == [
        ["sales_ingest"], ["marketing_events_ingest"], [], [], []
    ]  # fmt: skip
    assert sum(len(o["already_triggered"]) for o in outcomes) == 3  # deduplicated
    runs = _get(f"{airflow.base}/dags/sales_ingest/dagRuns")
    assert runs["total_entries"] == 1
    (run,) = runs["dag_runs"]
    (obj,) = handler.parse_event(first)
    assert run["dag_run_id"] == obj.run_id()
    assert run["logical_date"] is None
    assert run["conf"] == {
        "bucket": RAW,
        "key": "sales/incoming/2026-11-24 store 42.csv",
        "size": 5,
        "version_id": None,
        "etag": "b1946ac9",
        "sequencer": "0065A1B2C3",
        "event_time": "2026-11-24T06:00:00Z",
    }
    assert _get(f"{airflow.base}/dags/marketing_events_ingest/dagRuns")["total_entries"] == 1

    # A manual run of a job started by files that names no object is refused before it
    # exists: Airflow validates the conf against the DAG's params and answers 400
    # (dag_run.py, `trigger_dag_run`: ParamValidationError -> HTTP_400_BAD_REQUEST).
    manual = transport.HttpTransport(airflow.base).post(
        "/dags/sales_ingest/dagRuns", {"logical_date": None, "conf": {}}, 10
    )
    assert manual.status == 400
    assert "Invalid input for param key" in json.dumps(manual.body)
    assert _get(f"{airflow.base}/dags/sales_ingest/dagRuns")["total_entries"] == 1


def test_a_triggered_run_is_started_by_the_scheduler(airflow: Airflow, dev_manifest: dict) -> None:
    """The run the handler triggers does not stay queued: the scheduler starts it.

    The API accepts a run of a paused DAG (200) and the scheduler never starts it
    (airflow/jobs/scheduler_job_runner.py, `_start_queued_dagruns`, starts what
    airflow/models/dagrun.py, `DagRun.get_queued_dag_runs_to_set_running`, selects: runs of
    unpaused DAGs), and MWAA keeps Airflow's dags_are_paused_at_creation = True
    (images/airflow/3.3.1/python/mwaa/config/airflow.py sets nothing else). Its tasks may then
    fail, with no AWS here; the run has left `queued` either way."""
    delivered = _in_raw(event("sales/incoming/2026-11-25.csv", sequencer="0065A1B2D0"))
    (obj,) = handler.parse_event(delivered)
    url = f"{airflow.base}/dags/sales_ingest/dagRuns/{obj.run_id()}"

    outcome = _trigger(airflow, dev_manifest).handle(delivered, lambda: 60)

    assert outcome["triggered"] == ["sales_ingest"]  # created queued, for the scheduler
    paused = _get(f"{airflow.base}/dags/sales_ingest")["is_paused"]
    run = airflow.wait_for(
        f"the scheduler starting run {obj.run_id()} of sales_ingest (is_paused: {paused})",
        _once_started(url),
        SCHEDULING_S,
    )
    assert run["state"] in ("running", "failed")
    assert run["start_date"] is not None


def test_the_upstream_asset_event_runs_the_dependent_job(airflow: Airflow) -> None:
    """An event of sales_daily_aggregate's asset makes the scheduler create a customer_ltv run
    and start it.

    The event is created through the API (POST /assets/events), which calls the same
    `AssetManager.register_asset_change` (airflow/assets/manager.py) the execution API calls
    when the upstream's last task succeeds (airflow/api_fastapi/execution_api/routes/
    task_instances.py, `ti_update_state` -> TaskInstance.register_asset_changes_in_db). The
    upstream's tasks are not run: they need Glue, S3 and Redshift. That its last task emits
    this asset is tested with moto in tests/dags/test_dag_runs.py. From the event on,
    everything is Airflow's: the manager queues only unpaused consumers, and the scheduler
    turns the queue into an asset-triggered run (airflow/jobs/scheduler_job_runner.py,
    `_create_dag_runs_asset_triggered`) and starts it (`_start_queued_dagruns`)."""
    uri = "glueflow://dev/sales_daily_aggregate"
    (asset,) = _get(f"{airflow.base}/assets?uri_pattern={urllib.parse.quote(uri)}")["assets"]
    assert [d["dag_id"] for d in asset["scheduled_dags"]] == ["customer_ltv"]
    runs_url = f"{airflow.base}/dags/customer_ltv/dagRuns"
    assert _get(runs_url)["total_entries"] == 0

    emitted = _post(f"{airflow.base}/assets/events", {"asset_id": asset["id"], "extra": {}})

    paused = _get(f"{airflow.base}/dags/customer_ltv")["is_paused"]
    created = airflow.wait_for(
        f"the scheduler creating a customer_ltv run from the asset event (is_paused: {paused})",
        lambda: _get(runs_url)["dag_runs"],
        SCHEDULING_S,
    )
    (run,) = created
    assert run["run_type"] == "asset_triggered"
    run_url = f"{runs_url}/{run['dag_run_id']}"
    upstream = airflow.wait_for(
        f"the upstream asset events of {run['dag_run_id']}",
        lambda: _get(f"{run_url}/upstreamAssetEvents")["asset_events"],
        SCHEDULING_S,
    )
    assert [e["id"] for e in upstream] == [emitted["id"]]
    started = airflow.wait_for(
        f"the scheduler starting {run['dag_run_id']} of customer_ltv",
        _once_started(run_url),
        SCHEDULING_S,
    )
    assert started["state"] in ("running", "failed")


def test_an_unknown_dag_is_refused_with_airflows_reason(airflow: Airflow) -> None:
    """A DAG the deployment does not have: 404, not retried, Airflow's reason kept."""
    answer = transport.HttpTransport(airflow.base).post(
        "/dags/no_such_job/dagRuns", {"dag_run_id": "x", "logical_date": None, "conf": {}}, 10
    )
    assert answer.status == 404
    assert not answer.retryable
    assert "no_such_job" in json.dumps(answer.body)


def test_nothing_answers_on_a_closed_port_and_that_is_retryable() -> None:
    """A refused connection is status 0 and retryable (Lambda retries the event)."""
    # A socket bound and not listening: connections to it are refused, and no other process
    # can take the port while it is held.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        answer = transport.HttpTransport(f"http://127.0.0.1:{port}/api/v2").post(
            "/dags/x/dagRuns", {}, 2
        )
    assert answer.status == 0
    assert answer.retryable

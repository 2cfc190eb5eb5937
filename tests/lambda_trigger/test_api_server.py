"""The trigger handler against a real Airflow 3.0.6 API server on loopback, with the factory DAGs.

The server runs from a DAG folder laid out as MWAA's (factory, runtime package, manifest), its
DAGs serialized into a fresh SQLite database. Auth is off (SimpleAuthManager, all admins): on
MWAA, InvokeRestApi authenticates the call instead.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from configs.loader import load_platform
from configs.manifest import compile_manifest
from tests.dags.conftest import dag_folder
from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_routing import event

handler = trigger_module("handler")
routing = trigger_module("routing")
transport = trigger_module("transport")

RAW = "glueflow-dev-raw-111111111111"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback http
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    home = tmp_path_factory.mktemp("airflow-api")
    manifest = compile_manifest(load_platform("dev"))
    dags = dag_folder(home / "dags", manifest)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "PYTHONPATH": str(dags),  # as on MWAA, the DAG folder is importable
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    airflow = [sys.executable, "-m", "airflow"]
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([*airflow, *command], env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    log = (home / "api-server.log").open("w")
    server = subprocess.Popen(
        [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v2"
    deadline = time.monotonic() + 120
    while True:  # poll with a bound: the server is up when its health endpoint answers
        try:
            _get(f"{base}/monitor/health")
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError((home / "api-server.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    yield base, manifest
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_events_start_runs_with_their_object_and_redelivery_starts_none(api_server) -> None:
    base, manifest = api_server
    trigger = handler.Trigger(
        routing.RoutingTable.from_manifest(manifest), transport.HttpTransport(base)
    )
    first = event("sales/incoming/2026-11-24%20store%2042.csv", sequencer="0065A1B2C3")
    second = event("marketing/events/clicks.json", sequencer="0065A1B2C4")
    for delivered in (first, second):
        delivered["detail"]["bucket"]["name"] = RAW
        delivered["resources"] = [f"arn:aws:s3:::{RAW}"]

    outcomes = [trigger.handle(e, lambda: 60) for e in (first, second, first, second, first)]

    assert [o["triggered"] for o in outcomes] == [
        ["sales_ingest"], ["marketing_events_ingest"], [], [], []
    ]  # fmt: skip
    assert sum(len(o["already_triggered"]) for o in outcomes) == 3  # deduplicated
    runs = _get(f"{base}/dags/sales_ingest/dagRuns")
    assert runs["total_entries"] == 1
    (run,) = runs["dag_runs"]
    (obj,) = handler.parse_event(first)
    assert run["dag_run_id"] == obj.run_id()
    assert run["logical_date"] is None
    assert run["conf"] == {
        "bucket": RAW,
        "key": "sales/incoming/2026-11-24 store 42.csv",
        "size": 5,
        "etag": "b1946ac9",
        "sequencer": "0065A1B2C3",
        "event_time": "2026-11-24T06:00:00Z",
    }
    assert _get(f"{base}/dags/marketing_events_ingest/dagRuns")["total_entries"] == 1


def test_an_unknown_dag_is_refused_with_airflows_reason(api_server) -> None:
    base, _ = api_server
    answer = transport.HttpTransport(base).post(
        "/dags/no_such_job/dagRuns", {"dag_run_id": "x", "logical_date": None, "conf": {}}, 10
    )
    assert answer.status == 404
    assert not answer.retryable
    assert "no_such_job" in json.dumps(answer.body)


def test_nothing_answers_on_a_closed_port_and_that_is_retryable(tmp_path: Path) -> None:
    answer = transport.HttpTransport(f"http://127.0.0.1:{_free_port()}/api/v2").post(
        "/dags/x/dagRuns", {}, 2
    )
    assert answer.status == 0
    assert answer.retryable

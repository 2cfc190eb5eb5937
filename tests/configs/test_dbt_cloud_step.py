"""The `dbt_cloud` step type (dags/glueflow_steps/dbt_cloud.py): its config, the connection it
names and the egress it needs, its operator, and its local stand-in (glueflow_local/
dbt_cloud.py) driven by the provider's own hook, operator and trigger over TLS."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import Where, step_type
from glueflow_local import dbt_cloud as standin_module
from stacks.network_stack import endpoint_services
from stacks.orchestration_stack import step_connections
from tests.conftest import Project, valid_job

DBT = step_type("dbt_cloud")
HERE = Where("aws", "eu-west-1", "111111111111")
CONN = "dbt_prod"


def step(**fields: Any) -> dict[str, Any]:
    return {"type": "dbt_cloud", "name": "transform", "connection": CONN, "job_id": 42, **fields}


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def entry(**fields: Any) -> dict[str, Any]:
    """The step as the manifest gives it to the factory."""
    return job_with(step(**fields)).downstream[0].model_dump()


def problems_of(project: Project, *steps: dict[str, Any]) -> dict[str, str]:
    project.write_job("ingest", valid_job("ingest", downstream=list(steps)))
    return {p.field: p.message for p in validate_all(root=project.root, **project.paths())}


# --- config ------------------------------------------------------------------------------


def test_a_step_names_a_job_by_id_through_a_connection_and_nothing_else() -> None:
    job_with(step(), step(name="other", account_id=7, timeout_minutes=7 * 24 * 60,
                          steps_override=["dbt build --select orders+", "dbt test"]))  # fmt: skip
    refused = {
        "job_id": [step(job_id=0), step(job_id="42"), step(job_id=True), step(job_id=None)],
        "connection": [step(connection="DBT Prod"), step(connection="")],
        "account_id": [step(account_id=0)],
        "steps_override": [
            step(steps_override=[]),
            step(steps_override=["run --select x"]),
            step(steps_override=["dbt build\ndbt test"]),
        ],
        "timeout_minutes": [step(timeout_minutes=0), step(timeout_minutes=7 * 24 * 60 + 1)],
    }
    for field, bad_steps in refused.items():
        for bad in bad_steps:
            with pytest.raises(ValidationError) as error:
                job_with(bad)
            assert field in str(error.value), (field, bad)
    missing = {k: v for k, v in step().items() if k != "job_id"}
    with pytest.raises(ValidationError, match="job_id"):
        job_with(missing)


def test_dbt_cloud_is_on_the_internet_so_a_step_needs_egress(valid_project: Project) -> None:
    """dbt Cloud is SaaS: the environment's network has no route to it unless `network.egress`,
    so validation refuses the step rather than a run failing on AWS."""
    message = problems_of(valid_project, step())["downstream[0].type"]
    assert "calls dbt Cloud (the host of connection 'dbt_prod'" in message
    assert "has no route out of its VPC" in message
    import yaml

    env = yaml.safe_load((valid_project.environments_dir / "dev.yaml").read_text())
    env["network"]["egress"] = True
    valid_project.write_env("dev", env)
    assert not [f for f in problems_of(valid_project, step()) if f.startswith("downstream")]


def test_the_connection_is_a_dbt_cloud_secret_of_its_own(valid_project: Project) -> None:
    """One secret per connection, of one kind: an http step may not reuse it."""
    http = {"type": "http", "name": "notify", "connection": CONN, "internet": False}
    found = problems_of(valid_project, step(), http)
    assert "as a dbt_cloud connection" in found["downstream[1].connection"]
    assert DBT.connections(job_with(step()).downstream[0]) == {"connection": CONN}
    assert step_connections({"a": job_with(step(), step(name="again"))}) == [CONN]


def test_the_type_needs_no_aws_grant_nor_endpoint_and_ships_its_provider() -> None:
    steps = list(job_with(step()).downstream)
    assert DBT.grants(steps, HERE) == []
    assert endpoint_services({"a": job_with(step())}) == endpoint_services({"a": job_with()})
    assert DBT.packages == ("apache-airflow-providers-dbt-cloud",)
    assert DBT.target(entry()) == "job 42"
    assert DBT.target(entry(account_id=7)) == "job 42 in account 7"


# --- operator ----------------------------------------------------------------------------


def test_the_operator_is_the_providers_deferrable_and_bounded_by_the_steps_timeout() -> None:
    from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator

    from glueflow_runtime.dag_builder import POLL_S

    built = entry(account_id=7, steps_override=["dbt build --select orders+"], timeout_minutes=30)
    operator = DBT.operator(built, {"dag_id": "crm_sync"}, "eu-west-1")
    assert isinstance(operator, DbtCloudRunJobOperator)
    assert operator.task_id == "transform"
    assert (operator.dbt_cloud_conn_id, operator.job_id, operator.account_id) == (CONN, 42, 7)
    assert operator.steps_override == ["dbt build --select orders+"]
    assert operator.deferrable
    assert operator.wait_for_termination
    assert operator.check_interval == POLL_S
    # the deadline cancels the run; the trigger's own wait ends a poll after it
    assert operator.execution_timeout == timedelta(minutes=30)
    assert operator.timeout == 30 * 60 + POLL_S
    assert operator.hook_params == {"timeout_seconds": 60}
    reason = "Glueflow job crm_sync, step transform, Airflow run {{ run_id }}"
    assert operator.trigger_reason == reason
    assert "trigger_reason" in operator.template_fields  # the run id is rendered at run time
    default = DBT.operator(entry(), {"dag_id": "crm_sync"}, "eu-west-1")
    assert default.account_id is None  # the connection's login
    assert default.steps_override is None


def test_the_dag_serializes_with_the_step_and_keeps_its_run_link() -> None:
    """The scheduler and UI read the serialized DAG: the task keeps the provider's "Monitor
    Job Run" link, which reads XCom job_run_url."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("crm_sync", schedule=None) as dag:
        DBT.operator(entry(), {"dag_id": "crm_sync"}, "eu-west-1")
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("transform")
    assert task.task_type == "DbtCloudRunJobNamingRun"
    assert [link.name for link in task.operator_extra_links] == ["Monitor Job Run"]


def test_a_failure_names_the_job_the_run_and_its_url_first() -> None:
    from glueflow_steps.dbt_cloud import failure

    url = "https://cloud.getdbt.com/#/accounts/1/projects/2/runs/3/"
    said = failure(42, 3, "Job run 3 has failed.", url)
    assert said == f"dbt Cloud job 42, run 3 ({url}): Job run 3 has failed."
    assert failure(42, 3, "boom", None) == "dbt Cloud job 42, run 3 (no run URL recorded): boom"


# --- the stand-in, called by the provider ------------------------------------------------


class Local:
    """What a stand-in is given of the local run (glueflow_local.cloud.LocalCloud)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.process_env = workdir, {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.stops: list[Any] = []

    def on_stop(self, stop: Any) -> None:
        self.stops.append(stop)

    def put_connection(self, conn_id: str, value: dict[str, Any]) -> None:
        self.connections[conn_id] = value


@pytest.fixture(scope="module")
def dbt(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The stand-in for steps of jobs 42 (default account) and 43 (account 7), its runs a few
    tenths of a second long, and what the local Airflow is given to reach it."""
    local = Local(tmp_path_factory.mktemp("dbt"))
    server = standin_module.start(local, [entry(), entry(name="b", job_id=43, account_id=7)])
    yield server, local
    for stop in local.stops:
        stop()


@pytest.fixture
def airflow_reaches(dbt: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This process as the local Airflow's: the connection from the secret's JSON (here an
    AIRFLOW_CONN_ variable, which Airflow reads as the secret), the CA bundle in the
    environment the local run gives its processes, aiohttp's verified SSL context made again
    as aiohttp makes it at import (its default for every session, the trigger's), now that
    SSL_CERT_FILE names the bundle; and short runs."""
    import aiohttp.connector

    server, local = dbt
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(local.connections[CONN]))
    for name, value in local.process_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED",
                        aiohttp.connector._make_ssl_context(True))  # fmt: skip
    for name, seconds in (("QUEUED_S", 0.1), ("STARTING_S", 0.1), ("RUN_S", 0.3)):
        monkeypatch.setattr(standin_module, name, seconds)
    return server


class FakeTi:
    """The task instance's XCom, as the operator and the failure path use it."""

    task_id, try_number = "transform", 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value") -> Any:
        return self.xcom.get(key)


def run_operator(operator: Any, context: dict[str, Any]) -> Any:
    """What Airflow does with the task: execute; on deferral, the trigger's first event (as
    the triggerer runs it), then execute_complete with it (as the worker resumes it)."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    try:
        return operator.execute(context)
    except TaskDeferred as deferred:
        event = asyncio.run(_first_event(deferred.trigger))
        return operator.execute_complete(context, event.payload)


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def fast(operator: Any) -> Any:
    operator.check_interval = 0.1  # the local run polls every GLUEFLOW_POLL_SECONDS
    return operator


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_a_run_succeeds_through_the_providers_calls(airflow_reaches: Any) -> None:
    """The operator triggers the job, reads the run, defers; the trigger reads the run over
    aiohttp until it is 10 (Success); execute_complete returns the run id. Exactly the calls
    of the v2 API that the provider makes (operators/dbt.py, hooks/dbt.py), and no other."""
    server = airflow_reaches
    before = len(server.calls)
    operator = fast(DBT.operator(entry(), {"dag_id": "crm_sync"}, "eu-west-1"))
    context = {"ti": FakeTi()}
    started = time.monotonic()
    run_id = run_operator(operator, context)
    assert time.monotonic() - started < 5
    run = server.runs[run_id]
    assert (run.account_id, run.job_id) == (standin_module.DEFAULT_ACCOUNT, 42)
    assert run.cause == "Glueflow job crm_sync, step transform, Airflow run {{ run_id }}"
    assert run.body == {"cause": run.cause, "steps_override": None, "schema_override": None}
    url = f"https://{server.host}/#/accounts/1/projects/1/runs/{run_id}/"
    assert context["ti"].xcom == {"job_run_url": url, "job_run_id": run_id}
    calls = server.calls[before:]
    assert calls[0] == ("POST", "/api/v2/accounts/1/jobs/42/run/")
    assert set(calls[1:]) == {("GET", f"/api/v2/accounts/1/runs/{run_id}/")}
    assert len(calls) >= 3  # the operator's read before deferring, then the trigger's


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_a_failed_run_fails_the_task_naming_the_run_and_its_url(airflow_reaches: Any) -> None:
    """Asked to fail the next run of job 43 (the stand-in's control endpoint, over HTTPS as a
    scenario would), the run ends 20 (Error); the task's error names the job, the run and its
    URL, and the failure alert quotes it."""
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    server = airflow_reaches
    bundle = os.environ["REQUESTS_CA_BUNDLE"]
    asked = requests.post(f"https://{server.host}/glueflow/jobs/43/fail-next-run",
                          verify=bundle, timeout=10)  # fmt: skip
    assert asked.status_code == 200
    operator = fast(DBT.operator(entry(job_id=43, account_id=7), {"dag_id": "d"}, "eu-west-1"))
    with pytest.raises(DbtCloudJobRunException) as failed:
        run_operator(operator, {"ti": FakeTi()})
    run_id = operator.run_id
    assert server.runs[run_id].fails
    url = f"https://{server.host}/#/accounts/7/projects/1/runs/{run_id}/"
    assert (
        str(failed.value) == f"dbt Cloud job 43, run {run_id} ({url}): Job run {run_id} has failed."
    )
    # the failure alert (glueflow_runtime/callbacks.py) carries the task's error as it is
    from types import SimpleNamespace

    from glueflow_runtime.callbacks import build_message

    ti = SimpleNamespace(dag_id="d", task_id="transform", run_id="r", try_number=1, log_url="")
    alert = build_message({"ti": ti, "exception": failed.value}, {"dag_id": "d"},
                          {"name": "dev", "region": "eu-west-1", "mwaa_environment": "m"},
                          [], [], None)  # fmt: skip
    assert alert["error"] == str(failed.value)
    # the next run of the job is a good one again
    assert run_operator(fast(DBT.operator(entry(job_id=43, account_id=7), {"dag_id": "d"},
                                          "eu-west-1")), {"ti": FakeTi()}) > run_id  # fmt: skip


def test_a_run_already_over_when_first_read_fails_without_deferring(
    airflow_reaches: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator reads the run once before deferring and ends at once on a terminal
    status (operators/dbt.py `_handle_terminal_status`): that failure names the URL too."""
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    server = airflow_reaches
    for name in ("QUEUED_S", "STARTING_S", "RUN_S"):
        monkeypatch.setattr(standin_module, name, 0)
    server.fail_next_run(42)
    operator = DBT.operator(entry(), {"dag_id": "d"}, "eu-west-1")
    with pytest.raises(DbtCloudJobRunException, match=r"has failed or has been cancelled\.") as e:
        operator.execute({"ti": FakeTi()})  # no TaskDeferred
    assert f"/runs/{operator.run_id}/): Job run" in str(e.value)
    assert operator.execute({"ti": FakeTi()}) == operator.run_id  # a good one, no deferral


def test_the_steps_deadline_cancels_the_run_and_names_it(airflow_reaches: Any) -> None:
    """At the task's execution_timeout the trigger says "timeout" and the operator cancels
    the run (POST .../runs/{id}/cancel/): it ends 30 (Cancelled), the task fails naming it."""
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    server = airflow_reaches
    operator = fast(DBT.operator(entry(), {"dag_id": "d"}, "eu-west-1"))
    operator.execution_timeout = timedelta(seconds=0.15)  # the run lasts 0.5 s here
    with pytest.raises(DbtCloudJobRunException, match=r"has timed out\.") as failed:
        run_operator(operator, {"ti": FakeTi()})
    run_id = operator.run_id
    assert ("POST", f"/api/v2/accounts/1/runs/{run_id}/cancel/") in server.calls
    assert server.as_data(server.runs[run_id])["status"] == 30
    assert f"/runs/{run_id}/): Job run {run_id} has timed out." in str(failed.value)


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_answers_are_shaped_as_dbt_clouds_and_a_bad_token_is_refused(
    airflow_reaches: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The v2 envelope (`status`, `data`), the run's numeric status and its flags; 401 with
    dbt Cloud's body for a wrong token, which the provider's hook reports as such."""
    from airflow.providers.common.compat.sdk import AirflowException
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook

    server = airflow_reaches
    base, bundle = f"https://{server.host}/api/v2/accounts/1", os.environ["REQUESTS_CA_BUNDLE"]
    token = {"Authorization": f"Token dbt-local-token-{CONN}"}
    made = requests.post(f"{base}/jobs/42/run/", json={"cause": "t"}, headers=token,
                         verify=bundle, timeout=10).json()  # fmt: skip
    assert made["status"] == {"code": 200, "is_success": True, "user_message": "Success!",
                              "developer_message": ""}  # fmt: skip
    run = made["data"]
    assert (run["status"], run["status_humanized"], run["in_progress"]) == (1, "Queued", True)
    assert run["href"].endswith(f"/#/accounts/1/projects/1/runs/{run['id']}/")
    time.sleep(0.6)
    done = requests.get(f"{base}/runs/{run['id']}/", headers=token, verify=bundle, timeout=10)
    assert {k: done.json()["data"][k] for k in ("status", "is_complete", "is_success")} == {
        "status": 10, "is_complete": True, "is_success": True,
    }  # fmt: skip
    refused = requests.get(f"{base}/runs/{run['id']}/", headers={"Authorization": "Token no"},
                           verify=bundle, timeout=10)  # fmt: skip
    assert refused.status_code == 401
    assert refused.json() == {"status": {"code": 401, "is_success": False,
                                         "user_message": "Invalid token.",
                                         "developer_message": None}, "data": None}  # fmt: skip
    other = requests.get(f"https://{server.host}/api/v2/accounts/99/runs/{run['id']}/",
                         headers=token, verify=bundle, timeout=10)  # fmt: skip
    assert other.status_code == 403
    wrong = {**json.loads(os.environ[f"AIRFLOW_CONN_{CONN.upper()}"]), "password": "no"}
    monkeypatch.setenv("AIRFLOW_CONN_DBT_WRONG", json.dumps(wrong))
    with pytest.raises(AirflowException, match="401"):
        DbtCloudHook("dbt_wrong").get_job_run(run_id=run["id"])


def test_only_a_client_trusting_the_bundle_reaches_it(airflow_reaches: Any) -> None:
    """TLS for real: the server's certificate verifies against the bundle the local run names
    (SSL_CERT_FILE, REQUESTS_CA_BUNDLE) and against no public CA alone."""
    import certifi

    server = airflow_reaches
    host = f"https://{server.host}/glueflow/jobs/1/fail-next-run"
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(host, verify=certifi.where(), timeout=10)
    bundle = Path(os.environ["SSL_CERT_FILE"])
    assert os.environ["REQUESTS_CA_BUNDLE"] == str(bundle)
    assert Path(certifi.where()).read_text() in bundle.read_text()
    assert ssl.get_default_verify_paths().cafile == str(bundle)  # what OpenSSL loads
    assert requests.post(host, verify=str(bundle), timeout=10).status_code == 200


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_stand_in_fills_the_connection_secret_as_airflow_reads_it(local_cloud: Any) -> None:
    """In the local run's cloud: the secret airflow/connections/<connection> holds the
    connection as JSON (the form the amazon provider's secrets backend reads), with the
    stand-in as host (host:port: the hook builds https://<host>/), a token and an account;
    the CA bundle is in the environment of Airflow's processes."""
    from airflow.sdk import Connection

    cloud = local_cloud
    DBT.standin(cloud, [entry()])
    secret = cloud.client("secretsmanager").get_secret_value(SecretId=f"airflow/connections/{CONN}")
    conn = Connection.from_json(secret["SecretString"], conn_id=CONN)
    assert (conn.conn_type, conn.login) == ("dbt_cloud", "1")
    assert conn.host.startswith("127.0.0.1:")
    assert set(cloud.process_env) == {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}
    answer = requests.get(f"https://{conn.host}/api/v2/accounts/1/runs/1/", timeout=10,
                          headers={"Authorization": f"Token {conn.password}"},
                          verify=cloud.process_env["REQUESTS_CA_BUNDLE"])  # fmt: skip
    assert answer.status_code == 404  # no such run; the token was good

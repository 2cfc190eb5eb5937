"""The `tableau` step type (dags/glueflow_steps/tableau.py): its config, the connection and
egress it needs, its operator, and its local stand-in (glueflow_local/standin/
tableau_api.py) answering the provider's own hook and tableauserverclient (TSC)."""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import pytest
import requests
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import Where, step_type
from glueflow_local.standin.tableau_api import CONNECTION_SITE, NS, TableauApi
from stacks.network_stack import endpoint_services
from tests.conftest import Project, valid_job

TABLEAU = step_type("tableau")
HERE = Where("aws", "eu-west-1", "111111111111", egress=True)
WORKBOOK_ID = "6d13b0ca-043d-4d42-8c9d-3f3313ea3a00"
T = {"t": NS}


def step(**fields: Any) -> dict[str, Any]:
    return {"type": "tableau", "name": "refresh_sales", "connection": "tableau_cloud",
            "resource": "workbooks", "find": WORKBOOK_ID, **fields}  # fmt: skip


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def entry(**fields: Any) -> dict[str, Any]:
    """The step as the manifest gives it to the factory and the stand-in."""
    return job_with(step(**fields)).downstream[0].model_dump()


def test_a_step_names_what_to_refresh_and_how_to_find_it() -> None:
    job_with(
        step(),
        step(name="by_name", find="Sales Overview", match_with="name"),
        step(name="source", resource="datasources", site_id="finance", timeout_minutes=240),
    )
    refused = {
        "connection": step(connection="Tableau Cloud"),
        "resource": step(resource="views"),  # the provider refreshes workbooks, datasources
        "match_with": step(match_with="content_url"),
        "not a Tableau id": step(find="Sales Overview"),  # an id is a LUID
        "Jinja": step(find="{{ ds }} sales", match_with="name"),  # `find` is templated
        "site_id": step(site_id=""),  # the hook takes '' as unset: leave it unset instead
        "timeout_minutes": step(timeout_minutes=24 * 60 + 1),
    }
    for said, bad in refused.items():
        with pytest.raises(ValidationError) as error:
            job_with(bad)
        assert said in str(error.value), said
    with pytest.raises(ValidationError, match="set 'match_with: name'"):
        job_with(step(find="Sales Overview"))


def problems_of(project: Project, *steps: dict[str, Any]) -> dict[str, str]:
    project.write_job("ingest", valid_job("ingest", downstream=list(steps)))
    return {p.field: p.message for p in validate_all(root=project.root, **project.paths())}


def test_a_tableau_step_is_refused_without_egress_unless_its_server_is_inside(
    valid_project: Project,
) -> None:
    """Tableau Cloud is on the internet, and the environment's network has no route out
    unless `network.egress`; a Tableau Server reachable inside the VPC needs none."""
    message = problems_of(valid_project, step())["downstream[0].type"]
    assert "calls Tableau (the server of connection 'tableau_cloud') on the internet" in message
    assert "'network: {egress: true}'" in message
    assert "downstream[0].type" not in problems_of(valid_project, step(internet=False))


def test_the_type_needs_a_connection_and_its_wheels_and_no_aws_access() -> None:
    """It calls Tableau only: no IAM grant and no interface endpoint; its connection is a
    secret; the provider, TSC and defusedxml are not in MWAA's image (plugins.zip ships them:
    /work/notes/issue24-facts.md section 1)."""
    job = job_with(step())
    (model,) = job.downstream
    assert TABLEAU.grants([model], HERE) == []
    assert endpoint_services({"a": job}) == endpoint_services({"a": job_with()})
    assert TABLEAU.connections(model) == {"connection": "tableau_cloud"}
    assert TABLEAU.packages == (
        "apache-airflow-providers-tableau", "tableauserverclient", "defusedxml",
    )  # fmt: skip
    assert TABLEAU.target(entry()) == f"workbook {WORKBOOK_ID}"
    assert TABLEAU.target(entry(resource="datasources", find="Sales", match_with="name")) == (
        "data source Sales"
    )


def test_the_operator_is_the_providers_blocking_refresh() -> None:
    """TableauOperator has no deferrable mode (no `deferrable` argument, no trigger in the
    provider), so it refreshes and waits in the worker, polling at the runtime's pace."""
    from airflow.providers.tableau.operators.tableau import TableauOperator

    from glueflow_runtime.dag_builder import POLL_S

    operator = TABLEAU.operator(entry(site_id="finance", timeout_minutes=90), {"dag_id": "d"},
                                "eu-west-1")  # fmt: skip
    assert isinstance(operator, TableauOperator)
    assert "deferrable" not in inspect.signature(TableauOperator.__init__).parameters
    assert operator.task_id == "refresh_sales"
    assert (operator.resource, operator.method) == ("workbooks", "refresh")
    assert (operator.find, operator.match_with) == (WORKBOOK_ID, "id")
    assert operator.site_id == "finance"
    assert operator.tableau_conn_id == "tableau_cloud"
    assert operator.blocking_refresh is True
    assert (operator.check_interval, operator.timeout) == (POLL_S, 90 * 60)
    assert TABLEAU.operator(entry(), {"dag_id": "d"}, "eu-west-1").site_id is None


# --- the stand-in, through the provider's hook and TSC -------------------------------------


@pytest.fixture
def tableau(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A stand-in server whose jobs take half a second, and the Airflow connection
    `tableau_local` pointing at it (AIRFLOW_CONN_<ID>, JSON: Airflow's environment-variable
    secrets backend), as the local run's secret holds it."""
    api = TableauApi(job_seconds=0.5)
    url = api.start()
    conn = {"conn_type": "tableau", "host": url.removeprefix("http://"), "schema": "http",
            "login": api.login, "password": api.password,
            "extra": {"site_id": CONNECTION_SITE}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_TABLEAU_LOCAL", json.dumps(conn))
    yield api
    api.stop()


def refresh(**fields: Any) -> Any:
    """Run the step's operator as a worker would, polling every 0.2 s."""
    operator = TABLEAU.operator(entry(connection="tableau_local", **fields), {"dag_id": "d"},
                                "eu-west-1")  # fmt: skip
    operator.check_interval = 0.2
    return operator.execute({})


def paths(api: TableauApi, site: str = "") -> list[str]:
    """The calls made, a site's own path after its /api/<version>/sites/<site-id>/."""
    prefix = f"/api/3.27/sites/{api.sites[site].id}/" if site else "\0"
    return [f"{method} {target.removeprefix(prefix)}" for method, target in api.calls]


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_a_workbook_is_found_by_name_across_pages_and_refreshed(
    tableau: TableauApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls TSC makes for a refresh by name: server info, sign in, the site's workbooks
    page by page (two a page here: TSC_PAGE_SIZE) until the name is found, the refresh, the
    job until it has a finishCode, sign out. The operator returns the job's id."""
    monkeypatch.setenv("TSC_PAGE_SIZE", "2")
    for other in ("Churn", "Margins"):
        tableau.add(CONNECTION_SITE, "workbooks", name=other)
    wanted = tableau.add(CONNECTION_SITE, "workbooks", name="Sales Overview")
    job = refresh(find="Sales Overview", match_with="name")
    assert tableau.jobs[job].content == wanted
    called = paths(tableau, CONNECTION_SITE)
    assert called[:5] == [
        "GET /api/2.4/serverInfo",
        "POST /api/3.27/auth/signin",
        "GET workbooks?pageNumber=1&pageSize=2",
        "GET workbooks?pageNumber=2&pageSize=2",
        f"POST workbooks/{wanted.id}/refresh",
    ]
    polls = called[5:-1]
    assert len(polls) >= 2  # pending, then finished
    assert set(polls) == {f"GET jobs/{job}"}
    assert called[-1] == "POST /api/3.27/auth/signout"


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_a_data_source_is_refreshed_by_id_on_the_steps_own_site(tableau: TableauApi) -> None:
    """By id there is no listing; the step's site_id is the site signed in to, over the
    connection's."""
    source = tableau.add("finance", "datasources", id=WORKBOOK_ID)
    job = refresh(resource="datasources", site_id="finance")
    assert tableau.jobs[job].content == source
    assert [c for c in paths(tableau, "finance") if "datasources" in c] == [
        f"POST datasources/{WORKBOOK_ID}/refresh"
    ]


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_a_failed_refresh_fails_the_step_with_the_providers_error(tableau: TableauApi) -> None:
    from airflow.providers.tableau.hooks.tableau import TableauJobFailedException

    tableau.add(CONNECTION_SITE, "workbooks", id=WORKBOOK_ID)
    tableau.fail_next(WORKBOOK_ID)  # finishCode 1
    with pytest.raises(TableauJobFailedException, match="The Tableau Refresh workbooks Job failed"):
        refresh()
    tableau.fail_next(WORKBOOK_ID, finish_code=3)  # TSC's "Completed", unknown to the provider
    with pytest.raises(TableauJobFailedException, match=r"finishCode the Tableau provider does "
                       r"not know \(3 is not a valid TableauJobFinishCode\)"):  # fmt: skip
        refresh()


def test_a_refresh_already_queued_fails_the_step_saying_so(tableau: TableauApi) -> None:
    """Tableau answers 409093 while a refresh of the content is queued; TSC returns None and
    the provider alone would fail with AttributeError ('NoneType' object has no attribute
    'id')."""
    from airflow.providers.tableau.hooks.tableau import TableauJobFailedException

    tableau.add(CONNECTION_SITE, "workbooks", id=WORKBOOK_ID)
    tableau.job_seconds = 30
    base, token, site = signed_in(tableau)
    queued = requests.post(f"{base}/sites/{site}/workbooks/{WORKBOOK_ID}/refresh",
                           headers={"X-Tableau-Auth": token}, timeout=10)  # fmt: skip
    assert queued.status_code == 202
    with pytest.raises(TableauJobFailedException, match="already queued") as failed:
        refresh()
    assert "started none and waits for none" in str(failed.value)
    assert isinstance(failed.value.__cause__, AttributeError)


# --- the stand-in's answers, as the reference shapes them ----------------------------------


def signed_in(api: TableauApi) -> tuple[str, str, str]:
    base = f"{api.url}/api/3.27"
    body = (f'<tsRequest><credentials name="{api.login}" password="{api.password}">'
            f'<site contentUrl="{CONNECTION_SITE}"/></credentials></tsRequest>')  # fmt: skip
    answer = requests.post(f"{base}/auth/signin", data=body, timeout=10)
    assert answer.status_code == 200
    credentials = fromstring(answer.content).find("t:credentials", T)
    return base, credentials.get("token"), credentials.find("t:site", T).get("id")


def error_code(answer: requests.Response) -> str:
    return fromstring(answer.content).find("t:error", T).get("code")


def test_the_stand_in_answers_as_the_rest_api_reference_shapes_it(tableau: TableauApi) -> None:
    """Server Info, Sign In, Update Workbook Now, Query Job and Sign Out (Tableau REST API
    reference; tableau/server-client-python test/assets), and the errors of a wrong sign-in
    (401001), a missing token (401002), unknown content (404004) and a refresh already queued
    (409093)."""
    tableau.add(CONNECTION_SITE, "workbooks", id=WORKBOOK_ID, name="Sales")
    info = fromstring(requests.get(f"{tableau.url}/api/2.4/serverInfo", timeout=10).content)
    assert info.find("t:serverInfo/t:restApiVersion", T).text == "3.27"
    body = (f'<tsRequest><credentials name="x" password="y"><site contentUrl='
            f'"{CONNECTION_SITE}"/></credentials></tsRequest>')  # fmt: skip
    wrong = requests.post(f"{tableau.url}/api/3.27/auth/signin", data=body, timeout=10)
    assert (wrong.status_code, error_code(wrong)) == (401, "401001")
    base, token, site = signed_in(tableau)
    auth = {"X-Tableau-Auth": token}
    workbooks = f"{base}/sites/{site}/workbooks"
    anonymous = requests.post(f"{workbooks}/{WORKBOOK_ID}/refresh", timeout=10)
    assert (anonymous.status_code, error_code(anonymous)) == (401, "401002")
    unknown = requests.post(f"{workbooks}/{'0' * 8}-0000-0000-0000-{'0' * 12}/refresh",
                            headers=auth, timeout=10)  # fmt: skip
    assert (unknown.status_code, error_code(unknown)) == (404, "404004")
    started = requests.post(f"{workbooks}/{WORKBOOK_ID}/refresh", headers=auth, timeout=10,
                            data=b"<tsRequest><extractRefresh /></tsRequest>")  # fmt: skip
    assert started.status_code == 202
    job = fromstring(started.content).find("t:job", T)
    assert (job.get("mode"), job.get("type")) == ("Asynchronous", "RefreshExtract")
    assert job.find("t:extractRefreshJob/t:workbook", T).attrib == {"id": WORKBOOK_ID,
                                                                    "name": "Sales"}  # fmt: skip
    again = requests.post(f"{workbooks}/{WORKBOOK_ID}/refresh", headers=auth, timeout=10)
    assert (again.status_code, error_code(again)) == (409, "409093")
    query = f"{base}/sites/{site}/jobs/{job.get('id')}"
    pending = fromstring(requests.get(query, headers=auth, timeout=10).content).find("t:job", T)
    assert "finishCode" not in pending.attrib
    assert pending.get("progress") == "0"
    tableau.job_seconds = 0
    done = fromstring(requests.get(query, headers=auth, timeout=10).content).find("t:job", T)
    assert (done.get("finishCode"), done.get("progress")) == ("0", "100")
    assert "completedAt" in done.attrib
    assert requests.post(f"{base}/auth/signout", headers=auth, timeout=10).status_code == 204
    assert requests.get(query, headers=auth, timeout=10).status_code == 401


def test_a_failure_is_asked_for_over_http(tableau: TableauApi) -> None:
    tableau.add(CONNECTION_SITE, "workbooks", name="Sales")
    armed = requests.post(f"{tableau.url}/glueflow-local/fail", params={"find": "Sales"},
                          timeout=10)  # fmt: skip
    assert armed.status_code == 204
    assert tableau.failing == {"Sales": 1}
    bad = requests.post(f"{tableau.url}/glueflow-local/fail", timeout=10)
    assert bad.status_code == 400


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_stand_in_fills_each_connection_secret_for_the_hook(
    local_cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local run's path: the secret holds the connection as JSON (the amazon provider's
    backend reads a value starting with '{'), with the server's address and sign-in and the
    connection's site; the provider's hook, given that value, refreshes the steps' contents."""
    from glueflow_local.standin import tableau_api

    monkeypatch.setattr(tableau_api, "JOB_SECONDS", 0.5)

    cloud = local_cloud
    steps = [
        entry(connection="tableau_local", find="Sales Overview", match_with="name"),
        entry(connection="tableau_local", resource="datasources", site_id="finance"),
    ]
    TABLEAU.standin(cloud, steps)
    value = cloud.client("secretsmanager").get_secret_value(
        SecretId="airflow/connections/tableau_local"
    )["SecretString"]
    conn = json.loads(value)
    assert (conn["conn_type"], conn["schema"]) == ("tableau", "http")
    assert conn["extra"] == {"site_id": CONNECTION_SITE}
    os.environ["AIRFLOW_CONN_TABLEAU_LOCAL"] = value
    job = refresh(find="Sales Overview", match_with="name")
    assert len(job) == 36
    assert len(refresh(resource="datasources", site_id="finance")) == 36

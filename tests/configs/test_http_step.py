"""The `http` step type (dags/glueflow_steps/http.py): its config, the connection it names
(a secret), the egress it needs, its operator's success check and its local stand-in."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import step_type
from stacks.orchestration_stack import step_connections
from tests.conftest import Project, valid_job

HTTP = step_type("http")


def step(**fields: Any) -> dict[str, Any]:
    return {"type": "http", "name": "notify", "connection": "crm_api", **fields}


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def problems_of(project: Project, *steps: dict[str, Any]) -> dict[str, str]:
    project.write_job("ingest", valid_job("ingest", downstream=list(steps)))
    return {p.field: p.message for p in validate_all(root=project.root, **project.paths())}


def test_a_step_names_its_connection_method_path_and_success_statuses() -> None:
    job_with(step(), step(name="get", method="GET", endpoint="/v1/status?x=1",
                          success_statuses=[200, 304]))  # fmt: skip
    refused = {
        "connection": step(connection="CRM API"),
        "endpoint": step(endpoint="https://crm.example.com/v1"),  # the host is the connection's
        "method": step(method="TRACE"),
        "success_statuses": step(success_statuses=[200, 700]),
        "body": step(method="GET", body={"a": 1}),
    }
    for field, bad in refused.items():
        with pytest.raises(ValidationError) as error:
            job_with(bad)
        assert field in str(error.value), field


def test_an_internet_step_is_refused_without_egress_and_says_how_to_add_it(
    valid_project: Project,
) -> None:
    """The environment's network has no route out unless `network.egress`: the step could not
    reach its host, so validation refuses it rather than a run failing on AWS."""
    found = problems_of(valid_project, step())
    message = found["downstream[0].type"]
    assert "calls the host of connection 'crm_api' on the internet" in message
    assert "environment 'dev' has no route out of its VPC" in message
    env_file = valid_project.environments_dir / "dev.yaml"
    assert f"'network: {{egress: true}}' in {env_file}" in message
    assert "make review" in message
    # a host inside the VPC needs no egress; an environment with egress takes either
    assert "downstream[0].type" not in problems_of(valid_project, step(internet=False))
    env = yaml_env(valid_project)
    env["network"]["egress"] = True
    valid_project.write_env("dev", env)
    assert "downstream[0].type" not in problems_of(valid_project, step())


def yaml_env(project: Project) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((project.environments_dir / "dev.yaml").read_text())


def test_a_connection_is_one_kind_and_never_the_runtimes_aws_connection(
    valid_project: Project,
) -> None:
    found = problems_of(valid_project, step(connection="aws_default", internet=False))
    assert "'aws_default' is the runtime's AWS connection" in found["downstream[0].connection"]
    shared = {"type": "lambda", "name": "other", "function": "f"}
    assert step_connections({"a": job_with(step(), step(name="again"), shared)}) == ["crm_api"]


def test_steps_of_one_type_may_share_a_connection(valid_project: Project) -> None:
    """One secret serves every step of its kind (steps of two kinds may not share one: the
    check is in configs/loader.py `_check_connections`)."""
    found = problems_of(valid_project, step(internet=False), step(name="b", internet=False))
    assert not [f for f in found if f.startswith("downstream")]


def test_the_operator_calls_through_the_connection_without_the_hooks_status_check() -> None:
    entry = {**job_with(step(body={"day": "{{ ds }}"}, success_statuses=[202])).downstream[0]
             .model_dump()}  # fmt: skip
    operator = HTTP.operator(entry, {"dag_id": "crm_sync"}, "eu-west-1")
    assert type(operator).__name__ == "HttpOperator"
    assert operator.http_conn_id == "crm_api"
    assert (operator.method, operator.endpoint) == ("POST", "")
    assert json.loads(operator.data) == {"day": "{{ ds }}"}
    assert operator.headers["Content-Type"] == "application/json"
    assert operator.headers["X-Glueflow-Run-Id"] == "{{ run_id }}"
    assert operator.extra_options == {"check_response": False, "timeout": 60}
    assert not operator.deferrable  # HttpAsyncHook would raise_for_status on a 4xx success


@pytest.fixture
def server() -> Any:
    """A loopback server answering /<status> with that status and a short body."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            status = int(self.path.strip("/"))
            self.send_response(status)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"nope")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Polled every 50 ms, not 0.5 s: shutdown() waits for the next poll.
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_success_is_the_configured_statuses_and_a_failure_says_what_came_back(server) -> None:
    """Real responses (requests, as HttpHook returns them) through the step's response check."""
    entry = job_with(step(success_statuses=[200, 409])).downstream[0].model_dump()
    check = HTTP.operator(entry, {"dag_id": "d"}, "eu-west-1").response_check
    assert check(requests.post(f"{server}/409", timeout=10))
    with pytest.raises(ValueError, match=r"answered 500 Internal Server Error, not 200, 409"):
        check(requests.post(f"{server}/500", timeout=10))
    default = HTTP.operator(job_with(step()).downstream[0].model_dump(), {"dag_id": "d"},
                            "eu-west-1").response_check  # fmt: skip
    assert default(requests.post(f"{server}/204", timeout=10))
    with pytest.raises(ValueError, match=r"not a 2xx: 'nope'"):
        default(requests.post(f"{server}/302", timeout=10))


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_stand_in_fills_the_connection_secret_and_answers_the_configured_status(
    local_cloud: Any,
) -> None:
    """The secret holds the connection as JSON, the form the amazon provider's backend reads
    (secrets_manager.py get_conn_value: a value starting with '{'); the server answers the
    step's first success status."""

    cloud = local_cloud
    entry = job_with(step(endpoint="/v1/x", success_statuses=[202])).downstream[0]
    HTTP.standin(cloud, [entry.model_dump()])
    secret = cloud.client("secretsmanager").get_secret_value(SecretId="airflow/connections/crm_api")
    conn = json.loads(secret["SecretString"])
    assert conn["conn_type"] == "http"
    base = f"{conn['schema']}://{conn['host']}:{conn['port']}"
    assert requests.post(f"{base}/v1/x", json={}, timeout=10).status_code == 202
    assert requests.post(f"{base}/v1/other", timeout=10).status_code == 404

"""`http`: call an HTTP endpoint through an Airflow connection; the step succeeds on the
statuses its config counts as success (by default any 2xx), and fails on any other.

The operator is the HTTP provider's HttpOperator (airflow/providers/http/operators/http.py,
apache-airflow-providers-http 6.0.5, in MWAA's image), run synchronously:
- The connection (host, scheme, port, credentials, secret headers in its extra) is the
  step's `connection`, an Airflow connection of type `http` kept in Secrets Manager.
- The hook's own status check is off (`extra_options={"check_response": False}`: HttpHook
  `run_and_check`, hooks/http.py), and the step's `response_check` decides from the status.
  The provider's deferrable mode cannot: its HttpAsyncHook always calls
  `response.raise_for_status()`, so a configured 3xx or 4xx success would fail there.
- A request waits `timeout_seconds` at most (requests' `timeout`, passed by the hook from
  `extra_options`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from glueflow_steps.base import Connection, StepModel, StepType

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpStep(StepModel):
    """Call an HTTP endpoint after the job succeeds."""

    type: Literal["http"]
    connection: Connection = Field(
        description="The Airflow connection (type http) that holds the host, scheme, "
        "credentials and secret headers: the secret airflow/connections/<connection>."
    )
    method: Method = Field(default="POST", description="The HTTP method.")
    endpoint: str = Field(
        default="",
        pattern=r"^(/[^\s]*)?$",
        description="The path (and query) after the connection's host, e.g. /v1/refresh; "
        "unset: the host itself.",
    )
    body: dict[str, Any] | None = Field(
        default=None,
        description="A JSON object sent as the request body (application/json); not with GET "
        "or DELETE.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Headers that are no secret; a secret one (Authorization) goes in the "
        "connection's extra.",
    )
    success_statuses: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None,
        min_length=1,
        description="The statuses that count as success, e.g. [200, 202, 409]; unset: any 2xx.",
    )
    internet: bool = Field(
        default=True,
        description="The connection's host is on the internet, so the environment needs "
        "egress; false for a host reachable inside the VPC (a private API, a peered network).",
    )
    timeout_seconds: int = Field(
        default=60, ge=1, le=3600, description="How long the request may take."
    )

    @model_validator(mode="after")
    def _no_body_without_content(self) -> HttpStep:
        if self.body is not None and self.method in ("GET", "DELETE"):
            raise ValueError(f"a {self.method} request has no body: remove 'body' or use POST")
        return self


def succeeded(statuses: list[int] | None) -> Any:
    """The response check: True on a success status; otherwise an error that says what came
    back (HttpOperator's own says only "Response check returned False")."""

    def check(response: Any) -> bool:
        status = response.status_code
        if statuses is None and 200 <= status <= 299:
            return True
        if statuses is not None and status in statuses:
            return True
        accepted = "a 2xx" if statuses is None else ", ".join(map(str, statuses))
        raise ValueError(
            f"{response.request.method} {response.url} answered {status} "
            f"{response.reason}, not {accepted}: {response.text[:500]!r}"
        )

    return check


class Http(StepType):
    name = "http"
    model = HttpStep

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.http.operators.http import HttpOperator

        headers = {
            **step["headers"],
            # Which run called: a receiver can make a retried call idempotent on it.
            "X-Glueflow-Job": job["dag_id"],
            "X-Glueflow-Run-Id": "{{ run_id }}",
        }
        body = step.get("body")
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        return HttpOperator(
            task_id=step["name"],
            http_conn_id=step["connection"],
            method=step["method"],
            endpoint=step["endpoint"],
            data=json.dumps(body, sort_keys=True) if body is not None else None,
            headers=headers,
            extra_options={"check_response": False, "timeout": step["timeout_seconds"]},
            response_check=succeeded(step.get("success_statuses")),
            log_response=True,
        )

    def connections(self, step: Any) -> dict[str, str]:
        return {"connection": step.connection}

    def internet(self, step: Any) -> str:
        return f"the host of connection {step.connection!r}" if step.internet else ""

    def target(self, step: dict[str, Any]) -> str:
        return f"{step['method']} {step['connection']}{step['endpoint']}"

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """A loopback HTTP server for the steps' connections, answering each request with the
        first status its step counts as success (200 by default) and a JSON body; each
        connection's secret is filled with it, as its owner fills it on AWS."""
        from http.server import BaseHTTPRequestHandler

        from glueflow_local.serving import reply, serve

        answers = {
            (s["method"], s["endpoint"] or "/"): (s.get("success_statuses") or [200])[0]
            for s in steps
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = answers.get((self.command, self.path), 404)
                body = json.dumps({"status": status, "path": self.path}).encode()
                reply(self, status, body, Content_Type="application/json")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        server, base = serve(Handler)
        local.on_stop(server.shutdown)
        host, port = base.removeprefix("http://").split(":")
        for conn in sorted({s["connection"] for s in steps}):
            local.put_connection(
                conn, {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
            )


STEP = Http()

"""How the handler reaches Airflow: MWAA's InvokeRestApi in AWS, plain HTTP locally and in tests.

Both answer with an `ApiResponse`: the Airflow status code and body, or a retryable error.
boto3 is imported only when the MWAA transport is first used, to keep cold starts small.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

# Airflow statuses worth another try: throttling and server-side trouble.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# InvokeRestApi's errors, as botocore's service model defines them
# (botocore/data/mwaa/2020-07-01/service-2.json). Airflow's own 4xx and 5xx come back as
# RestApiClientException and RestApiServerException, both HTTP 400 at the AWS level, carrying
# Airflow's status and body in RestApiStatusCode and RestApiResponse. The others are MWAA's
# own answer: Airflow never saw the request.
AIRFLOW_ERRORS = frozenset({"RestApiClientException", "RestApiServerException"})
# MWAA's own errors that pass: a server fault (InternalServerException, HTTP 500) and the
# throttling codes every AWS API may return (botocore's retry handler treats them alike).
AWS_RETRYABLE_ERRORS = frozenset(
    {
        "InternalServerException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# MWAA's own errors that another try cannot mend, and what each means here.
AWS_CAUSES = {
    "AccessDeniedException": "the trigger role may not call airflow:InvokeRestApi on this "
    "environment's User role",
    "ResourceNotFoundException": "the MWAA environment does not exist (not yet created, "
    "deleted, or another name)",
    "ValidationException": "MWAA refused the request itself as invalid",
}
CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ApiResponse:
    """What came back. `status` is Airflow's HTTP status, 0 when Airflow gave none (a timeout,
    a connection error, or MWAA's own error); `error` names the error; `aws_error` says MWAA
    itself answered, so the status is not Airflow's."""

    status: int
    body: Any
    error: str = ""
    aws_error: bool = False
    message: str = ""

    @property
    def retryable(self) -> bool:
        if self.aws_error:
            return self.error in AWS_RETRYABLE_ERRORS
        return self.status == 0 or self.status in RETRYABLE_STATUSES

    @property
    def cause(self) -> str:
        """A line that names why, for the log and the dead letter."""
        if self.aws_error:
            what = AWS_CAUSES.get(self.error, "MWAA's own error")
            return f"MWAA {self.error}: {what}" + (f" ({self.message})" if self.message else "")
        if self.status == 0:
            return f"no answer from Airflow ({self.error or 'unknown'})"
        return f"Airflow answered {self.status}"


class Transport(Protocol):
    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        """POST `body` as JSON to the Airflow REST API v2 path (e.g. /dags/x/dagRuns)."""

    def get(self, path: str, query: dict[str, Any], timeout: float) -> ApiResponse:
        """GET the Airflow REST API v2 path with `query` as its query parameters."""


class MwaaTransport:
    """MWAA InvokeRestApi: the API call runs as this Lambda's role, in MWAA's `User` role."""

    def __init__(self, environment_name: str, client: Any = None) -> None:
        self.environment_name = environment_name
        self._given = client
        self._clients: dict[int, Any] = {}

    def client(self, timeout: float) -> Any:
        """A client whose connect and read timeouts fit `timeout` (whole seconds, at least 1);
        botocore fixes them per client, so one is kept per distinct value."""
        if self._given is not None:
            return self._given
        seconds = max(1, math.floor(timeout))
        if seconds not in self._clients:
            import boto3
            from botocore.config import Config

            # Retries are the handler's (with its time budget), not botocore's.
            self._clients[seconds] = boto3.client(
                "mwaa",
                config=Config(
                    retries={"total_max_attempts": 1},
                    connect_timeout=min(CONNECT_TIMEOUT_S, seconds),
                    read_timeout=seconds,
                ),
            )
        return self._clients[seconds]

    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        return self._invoke(timeout, Path=path, Method="POST", Body=body)

    def get(self, path: str, query: dict[str, Any], timeout: float) -> ApiResponse:
        return self._invoke(timeout, Path=path, Method="GET", QueryParameters=query)

    def _invoke(self, timeout: float, **request: Any) -> ApiResponse:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client(timeout).invoke_rest_api(Name=self.environment_name, **request)
        except ClientError as exc:
            return _from_client_error(exc.response)
        except BotoCoreError as exc:  # timeouts, connection errors
            return ApiResponse(0, None, type(exc).__name__)
        return ApiResponse(int(answer["RestApiStatusCode"]), answer.get("RestApiResponse"))


def _from_client_error(response: dict[str, Any]) -> ApiResponse:
    error = response.get("Error", {})
    code = error.get("Code", "")
    if code in AIRFLOW_ERRORS and response.get("RestApiStatusCode"):
        return ApiResponse(
            int(response["RestApiStatusCode"]), response.get("RestApiResponse"), code
        )
    return ApiResponse(0, None, code, aws_error=True, message=str(error.get("Message", ""))[:500])


class HttpTransport:
    """An Airflow API server reached directly (`base_url` like http://127.0.0.1:8080/api/v2)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        return self._send("POST", self.base_url + path, json.dumps(body).encode(), timeout)

    def get(self, path: str, query: dict[str, Any], timeout: float) -> ApiResponse:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(query)}"
        return self._send("GET", url, None, timeout)

    def _send(self, method: str, url: str, data: bytes | None, timeout: float) -> ApiResponse:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - the URL is configuration, http(s) only
            url, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return ApiResponse(answer.status, _json(answer.read()))
        except urllib.error.HTTPError as exc:
            return ApiResponse(exc.code, _json(exc.read()))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return ApiResponse(0, None, type(exc).__name__)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")

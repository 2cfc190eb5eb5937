"""How the handler reaches Airflow: MWAA's InvokeRestApi in AWS, plain HTTP locally and in tests.

Both answer with an `ApiResponse`: the Airflow status code and body, or a retryable error.
boto3 is imported only when the MWAA transport is first used, to keep cold starts small.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

# Statuses worth another try: throttling and server-side trouble.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ApiResponse:
    """What Airflow answered. `status` 0 means no answer at all (timeout, connection error)."""

    status: int
    body: Any
    error: str = ""

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRYABLE_STATUSES


class Transport(Protocol):
    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        """POST `body` as JSON to the Airflow REST API v2 path (e.g. /dags/x/dagRuns)."""


class MwaaTransport:
    """MWAA InvokeRestApi: the API call runs as this Lambda's role, in MWAA's `User` role."""

    def __init__(self, environment_name: str, client: Any = None) -> None:
        self.environment_name = environment_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Retries are the handler's (with its time budget), not botocore's.
            self._client = boto3.client(
                "mwaa", config=Config(retries={"total_max_attempts": 1}, read_timeout=10)
            )
        return self._client

    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.invoke_rest_api(
                Name=self.environment_name, Path=path, Method="POST", Body=body
            )
        except ClientError as exc:
            response = exc.response
            code = response.get("Error", {}).get("Code", "")
            status = response.get("RestApiStatusCode") or (
                429 if "Throttl" in code else response["ResponseMetadata"].get("HTTPStatusCode", 0)
            )
            return ApiResponse(int(status), response.get("RestApiResponse"), code)
        except BotoCoreError as exc:  # timeouts, connection errors
            return ApiResponse(0, None, type(exc).__name__)
        return ApiResponse(int(answer["RestApiStatusCode"]), answer.get("RestApiResponse"))


class HttpTransport:
    """An Airflow API server reached directly (`base_url` like http://127.0.0.1:8080/api/v2)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def post(self, path: str, body: dict[str, Any], timeout: float) -> ApiResponse:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - the URL is configuration, http(s) only
            self.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
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

"""Posting to a webhook, with retries, and reading its URL from Secrets Manager.

Slack answers 200 and Teams Workflows 202; 408, 429, 5xx and network errors are retried with
exponential backoff and jitter (honouring Retry-After) while the invocation has time. Any other
4xx is final: the same payload would be refused again. Standard library only, apart from boto3
for Secrets Manager, which is loaded on first use.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# A webhook URL is read again after this long, so a rotated secret takes effect.
SECRET_TTL_S = 300.0
RETRY_AFTER_CAP_S = 30.0
# Time kept back for the next channels' first tries and for writing to the dead-letter queue.
RESERVE_S = 6.0
# AWS calls on the alert path fail fast, so the invocation keeps time to dead-letter.
AWS_CLIENT_CONFIG = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ChannelConfigError(ValueError):
    """A channel's secret is missing or does not hold a usable webhook URL."""


@dataclass(frozen=True)
class Outcome:
    """How one post ended."""

    delivered: bool
    status: int  # 0: no HTTP answer
    attempts: int
    detail: str


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, the first backoff, and each request's timeout."""

    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 8.0
    timeout_s: float = 10.0


def _post_once(url: str, body: bytes, timeout: float) -> tuple[int, str, str | None]:
    """(status, response text, Retry-After); status 0 when no answer came."""
    request = urllib.request.Request(  # noqa: S310 - https webhooks (http only to localhost)
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read(2000).decode(errors="replace"), None
    except urllib.error.HTTPError as exc:
        text = exc.read(2000).decode(errors="replace")
        return exc.code, text, exc.headers.get("Retry-After")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, f"{type(exc).__name__}: {reason}", None
    except Exception as exc:  # InvalidURL, IncompleteRead...: their text may hold the URL
        return 0, type(exc).__name__, None


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), RETRY_AFTER_CAP_S) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def post_json(
    url: str,
    payload: dict[str, Any],
    policy: RetryPolicy,
    remaining_s: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST `payload` until it is accepted, refused for good, out of attempts or out of time."""
    body = json.dumps(payload).encode()
    attempt = 0
    while True:
        attempt += 1
        timeout = max(0.5, min(policy.timeout_s, remaining_s() - RESERVE_S))
        status, text, retry_after = _post_once(url, body, timeout)
        if 200 <= status < 300:
            return Outcome(True, status, attempt, text[:200])
        detail = f"HTTP {status}: {text[:300]}" if status else text[:300]
        if status and status not in RETRYABLE_STATUS:
            return Outcome(False, status, attempt, f"refused, not retried ({detail})")
        delay = _retry_after(retry_after)
        if delay is None:
            ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter
        if attempt >= policy.attempts or remaining_s() - delay - timeout < RESERVE_S:
            return Outcome(False, status, attempt, f"gave up after {attempt} attempts ({detail})")
        sleep(delay)


def webhook_url(secret_string: str, secret_name: str) -> str:
    """The URL a secret holds: the plain string, or the `url` or `webhook_url` of a JSON object."""
    text = secret_string.strip()
    url: Any = text
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ChannelConfigError(f"secret {secret_name} is not valid JSON") from exc
        url = parsed.get("url") or parsed.get("webhook_url") if isinstance(parsed, dict) else None
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if not parts or not parts.netloc:
        raise ChannelConfigError(
            f"secret {secret_name} holds no webhook URL; store the URL itself, or JSON "
            '{"url": "https://..."}'
        )
    if any(char.isspace() for char in url):
        raise ChannelConfigError(f"secret {secret_name} holds a URL with whitespace in it")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        raise ChannelConfigError(f"secret {secret_name}: webhook URLs must use https")
    return url


class SecretCache:
    """Webhook URLs by secret name, read from Secrets Manager at most every SECRET_TTL_S."""

    def __init__(self, client: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._urls: dict[str, tuple[float, str]] = {}

    def url(self, secret_name: str) -> str:
        cached = self._urls.get(secret_name)
        if cached and self._clock() - cached[0] < SECRET_TTL_S:
            return cached[1]
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("secretsmanager", config=Config(**AWS_CLIENT_CONFIG))
        try:
            secret = self._client.get_secret_value(SecretId=secret_name)
        except Exception as exc:  # botocore's errors, without importing botocore at load
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise ChannelConfigError(f"secret {secret_name} could not be read ({code})") from exc
        url = webhook_url(secret.get("SecretString") or "", secret_name)
        self._urls[secret_name] = (self._clock(), url)
        return url

"""The Airflow API as the trigger reaches it, with the faults a scenario can switch on.

The trigger Lambda's `AIRFLOW_API_URL` points here, and every request is passed to the local
Airflow's API server as it came, unless a scenario made the API unavailable or throttled:
- unavailable: 503, as MWAA's InvokeRestApi reports an Airflow web server that does not
  answer (`RestApiServerException`, "InvokeRestApi", Amazon MWAA API Reference: "An
  exception indicating that a server-side error occurred during the invocation of the
  Apache Airflow REST API", with the status Airflow's server gave);
- throttled: 429, as InvokeRestApi reports throttling (`ThrottlingException`, HTTP 429,
  same reference).
Airflow itself keeps running: the scheduler and the DAG runs already started are not
affected, only the path from a landed file to its new run.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from glueflow_local.serving import reply, serve

MODES = {"available", "unavailable", "throttled"}
ANSWERS = {
    "unavailable": (503, {"detail": "Service Unavailable (scenario: the MWAA API is down)"}),
    "throttled": (429, {"detail": "Too Many Requests (scenario: the MWAA API throttles)"}),
}


class ApiGate:
    """A pass-through HTTP server in front of Airflow's API, with a fault switch."""

    def __init__(self, target: str) -> None:
        parsed = urllib.parse.urlsplit(target)
        self.origin = f"{parsed.scheme}://{parsed.netloc}"  # where requests go, path kept
        self.path = parsed.path.rstrip("/")  # "/api/v2"
        self.mode = "available"
        self.refused = 0  # requests answered with a fault
        self._server: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self.url = ""

    def start(self) -> str:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # no access log
                pass

            def do_GET(self) -> None:
                gate.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                gate.handle(self, self.rfile.read(length))

        self._server, base = serve(Handler)
        self.url = base + self.path  # the same path as the API server's base
        return self.url

    def set(self, mode: str, for_s: float | None = None) -> None:
        """Switch to `mode`; with `for_s`, back to available after that many real seconds."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {sorted(MODES)}")
        with self._lock:
            if self._timer:
                self._timer.cancel()
                self._timer = None
            self.mode = mode
            if for_s is not None and mode != "available":
                self._timer = threading.Timer(for_s, self.set, args=("available",))
                self._timer.daemon = True
                self._timer.start()

    def handle(self, request: BaseHTTPRequestHandler, body: bytes | None) -> None:
        answer = ANSWERS.get(self.mode)
        if answer is not None:
            self.refused += 1
            status, detail = answer
            reply(request, status, json.dumps(detail).encode(), Content_Type="application/json")
            return
        forwarded = urllib.request.Request(  # noqa: S310 - Airflow on loopback
            self.origin + request.path,
            data=body,
            method=request.command,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=60) as answer_:  # noqa: S310
                status, payload, kind = answer_.status, answer_.read(), answer_.headers
        except urllib.error.HTTPError as exc:
            status, payload, kind = exc.code, exc.read(), exc.headers
        reply(request, status, payload,
              Content_Type=kind.get("Content-Type") or "application/json")  # fmt: skip

    def stop(self) -> None:
        with self._lock:
            if self._timer:
                self._timer.cancel()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

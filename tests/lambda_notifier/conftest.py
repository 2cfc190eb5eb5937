"""The notifier Lambda's modules, loaded as Lambda loads them, and a real local HTTP server
standing in for the Slack and Teams webhooks."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

NOTIFIER_DIR = REPO_ROOT / "lambda" / "notifier"


def notifier_module(name: str) -> ModuleType:
    """`handler`, `render` or `delivery` from lambda/notifier, as `notifier_<name>`: the trigger
    Lambda has a `handler` module too, and tests import both."""
    if str(NOTIFIER_DIR) not in sys.path:
        sys.path.insert(0, str(NOTIFIER_DIR))
    if name != "handler":
        return importlib.import_module(name)
    key = "notifier_handler"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, NOTIFIER_DIR / "handler.py")
        assert spec
        assert spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@dataclass
class Webhooks:
    """What the server received, per path, and the answers it still has to give."""

    base_url: str
    received: dict[str, list[Any]] = field(default_factory=dict)
    scripted: dict[str, list[tuple[int, dict[str, str], str]]] = field(default_factory=dict)

    def answer(self, path: str, *answers: tuple[int, dict[str, str], str]) -> None:
        """Answer the next requests to `path` with these (status, headers, body); then 200."""
        self.scripted.setdefault(path, []).extend(answers)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def webhooks(request: pytest.FixtureRequest) -> Iterator[Webhooks]:
    state = Webhooks(base_url="")

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            assert self.headers.get("Content-Type") == "application/json"
            state.received.setdefault(self.path, []).append(json.loads(body))
            queue = state.scripted.get(self.path) or []
            status, headers, text = queue.pop(0) if queue else (200, {}, "ok")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    # `NOTIFIER_RECORD_DIR=DIR pytest tests/lambda_notifier` keeps what the webhooks received,
    # to show a rendered message (the closing notes, docs).
    record = os.environ.get("NOTIFIER_RECORD_DIR")
    if record:
        out = Path(record) / f"{request.node.name}.json"
        out.write_text(json.dumps(state.received, indent=2, ensure_ascii=False))
    server.server_close()

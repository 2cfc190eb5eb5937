"""Small HTTP servers on loopback, for the parts of the local run that stand in for a service."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve `handler` on a free loopback port, in a thread; the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # Polled every 50 ms, not 0.5 s: shutdown() waits for the next poll.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()  # fmt: skip
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def reply(request: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    """Answer with a status, headers and a body of known length."""
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name.replace("_", "-"), value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)

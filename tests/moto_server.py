"""moto in server mode on a free loopback port, for tests that reach it over HTTP."""

from __future__ import annotations

import threading


class MotoServer:
    """moto's server in a thread, as moto.server.ThreadedMotoServer runs it (the same app and
    request handler, threaded, on port 0: whatever port is free), but polled every 50 ms
    rather than werkzeug's default 0.5 s: stop() waits for the next poll, which cost half a
    second per server."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)  # fmt: skip
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> str:
        """Serve; the endpoint URL."""
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

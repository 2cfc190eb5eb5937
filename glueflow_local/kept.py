"""`make run-local KEEP=1`: the local platform left up between tries, so the next try of a
changed script or a new file starts in seconds.

The first `run-local KEEP=1` starts the platform (moto, the Glue stand-in, the Lambdas,
Airflow's four processes: glueflow_local/run.py) in a process of its own, detached, which
writes `<workdir>/platform.json` (its pid, its control URL, what it was built from) once it is
up, and logs to `<workdir>/platform.log`. Each `run-local KEEP=1`, that first one included,
then asks it over loopback HTTP to run the job on the file, and prints the timeline as the
platform says it.

Before each run the platform deploys the assembly's Glue scripts and DAG folder again, so a
changed script runs as changed. What the platform itself is built from (the configs, the
stacks, the Lambdas, the installed packages: `INFRASTRUCTURE`) is fingerprinted; when that
changed, the kept platform is stopped and a new one started. `make stop-local` stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glueflow_local import synth_cache
from glueflow_local.errors import LocalRunError

STATE = "platform.json"
LOG = "platform.log"
STARTUP_S = 300
# What the platform is built from; the Glue scripts and the DAG folder are deployed again
# before each run instead.
INFRASTRUCTURE = tuple(n for n in synth_cache.READ_BY_SYNTH if n not in ("glue_scripts", "dags"))


def infrastructure(env: str) -> str:
    return synth_cache.fingerprint(env, None, names=INFRASTRUCTURE)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(base: Path) -> dict[str, Any] | None:
    """The kept platform's state, if one is up."""
    path = base / STATE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return state


def stop(base: Path, timeout: float = 60) -> bool:
    """Stop the kept platform of `base`; whether one was up."""
    state = read_state(base)
    if state is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(state["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(int(state["pid"])):
        time.sleep(0.2)
    (base / STATE).unlink(missing_ok=True)
    return True


def ensure(assembly: Path, env: str, base: Path) -> dict[str, Any]:
    """A kept platform built from what is here now: the one up, or a new one."""
    state = read_state(base)
    built_from = infrastructure(env)
    if state is not None and state.get("infrastructure") == built_from:
        return state
    if state is not None:
        print("the configs, stacks or Lambdas changed since the kept platform started: "
              "starting a new one", flush=True)  # fmt: skip
        stop(base)
    base.mkdir(parents=True, exist_ok=True)
    log = (base / LOG).open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "glueflow_local", "--assembly", str(assembly), "--env", env,
         "--workdir", str(base), "serve", "--infrastructure", built_from],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    print(f"starting the kept local platform (pid {process.pid}, log {base / LOG})", flush=True)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        state = read_state(base)
        if state is not None and state.get("pid") == process.pid:
            return state
        if process.poll() is not None:
            raise LocalRunError(f"the kept platform exited while starting: see {base / LOG}")
        time.sleep(0.5)
    process.terminate()
    raise LocalRunError(f"the kept platform did not start in {STARTUP_S} s: see {base / LOG}")


def run(state: dict[str, Any], job: str, file: Path) -> bool:
    """Ask the kept platform to run `job` on `file`; print what it says as it says it."""
    body = json.dumps({"job": job, "file": str(file.resolve())}).encode()
    request = urllib.request.Request(  # noqa: S310 - the platform's loopback URL
        f"{state['url']}/run", data=body, headers={"Content-Type": "application/json"}
    )
    ok = False
    with urllib.request.urlopen(request, timeout=3600) as answer:  # noqa: S310 - loopback
        for raw in answer:
            line = raw.decode().rstrip("\n")
            if line.startswith("\0"):
                ok = json.loads(line[1:])["ok"]
            else:
                print(line, flush=True)
    return ok


def serve(assembly: Path, env: str, base: Path, built_from: str) -> int:
    """The kept platform's process: a local run that stays up and runs what it is asked."""
    from glueflow_local import scenario
    from glueflow_local.__main__ import run_folder
    from glueflow_local.run import LocalRun, started_by

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    lock = threading.Lock()
    workdir = run_folder(base)
    with LocalRun(assembly, env, workdir) as local:
        timeline = local.timeline
        local.pause_all_but(set())  # each run unpauses its job and what that starts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the answer streams until the connection closes

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                with lock:
                    self._run(asked["job"], Path(asked["file"]))

            def _say(self, line: str) -> None:
                self.wfile.write((line + "\n").encode())
                self.wfile.flush()

            def _run(self, job: str, file: Path) -> None:
                first = len(timeline.lines)
                outcome: dict[str, Any] = {}

                def work() -> None:
                    try:
                        local.redeploy_code()
                        running = started_by(local.manifest, job)
                        local.pause_all_but(running)
                        timeline.say("setup", f"kept platform: running {job} on {file.name}")
                        done = scenario.run_local(local, job, file)
                        outcome["lines"] = scenario.describe_outputs(local, job, done["run"])
                        outcome["ok"] = done["run"].state == "success"
                    except Exception as exc:  # the platform stays up for the next try
                        outcome["lines"] = [f"error: {exc}"]
                        outcome["ok"] = False

                worker = threading.Thread(target=work, daemon=True)
                worker.start()
                sent = first
                while worker.is_alive() or sent < len(timeline.lines):
                    worker.join(0.2)
                    for at, kind, text in timeline.lines[sent:]:
                        self._say(f"{at:7.1f}s  {kind:<7} {text}")
                        sent += 1
                for line in ["", *outcome.get("lines", [])]:
                    self._say(line)
                self._say("\0" + json.dumps({"ok": outcome.get("ok", False)}))

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state = {
            "pid": os.getpid(),
            "url": f"http://127.0.0.1:{server.server_address[1]}",
            "infrastructure": built_from,
            "workdir": str(workdir),
        }
        (base / STATE).write_text(json.dumps(state))
        timeline.say("setup", f"kept platform up: {state['url']} (make stop-local ends it)")
        try:
            while not stopped.wait(1):
                pass
        finally:
            server.shutdown()
            (base / STATE).unlink(missing_ok=True)
    return 0


def main_run(assembly: Path, env: str, base: Path, job: str, file: Path) -> int:
    """`run --keep`: the job on the file, on the kept platform (started if need be)."""
    started = time.monotonic()
    try:
        state = ensure(assembly, env, base)
        ok = run(state, job, file)
    except (OSError, urllib.error.URLError) as exc:
        raise LocalRunError(f"the kept platform did not answer ({exc}): make stop-local, "
                            "then try again") from exc  # fmt: skip
    print(f"{'done' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s; the platform "
          f"stays up ({state['workdir']}): make stop-local ends it")  # fmt: skip
    return 0 if ok else 1

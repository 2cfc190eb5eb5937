"""Airflow as MWAA runs it, as processes on this machine.

One home per deployment: the DAG folder as MWAA's S3 sync leaves it, a SQLite database, and
the processes MWAA's scheduler and webserver containers run
(images/airflow/3.3.1/python/mwaa/execute_command.py in aws/amazon-mwaa-docker-images):
`airflow api-server`, `scheduler`, `dag-processor` and `triggerer`, all with MWAA's Airflow
configuration for the version (glueflow_local/mwaa.py).

The executor is MWAA's LocalExecutor option: tasks run as processes of the scheduler, with no
Celery or SQS. Airflow 3.3.1 runs LocalExecutor on SQLite itself in `airflow standalone`
(airflow/cli/commands/standalone_command.py), so no PostgreSQL is needed. Auth is
SimpleAuthManager with every user an admin, as MWAA without IAM sign-in sets it.

Each process runs in a process group of its own, so stopping one ends the task processes it
started too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from glueflow_local.errors import LocalRunError
from glueflow_local.mwaa import mwaa_airflow_env

AIRFLOW = [sys.executable, "-m", "airflow"]
T = TypeVar("T")
_ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|PUT) /|DAG bundles loaded')


# Bounds on one answer of the local API server. Its writes wait on SQLite's one writer (up to
# the 60 s busy timeout below) while the scheduler, DAG processor and triggerer write, and on
# 2 busy cores a read can wait behind them: a late answer is a slow machine, not an error.
READ_S = 30
WRITE_S = 60
READS = 3  # a GET is tried this often (reads are idempotent; a POST or PATCH is not retried)


def get(url: str) -> dict:
    """GET `url` as JSON: again when the answer is late or a 5xx (the API server's read
    failed while SQLite was busy), at most READS times."""
    for attempt in range(1, READS + 1):
        try:
            with urllib.request.urlopen(url, timeout=READ_S) as answer:  # noqa: S310 - loopback
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == READS:
                raise
        except (TimeoutError, urllib.error.URLError) as exc:
            late = isinstance(exc, TimeoutError) or isinstance(exc.reason, TimeoutError)
            if not late or attempt == READS:
                raise
        time.sleep(attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def post(url: str, body: dict, method: str = "POST") -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback http
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=WRITE_S) as answer:  # noqa: S310
        return json.loads(answer.read())


def patch(url: str, body: dict) -> dict:
    """PATCH, as `PATCH /dags/{dag_id}` ({"is_paused": true}) takes it."""
    return post(url, body, method="PATCH")


def airflow_env(
    home: Path,
    api_server_url: str | None = None,
    aws_endpoint: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every Airflow process of `home`: MWAA's configuration, the home's
    own folders and database, and where AWS is."""
    # Airflow settings of the caller's shell (another Airflow's home, a test's unit-test
    # mode) must not leak into this deployment.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return {
        **inherited,
        **mwaa_airflow_env(api_server_url=api_server_url),
        **({"AWS_ENDPOINT_URL": aws_endpoint} if aws_endpoint else {}),
        **(extra or {}),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        # SQLite's busy timeout (Python's sqlite3 default: 5 s) raised: with many task
        # processes writing through the API server, the scheduler, triggerer and DAG processor
        # on 2 busy cores, a heartbeat can wait more than 5 s for the write lock, and the
        # component exits on "database is locked".
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=60",
        # A task process's calls to the execution API wait for that same lock: Airflow's 5 s
        # per call ([workers] execution_api_timeout, airflow/config_templates/config.yml:
        # "Increase this value if you experience timeout errors under high load"), with its 5
        # retries, gave up after about 60 s of a stalled SQLite and failed the task
        # ("API_SERVER_ERROR ... ReadTimeout"). A local-run setting, as the busy timeout is.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        # No connection pool: a connection per session (SQLAlchemy's NullPool; airflow/settings.py,
        # `prepare_engine_args`). With Airflow's default pool (5 + 10 overflow, 30 s checkout
        # timeout), 20 concurrent task processes' heartbeats and rendered fields filled the
        # API server's pool with sessions waiting on SQLite's one write lock: requests took 30
        # to 60 s, the GET of a DAG run failed with "QueuePool limit ... timed out", and the
        # scheduler, DAG processor and triggerer stalled as long (tests/dags/
        # test_deferral_race.py: 33 requests over 20 s with the pool, none over 8 s without).
        # A SQLite connection is a file open; MWAA's PostgreSQL keeps Airflow's pool.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_ENABLED": "False",
        # The task logs in this home, where its API server reads them (a copied home's
        # airflow.cfg would name the template's folder).
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": str(home / "dags"),  # as on MWAA, the DAG folder is importable
        # gunicorn (MWAA's API server type) binds a control socket in $XDG_RUNTIME_DIR, else
        # in ~/.gunicorn: one per home, so two local deployments never share it.
        "XDG_RUNTIME_DIR": str(home),
    }


def bound_port(log: Path) -> str | None:
    """The port the API server bound, from its start-up line in its log: gunicorn's, as MWAA
    runs it ([api] server_type), or uvicorn's."""
    found = re.search(
        r"(?:Listening at:|Uvicorn running on) http://127\.0\.0\.1:(\d+)", log.read_text()
    )
    return found.group(1) if found else None


@dataclass
class Airflow:
    """A running Airflow: its API, its home and the processes this module started."""

    home: Path
    env: dict[str, str]
    base: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, *command: str, env: dict[str, str] | None = None) -> None:
        log = (self.home / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [*AIRFLOW, *command],
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child has its own copy

    def logs(self) -> str:
        """The end of each process's log, without the API's access lines (the polling)."""
        tails = []
        for name in self.processes:
            lines = (self.home / f"{name}.log").read_text(errors="replace").splitlines()
            kept = [line for line in lines if not _ACCESS_LINE.search(line)]
            tails.append(f"--- {name}.log (end)\n" + "\n".join(kept)[-2000:])
        return "\n".join(tails)

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float) -> T:
        """`check()`'s first true answer, polled for at most `timeout` seconds; fails with the
        processes' logs when one of them exits or time runs out."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                found = check()
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise
                # A read of the API server can fail with a 500 while the scheduler writes
                # (SQLite takes one writer at a time). Poll again within the bound.
                found, last_error = None, f"{exc.code} {exc.read()[:500]!r}"
            except (TimeoutError, urllib.error.URLError) as exc:
                # Late (see READ_S), or not listening yet: poll again within the bound.
                found, last_error = None, repr(exc)
            if found:
                return found
            exited = [name for name, p in self.processes.items() if p.poll() is not None]
            if exited:
                raise LocalRunError(f"{what}: Airflow's {exited} exited\n{self.logs()}")
            if time.monotonic() > deadline:
                raise LocalRunError(
                    f"{what}: not within {timeout:.0f} s (last error: {last_error or 'none'})"
                    f"\n{self.logs()}"
                )
            time.sleep(0.25)  # the polling interval, not the wait: the deadline bounds that

    def stop(self) -> None:
        """Stops each process group, in the reverse order of their start so the scheduler's
        task processes still reach the API server as they end. Airflow's graceful stop first;
        after a few seconds, a kill: the scheduler waits for running tasks to finish
        (airflow/executors/local_executor.py, `end`), and this deployment is thrown away."""
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in reversed(self.processes.values()):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def all_healthy(
    deployment: Airflow, components: tuple[str, ...] = ("scheduler", "dag_processor")
) -> Callable[[], bool]:
    """Whether the metadata database and each of `components` report healthy."""

    def check() -> bool:
        try:
            health = get(f"{deployment.base}/monitor/health")
        except OSError:
            return False
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", *components)
        )

    return check


def migrate(home: Path, env: dict[str, str], timeout_s: float = 300) -> None:
    """MWAA's migrate-db step: the database created and migrated."""
    done = subprocess.run(
        [*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=timeout_s
    )
    if done.returncode:
        raise LocalRunError(
            f"airflow db migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    # Write-ahead logging, kept in the database file: readers no longer block the writer nor
    # the writer the readers ("Write-Ahead Logging", sqlite.org/wal.html). In the default
    # rollback journal, a commit waits for every open read transaction; with the API server,
    # scheduler, DAG processor, triggerer and task processes on one file, one long reader
    # stalled every writer until the 60 s busy timeout, and the scheduler exited on "database
    # is locked". A local-run setting: MWAA's metadata database is PostgreSQL.
    database = home / "airflow.db"
    if database.is_file():
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA journal_mode=WAL")


def parsed_since(
    deployment: Airflow, dag_ids: Collection[str], since: datetime
) -> Callable[[], bool]:
    """Whether the DAG processor has parsed each of `dag_ids` since `since` (GET /dags: active
    DAGs, with their last_parsed_time).

    A home copied from a template has its DAGs serialized already, parsed before this
    processor started. When the processor's first parse of their file fails (killed after
    [dag_processor] dag_file_processor_timeout, 50 s, on a stalled machine), it marks each
    DAG last parsed over stale_dag_threshold before as stale (airflow/dag_processing/
    manager.py, `deactivate_stale_dags`) until a later parse, and the API answers a run of a
    stale DAG with 404 "Dag with dag_id: ... not found"
    (airflow/api_fastapi/core_api/routes/public/dag_run.py, `trigger_dag_run`)."""

    def check() -> bool:
        dags = get(f"{deployment.base}/dags?limit=1000")["dags"]
        parsed = {d["dag_id"]: d.get("last_parsed_time") for d in dags}
        return all(
            parsed.get(dag_id) and datetime.fromisoformat(parsed[dag_id]) >= since
            for dag_id in dag_ids
        )

    return check


def serialized(home: Path, env: dict[str, str], timeout_s: float = 300) -> None:
    """A home as MWAA's migrate-db step leaves it (`migrate`), with its DAG folder's DAGs
    serialized: a template that tests copy."""
    migrate(home, env, timeout_s)
    subprocess.run([*AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True,
                   timeout=timeout_s)  # fmt: skip


def start_deployment(
    home: Path,
    aws_env: dict[str, str],
    startup_s: float,
    port: int = 0,
    components: tuple[str, ...] = ("scheduler", "dag-processor", "triggerer"),
    parsed: Collection[str] = (),
) -> Airflow:
    """The API server (on `port`, 0 for a free one), then `components`, all healthy, and each
    DAG of `parsed` parsed by this deployment's DAG processor (see `parsed_since`)."""
    deployment = Airflow(home=home, env=airflow_env(home, extra=aws_env))
    started = datetime.now(UTC)
    try:
        # One worker: MWAA runs the default four, which only adds start-up time here.
        deployment.start(
            "api-server", "api-server", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1",
        )  # fmt: skip
        log = home / "api-server.log"
        bound = deployment.wait_for("the API server binding a port", lambda: bound_port(log),
                                    startup_s)  # fmt: skip
        server = f"http://127.0.0.1:{bound}"
        deployment.base = f"{server}/api/v2"
        # Task processes reach the execution API of this server, as on MWAA they reach
        # MWAA__CORE__API_SERVER_URL's.
        env = airflow_env(home, api_server_url=server, extra=aws_env)
        for component in components:
            # No log servers: they bind fixed ports (8793, 8794) on every interface; the API
            # server reads the task logs from this home's files.
            skip = ["--skip-serve-logs"] if component in ("scheduler", "triggerer") else []
            deployment.start(component, component, *skip, env=env)
        deployment.wait_for(
            "every Airflow component healthy",
            all_healthy(deployment, tuple(c.replace("-", "_") for c in components)),
            startup_s,
        )
        if parsed:
            deployment.wait_for(f"{len(parsed)} DAGs parsed", parsed_since(deployment, parsed,
                                started), startup_s)  # fmt: skip
    except BaseException:
        deployment.stop()
        raise
    return deployment

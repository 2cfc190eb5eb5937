"""AWS Glue's job-run API on this machine: a `StartJobRun` runs the job's real script.

An HTTP server that speaks Glue's JSON protocol (`X-Amz-Target: AWSGlue.<Operation>`,
awsJson1.1), so Airflow's Glue operator and hook reach it unmodified through the endpoint
setting every AWS SDK reads (`AWS_ENDPOINT_URL_GLUE`). The run operations are answered here;
every other operation (GetJob, CreateJob, ...) is passed to moto, which holds the job
definitions created from the templates.

A run does what Glue does ("AWS Glue job run statuses" and "JobRun", AWS Glue Developer
Guide and API reference):
- It takes the job definition's script (`Command.ScriptLocation`), `--extra-py-files` and
  `DefaultArguments`, the run's `Arguments` overriding them, and gives the script Glue's argv:
  `--JOB_ID`, `--JOB_RUN_ID`, `--JOB_NAME`, then the arguments.
- It moves through STARTING, RUNNING and SUCCEEDED, FAILED, TIMEOUT (after the job's
  `Timeout` minutes) or STOPPED (BatchStopJobRun), or waits (WAITING) while the job has
  `MaxConcurrentRuns` runs and `JobRunQueuingEnabled`; without queuing the run is refused
  with ConcurrentRunsExceededException. It reports `ExecutionTime` in seconds and, when it
  fails, the exception's last line as `ErrorMessage`.
- Its driver's stdout and stderr go to CloudWatch Logs, in the job's output and error log
  groups: `/aws-glue/jobs/output|error`, or under a security configuration that encrypts
  logs `/aws-glue/jobs/<configuration>-role/<role name>/output|error` ("Encrypting data
  written by AWS Glue", AWS Glue Developer Guide); the stream is `<run id>-driver` on Glue 5
  and the run id before ("Logging for AWS Glue jobs").
- Ending FAILED, TIMEOUT, STOPPED or SUCCEEDED, it sends the `Glue Job State Change` event to
  the local EventBridge rules.

The script runs on local PySpark with the `awsglue` stand-in (glueflow_local/standin). Spark's
S3 connector cannot be installed here, so a run stages through local files: the objects under
each `s3://` URI among its arguments are copied from moto to a folder per bucket, which the
stand-in's GlueContext mounts as `s3://`; what the run wrote or deleted there is copied back
when it ends. The script only ever sees `s3://` URIs. Anything else it does through boto3
(the validation report) goes to moto directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glueflow_local.cloud import LocalCloud
from glueflow_local.events import glue_job_state_change
from glueflow_local.serving import reply, serve
from glueflow_local.spark import local_spark
from glueflow_local.timeline import Timeline

STANDIN = Path(__file__).with_name("standin")
RUN_SCRIPT = STANDIN / "run_script.py"
MIRROR_LIST = ".mirrored.jsonl"  # run_script.py: objects the script wrote through boto3
S3_ROOT_VARIABLE = "AWSGLUE_STANDIN_S3_ROOT"  # standin/awsglue/context.py
RUN_OPERATIONS = {"StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun"}
ACTIVE = {"STARTING", "RUNNING", "STOPPING"}
FINISHED = {"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"}


@dataclass
class GlueRun:
    """One job run, as GetJobRun reports it, and the process behind it."""

    id: str
    job: dict[str, Any]
    arguments: dict[str, str]
    state: str = "STARTING"
    started_on: float = field(default_factory=time.time)
    running_since: float | None = None
    completed_on: float | None = None
    modified_on: float = field(default_factory=time.time)
    error: str | None = None
    process: subprocess.Popen[bytes] | None = None
    stop_requested: bool = False

    def execution_time(self) -> int:
        if self.running_since is None:
            return 0
        return int((self.completed_on or time.time()) - self.running_since)

    def describe(self) -> dict[str, Any]:
        job = self.job
        run = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": job["Name"],
            "StartedOn": self.started_on,
            "LastModifiedOn": self.modified_on,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "PredecessorRuns": [],
            "ExecutionTime": self.execution_time(),
            "Timeout": job.get("Timeout", 2880),
            "GlueVersion": job.get("GlueVersion"),
            "WorkerType": job.get("WorkerType"),
            "NumberOfWorkers": job.get("NumberOfWorkers"),
            "ExecutionClass": job.get("ExecutionClass", "STANDARD"),
            "LogGroupName": log_group_base(job),
        }
        if self.completed_on:
            run["CompletedOn"] = self.completed_on
        if self.error:
            run["ErrorMessage"] = self.error
        return {k: v for k, v in run.items() if v is not None}


def log_group_base(job: dict[str, Any]) -> str:
    """The prefix of the run's log groups (`<prefix>/output`, `<prefix>/error`)."""
    configuration = job.get("SecurityConfiguration")
    if not configuration:
        return "/aws-glue/jobs"
    role_name = str(job.get("Role", "")).rsplit("/", 1)[-1]
    return f"/aws-glue/jobs/{configuration}-role/{role_name}"


def driver_stream(job: dict[str, Any], run_id: str) -> str:
    version = str(job.get("GlueVersion") or "0")
    return f"{run_id}-driver" if float(version) >= 5 else run_id


class GlueError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class GlueStandIn:
    """The job-run half of Glue's API, running scripts; the rest passed to moto."""

    def __init__(self, cloud: LocalCloud, timeline: Timeline, workdir: Path) -> None:
        self.cloud = cloud
        self.timeline = timeline
        self.workdir = workdir
        self.runs: dict[str, GlueRun] = {}
        # Faults a scenario asks for (glueflow_local/scenarios.py): per Glue job name, what
        # its next runs do, "before_write" or "after_write", in order.
        self.faults: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.endpoint = ""

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # no access log
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                operation = target.partition(".")[2]
                if operation not in RUN_OPERATIONS:
                    status, headers, answer = stand_in.forward(self.path, self.headers, body)
                else:
                    try:
                        status, answer = (
                            200,
                            json.dumps(
                                stand_in.handle(operation, json.loads(body or b"{}"))
                            ).encode(),
                        )
                    except GlueError as exc:
                        status = exc.status
                        answer = json.dumps({"__type": exc.code, "Message": exc.message}).encode()
                    headers = {"Content-Type": "application/x-amz-json-1.1"}
                reply(self, status, answer, **headers)

        self._server, self.endpoint = serve(Handler)
        return self.endpoint

    def stop(self) -> None:
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.stop_requested = True
            if run.process and run.process.poll() is None:
                _kill(run.process)
        for thread in self._threads:
            thread.join(timeout=30)
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _fault(self, job_name: str) -> str | None:
        with self._lock:
            pending = self.faults.get(job_name)
            return pending.pop(0) if pending else None

    def active(self) -> list[str]:
        """The runs not yet ended."""
        with self._lock:
            return [r.id for r in self.runs.values() if r.state not in FINISHED]

    def forward(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Pass a request to moto as it came."""
        request = urllib.request.Request(  # noqa: S310 - moto on loopback
            self.cloud.endpoint + path,
            data=body,
            headers={k: v for k, v in headers.items() if k.lower() not in ("host",)},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                status, data, got = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as exc:
            status, data, got = exc.code, exc.read(), exc.headers
        kept = {k: v for k, v in got.items() if k.lower() in ("content-type", "x-amzn-requestid")}
        return status, kept, data

    # --- Operations ---------------------------------------------------------------------

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "StartJobRun":
            return {"JobRunId": self.start_run(request)}
        if operation == "GetJobRun":
            return {"JobRun": self._run(request["JobName"], request["RunId"]).describe()}
        if operation == "GetJobRuns":
            with self._lock:
                runs = [r.describe() for r in self.runs.values() if r.job["Name"] == request[
                    "JobName"]]  # fmt: skip
            return {"JobRuns": sorted(runs, key=lambda r: -r["StartedOn"])}
        if operation == "BatchStopJobRun":
            stopped = []
            for run_id in request.get("JobRunIds", []):
                run = self._run(request["JobName"], run_id)
                run.stop_requested = True
                if run.process and run.process.poll() is None:
                    _kill(run.process)
                stopped.append({"JobName": request["JobName"], "JobRunId": run_id})
            return {"SuccessfulSubmissions": stopped, "Errors": []}
        raise GlueError("InvalidInputException", f"{operation} is not handled here")

    def _run(self, job_name: str, run_id: str) -> GlueRun:
        with self._lock:
            run = self.runs.get(run_id)
        if run is None or run.job["Name"] != job_name:
            raise GlueError("EntityNotFoundException", f"Job run {run_id} of {job_name} not found")
        return run

    def start_run(self, request: dict[str, Any]) -> str:
        name = request["JobName"]
        try:
            job = self.cloud.client("glue").get_job(JobName=name)["Job"]
        except Exception as exc:
            raise GlueError("EntityNotFoundException", f"Job {name} not found: {exc}") from None
        run = GlueRun(id=f"jr_{secrets.token_hex(32)}", job=job,
                      arguments=dict(request.get("Arguments") or {}))  # fmt: skip
        limit = int((job.get("ExecutionProperty") or {}).get("MaxConcurrentRuns", 1))
        with self._lock:
            active = [r for r in self.runs.values() if r.job["Name"] == name
                      and r.state in ACTIVE | {"WAITING"}]  # fmt: skip
            if len(active) >= limit:
                if not job.get("JobRunQueuingEnabled"):
                    raise GlueError(
                        "ConcurrentRunsExceededException",
                        f"Concurrent runs exceeded for {name}: MaxConcurrentRuns is {limit}",
                    )
                run.state = "WAITING"
            self.runs[run.id] = run
        self.timeline.say("glue", f"{name}: StartJobRun -> {run.id[:15]}… {run.state}")
        thread = threading.Thread(target=self._execute, args=(run, limit), daemon=True)
        self._threads.append(thread)
        thread.start()
        return run.id

    # --- A run ----------------------------------------------------------------------------

    def _set(
        self, run: GlueRun, state: str, error: str | None = None, detail: str | None = None
    ) -> None:
        with self._lock:
            run.state, run.modified_on = state, time.time()
            if state == "RUNNING":
                run.running_since = run.modified_on
            if state in FINISHED:
                run.completed_on = run.modified_on
                run.error = error
        extra = f" after {run.execution_time()} s" if state in FINISHED else ""
        reason = f": {error}" if error else f" ({detail})" if detail else ""
        self.timeline.say("glue", f"{run.job['Name']}: run {run.id[:15]}… {state}{extra}{reason}")

    def _execute(self, run: GlueRun, limit: int) -> None:
        name = run.job["Name"]
        while run.state == "WAITING" and not run.stop_requested:
            with self._lock:
                running = [r for r in self.runs.values() if r.job["Name"] == name
                           and r.state in ACTIVE and r is not run]  # fmt: skip
                if len(running) < limit:
                    run.state = "STARTING"
            time.sleep(0.5)
        if run.stop_requested:
            self._finish(run, "STOPPED", "Job run was stopped", [], [])
            return
        folder = self.workdir / "glue" / run.id[:19]
        try:
            spark = local_spark(run.job["GlueVersion"])  # the synthesized job always sets it
            argv, extra, staged = self._prepare(run, folder)
        except Exception as exc:
            self._finish(run, "FAILED", f"could not start the run: {exc}", [], [])
            return
        fault = self._fault(name)
        if fault == "before_write":
            self._unstage(folder / "s3", staged)
            self._finish(run, "FAILED", "scenario fault: the run failed before it wrote", [], [])
            return
        env = {
            **os.environ,
            **self.cloud.aws_env(),
            S3_ROOT_VARIABLE: str(folder / "s3"),
            "PYTHONPATH": spark.pythonpath,  # Glue 6.x: the Spark 4 tree before the venv's
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",  # Spark listens on loopback only
        }
        run.process = subprocess.Popen(
            [sys.executable, str(RUN_SCRIPT), str(STANDIN), ",".join(extra), *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=folder,
            start_new_session=True,
        )  # fmt: skip
        out_lines: list[tuple[int, str]] = []
        err_lines: list[tuple[int, str]] = []
        readers = [
            threading.Thread(target=_read_lines, args=(stream, lines, folder / name), daemon=True)
            for stream, lines, name in ((run.process.stdout, out_lines, "stdout.log"),
                                        (run.process.stderr, err_lines, "stderr.log"))
        ]  # fmt: skip
        for reader in readers:
            reader.start()
        self._set(run, "RUNNING", detail=f"Glue {spark.glue_version}, PySpark {spark.version}")
        timeout_s = int(run.job.get("Timeout", 2880)) * 60
        try:
            code = run.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(run.process)
            code = None
        for reader in readers:
            reader.join(timeout=10)
        self._unstage(folder / "s3", staged)
        if run.stop_requested:
            self._finish(run, "STOPPED", "Job run was stopped", out_lines, err_lines)
        elif code is None:
            self._finish(run, "TIMEOUT", f"Job run timed out after {timeout_s // 60} minutes",
                         out_lines, err_lines)  # fmt: skip
        elif code == 0 and fault == "after_write":
            self._finish(run, "FAILED", "scenario fault: the run failed after it wrote",
                         out_lines, err_lines)  # fmt: skip
        elif code == 0:
            self._finish(run, "SUCCEEDED", None, out_lines, err_lines)
        else:
            message = _error_message([line for _, line in err_lines], code)
            self._finish(run, "FAILED", message, out_lines, err_lines)

    def _prepare(self, run: GlueRun, folder: Path) -> tuple[list[str], list[str], dict]:
        """The script, its libraries and Glue's argv; the run's S3 URIs staged locally."""
        folder.mkdir(parents=True, exist_ok=True)
        job = run.job
        arguments = {**(job.get("DefaultArguments") or {}), **run.arguments}
        script = self._download(job["Command"]["ScriptLocation"], folder / "script")
        extra = [
            str(self._download(uri, folder / "lib"))
            for uri in filter(None, arguments.get("--extra-py-files", "").split(","))
        ]
        argv = [str(script), "--JOB_ID", f"j_{secrets.token_hex(32)}", "--JOB_RUN_ID", run.id,
                "--JOB_NAME", job["Name"]]  # fmt: skip
        for key, value in arguments.items():
            argv += [key, value]
        skip = {"--extra-py-files", "--TempDir", "--validation-report-uri"}
        # The run's temp bucket is mounted, empty: the script writes there through boto3 (a
        # staged object version, glueflow_glue) and Spark reads it back (run_script.py).
        temp_bucket = arguments.get("--TempDir", "").removeprefix("s3://").partition("/")[0]
        if temp_bucket:
            (folder / "s3" / temp_bucket).mkdir(parents=True, exist_ok=True)
        uris = {
            uri.strip()
            for key, value in arguments.items() if key not in skip
            for uri in str(value).split(",") if uri.strip().startswith("s3://")
        }  # fmt: skip
        return argv, extra, self._stage(uris, folder / "s3", run.job.get("Role", ""))

    def _download(self, uri: str, folder: Path) -> Path:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        target = folder / Path(key).name
        folder.mkdir(parents=True, exist_ok=True)
        self.cloud.client("s3").download_file(bucket, key, str(target))
        return target

    def _stage(
        self, uris: set[str], root: Path, role: str = ""
    ) -> dict[tuple[str, str], tuple[int, str]]:
        """Copy the objects under each URI to `<root>/<bucket>/<key>`; what was copied. In
        another account's bucket, only what its policy lets the job's role read (AccessDenied
        otherwise, as S3 answers: glueflow_local/sources.py)."""
        s3 = self.cloud.client("s3")
        staged: dict[tuple[str, str], tuple[int, str]] = {}
        sources = self.cloud.sources
        for uri in sorted(uris):
            bucket, _, prefix = uri.removeprefix("s3://").partition("/")
            (root / bucket).mkdir(parents=True, exist_ok=True)
            if sources is not None and sources.owns(bucket):
                listed = [
                    obj["Key"]
                    for page in s3.get_paginator("list_objects_v2").paginate(
                        Bucket=bucket, Prefix=prefix
                    )
                    for obj in page.get("Contents", [])
                ]
                sources.check_read(role, bucket, prefix, listed)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/") or (bucket, obj["Key"]) in staged:
                        continue
                    target = root / bucket / obj["Key"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(target))
                    staged[(bucket, obj["Key"])] = (target.stat().st_size, _mtime(target))
        return staged

    def _unstage(self, root: Path, staged: dict[tuple[str, str], tuple[int, str]]) -> None:
        """Copy back what the run wrote, and delete what it deleted."""
        if not root.is_dir():
            return
        s3 = self.cloud.client("s3")
        listing = root / MIRROR_LIST  # written to moto by the script already (run_script.py)
        mirrored: dict[tuple[str, str], tuple[int, str]] = {}
        if listing.is_file():
            for line in listing.read_text(encoding="utf-8").splitlines():
                bucket, key, size, mtime = json.loads(line)
                mirrored[(bucket, key)] = (size, str(mtime))
            listing.unlink()
        staged = {**staged, **mirrored}  # the script's write is the newer
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            bucket, _, key = path.relative_to(root).as_posix().partition("/")
            if staged.get((bucket, key)) != (path.stat().st_size, _mtime(path)):
                s3.upload_file(str(path), bucket, key)
        for bucket, key in staged:
            if (bucket, key) not in mirrored and not (root / bucket / key).exists():
                s3.delete_object(Bucket=bucket, Key=key)
        shutil.rmtree(root, ignore_errors=True)

    def _finish(
        self,
        run: GlueRun,
        state: str,
        error: str | None,
        out: list[tuple[int, str]],
        err: list[tuple[int, str]],
    ) -> None:
        """Logs first (an alert reads them as soon as the state is final), then the state,
        then the event."""
        self._put_logs(run, "output", out)
        self._put_logs(run, "error", err)
        self._set(run, state, error)
        event = glue_job_state_change(
            self.cloud.account, self.cloud.region, run.job["Name"], run.id, state,
            error or "Job run succeeded",
        )  # fmt: skip
        try:
            self.cloud.put_event(event)
        except Exception as exc:
            self.timeline.say("event", f"Glue Job State Change not delivered: {exc}")

    def _put_logs(self, run: GlueRun, kind: str, lines: list[tuple[int, str]]) -> None:
        logs = self.cloud.client("logs")
        group = f"{log_group_base(run.job)}/{kind}"
        stream = driver_stream(run.job, run.id)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [{"timestamp": at, "message": line} for at, line in lines if line.strip()]
        for start in range(0, len(events), 5000):  # PutLogEvents takes 10,000 events at most
            logs.put_log_events(
                logGroupName=group, logStreamName=stream, logEvents=events[start : start + 5000]
            )


def _read_lines(stream: Any, lines: list[tuple[int, str]], path: Path) -> None:
    """Each line of a stream with the time it came (ms), as CloudWatch stamps log events."""
    with path.open("w", encoding="utf-8") as copy:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append((int(time.time() * 1000), line))
            copy.write(line + "\n")


def _error_message(lines: list[str], code: int) -> str:
    """What Glue reports for a script that raised: the exception's last line."""
    for line in reversed(lines):
        text = line.strip()
        if text and ":" in text and not text.startswith(("at ", "File ", "WARN", "INFO")):
            return text[:2048]
    return f"the script exited with status {code}"


def _mtime(path: Path) -> str:
    return str(path.stat().st_mtime_ns)


def _kill(process: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

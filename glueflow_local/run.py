"""A whole environment running on this machine, from its synthesized cloud assembly.

`LocalRun` starts, in order: moto's server with the environment's resources
(glueflow_local.cloud), the webhook receiver that stands in for Slack and Teams, the Glue
stand-in (glueflow_local.glue), and Airflow's processes (glueflow_local.airflow) on the DAG
folder read back from the MWAA bucket. Landing a file puts the object in moto's S3 and sends
S3's `Object Created` event to the environment's EventBridge rules; the trigger Lambda, run
from its bundle, starts the DAG run through the Airflow REST API (the transport it uses when
AIRFLOW_API_URL is set; on AWS it calls MWAA's InvokeRestApi, which forwards the same
request). A `Watcher` follows every DAG run and task through Airflow's API and writes the
timeline. Leaving the `with` block ends every process, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from configs.steps import registry, step_type
from glueflow_local import airflow as local_airflow
from glueflow_local import tables, warehouse
from glueflow_local.assembly import CloudAssembly
from glueflow_local.cloud import BUCKET_DEPLOYMENT, LocalCloud
from glueflow_local.errors import LocalRunError
from glueflow_local.events import object_created
from glueflow_local.faults import ApiGate
from glueflow_local.glue import GlueStandIn
from glueflow_local.timeline import Timeline
from glueflow_local.webhook import WebhookReceiver

STARTUP_S = 240  # bound on Airflow's start on a busy 2-core machine
POLL_S = 0.5  # how often the watcher reads Airflow's API
# How often the Glue task and the input sensor poll in the local run (dag_builder.POLL_S;
# 60 s on MWAA).
POLL_SECONDS = "2"
TERMINAL = {"success", "failed"}
QUIET_S = 6
TASK_TERMINAL = {"success", "failed", "skipped", "upstream_failed", "removed"}
T = TypeVar("T")
# The run ids the trigger Lambda gives the runs it starts (lambda/trigger/handler.py, run_id).
S3_RUN_PREFIX = "s3__"
# On a compressed clock (LocalRun's time_scale), Airflow's task retry delays shrink with it:
# a cluster policy (Airflow's `task_policy`, read from $AIRFLOW_HOME/config/
# airflow_local_settings.py, "Cluster Policies", Airflow documentation) applied when the DAG
# processor parses the DAGs. Local runs only; MWAA gets the DAG folder, never this file.
LOCAL_SETTINGS = """\
from datetime import timedelta

TIME_SCALE = {scale!r}


def task_policy(task):
    if task.retry_delay:
        task.retry_delay = timedelta(seconds=task.retry_delay.total_seconds() / TIME_SCALE)
"""


@dataclass
class Landing:
    """A file put into S3, and what its event did."""

    bucket: str
    key: str
    put_at: float  # wall clock, seconds
    event: dict[str, Any]
    rules: list[str]
    trigger_results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunRecord:
    dag_id: str
    run_id: str
    run_type: str
    state: str
    conf: dict[str, Any]
    queued_at: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    glue_run_id: str | None = None
    gate: str | None = None
    cost: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id, "run_id": self.run_id, "run_type": self.run_type,
            "state": self.state, "conf": self.conf, "queued_at": self.queued_at,
            "start_date": self.start_date, "end_date": self.end_date,
            "tasks": {k: v["state"] for k, v in self.tasks.items()},
            "glue_run_id": self.glue_run_id, "gate": self.gate, "cost": self.cost,
        }  # fmt: skip


class Watcher:
    """Follows every DAG run and task instance through the API, onto the timeline."""

    def __init__(self, base: str, dag_ids: list[str], timeline: Timeline, ids: Any) -> None:
        self.base = base
        self.dag_ids = dag_ids
        self.timeline = timeline
        self.ids = ids
        self.runs: dict[tuple[str, str], RunRecord] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.error: str | None = None
        self.last_ok = 0.0  # time.monotonic() of the last poll Airflow answered in full

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
                self.error = None
                self.last_ok = time.monotonic()
            except Exception as exc:  # the API is busy or going away; try again
                self.error = repr(exc)
            self._stop.wait(POLL_S)

    def _url(self, dag_id: str, run_id: str = "", rest: str = "") -> str:
        url = f"{self.base}/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns"
        if run_id:
            url += f"/{urllib.parse.quote(run_id, safe='')}"
        return url + rest

    def poll(self) -> None:
        for dag_id in self.dag_ids:
            for run in local_airflow.get(self._url(dag_id) + "?limit=100")["dag_runs"]:
                self._follow(dag_id, run)

    def _follow(self, dag_id: str, run: dict[str, Any]) -> None:
        key = (dag_id, run["dag_run_id"])
        record = self.runs.get(key)
        if record is None:
            record = RunRecord(dag_id, run["dag_run_id"], run["run_type"], "", run.get("conf")
                               or {}, run.get("queued_at"))  # fmt: skip
            self.runs[key] = record
            source = f" for {record.conf['key']}" if record.conf.get("key") else ""
            # The trigger starts runs through the REST API, which Airflow records as manual.
            kind = "by the S3 trigger" if record.run_id.startswith(S3_RUN_PREFIX) else (
                f"({record.run_type})"
            )  # fmt: skip
            self.timeline.say("dag", f"{dag_id}: run {_short(record.run_id)} created "
                                     f"{kind}{source}")  # fmt: skip
        if record.state in TERMINAL and record.end_date:
            return
        record.start_date, record.end_date = run.get("start_date"), run.get("end_date")
        self._tasks(record)
        if run["state"] != record.state:
            record.state = run["state"]
            if record.state != "queued":
                self.timeline.say("dag", f"{dag_id}: run {_short(record.run_id)} {record.state}")

    def _tasks(self, record: RunRecord) -> None:
        url = self._url(record.dag_id, record.run_id, "/taskInstances")
        for ti in local_airflow.get(url)["task_instances"]:
            task, state = ti["task_id"], ti["state"] or "none"
            seen = record.tasks.get(task)
            if seen and seen["state"] == state:
                continue
            same_try = seen is not None and seen.get("try") == ti.get("try_number")
            first_start = (seen or {}).get("first_start") if same_try else None
            deferred = bool(same_try and (seen or {}).get("deferred"))
            # Running again in the same try: it deferred, whether or not a poll saw it so.
            resumed = bool(same_try and state == "running" and (seen or {}).get("ran"))
            record.tasks[task] = {
                "state": state,
                "start": ti.get("start_date"),
                "end": ti.get("end_date"),
                "try": ti.get("try_number"),
                # When this try first ran, and whether it deferred: a deferred task runs again
                # in the same try when its trigger fires, with a start date of its own.
                "first_start": first_start or ti.get("start_date"),
                "deferred": deferred or resumed or state == "deferred",
                "ran": bool(same_try and (seen or {}).get("ran")) or state == "running",
            }
            name = f"{record.dag_id}.{task}"
            if state == "running" and (deferred or resumed):
                self.timeline.say("task", f"{name} resumed (try {ti.get('try_number')}): its "
                                          "trigger fired")  # fmt: skip
            elif state == "running":
                self.timeline.say("task", f"{name} started (try {ti.get('try_number')})")
            elif state == "deferred":
                self.timeline.say("task", f"{name} deferred (the triggerer follows it)")
            elif state in TASK_TERMINAL:
                self.timeline.say("task", f"{name} {state}{_took(record.tasks[task], ti)}")
                self._verdicts(record, task, state)

    def _xcom(self, record: RunRecord, task: str, key: str = "return_value") -> Any:
        url = self._url(record.dag_id, record.run_id,
                        f"/taskInstances/{task}/xcomEntries/{key}")  # fmt: skip
        try:
            return local_airflow.get(url).get("value")
        except OSError:
            return None

    def _verdicts(self, record: RunRecord, task: str, state: str) -> None:
        ids = self.ids
        if task == ids.GLUE_TASK:
            details = self._xcom(record, task, "glue_job_run_details") or {}
            record.glue_run_id = (details.get("job_run_id") if isinstance(details, dict)
                                  else None) or self._xcom(record, task)  # fmt: skip
        elif task == ids.GATE_TASK and state in ("success", "failed"):
            # The one gate task's verdict, passed or failed (dags/glueflow_runtime/gate.py).
            record.gate = self._xcom(record, task, ids.VERDICT_KEY)
            verdict = record.gate or "no verdict: the gate could not read the run's report"
            stopped = "; the gate stopped the pipeline" if state == "failed" else ""
            self.timeline.say("gate", f"{record.dag_id}: {verdict}{stopped}")
        elif task == ids.COST_TASK and state == "success":
            record.cost = self._xcom(record, task)
            if isinstance(record.cost, dict):
                c = record.cost
                self.timeline.say(
                    "cost", f"{record.dag_id}: Glue run {c.get('state')} cost "
                    f"${c.get('cost_usd', 0):.4f} ({c.get('dpu_hours', 0):.4f} DPU-hours, "
                    f"{c.get('duration_seconds')} s), metric put to CloudWatch",
                )  # fmt: skip

    def finished(self, dag_id: str, run_id: str) -> RunRecord | None:
        record = self.runs.get((dag_id, run_id))
        done = record and record.state in TERMINAL and all(
            t["state"] in TASK_TERMINAL for t in record.tasks.values()
        )  # fmt: skip
        return record if done else None


def _took(seen: dict[str, Any], ti: dict[str, Any]) -> str:
    """How long the try took, from its first start to its end: a deferred try's own duration
    counts only its last stretch (a Glue task's, the seconds after the Glue run ended)."""
    start, end = seen.get("first_start"), ti.get("end_date")
    if start and end:
        took = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        if took >= 0:
            return f" in {took:.1f} s" + (" (deferred in between)" if seen.get("deferred") else "")
    if ti.get("duration") is not None and float(ti["duration"]) >= 0:
        return f" in {float(ti['duration']):.1f} s"
    return ""


def _answered(call: Callable[[], T]) -> T | None:
    """`call()`'s answer, or None while the API server is busy: a 500 (SQLite takes one
    writer at a time, and the API server answers 500 while it waits) or a timeout."""
    try:
        return call()
    except urllib.error.HTTPError as exc:
        if exc.code < 500:
            raise
        return None
    except OSError:
        return None


def _dags(base: str) -> dict[str, bool] | None:
    """Each DAG's is_paused (GET /dags); None while the API server does not answer."""
    found = _answered(lambda: local_airflow.get(f"{base}/dags?limit=1000")["dags"])
    return None if found is None else {dag["dag_id"]: dag["is_paused"] for dag in found}


def _patched(base: str, dag_id: str, paused: bool) -> bool | None:
    done = _answered(lambda: local_airflow.patch(f"{base}/dags/{dag_id}", {"is_paused": paused}))
    return None if done is None else True


def started_by(manifest: dict[str, Any], job: str) -> set[str]:
    """`job` and every job its runs start, however indirectly: the jobs that depend on it
    (their asset schedule) and those its steps start (trigger_job)."""
    jobs = manifest["jobs"]
    found, todo = {job}, [job]
    while todo:
        current = todo.pop()
        started = {name for name, entry in jobs.items() if current in entry.get("depends_on", [])}
        started |= {job for step in jobs[current].get("downstream", [])
                    for _, job in step_type(step["type"]).starts(step)}  # fmt: skip
        for name in sorted(started - found):
            found.add(name)
            todo.append(name)
    return found


def _short(run_id: str) -> str:
    return run_id if len(run_id) <= 28 else run_id[:24] + "…"


class LocalRun:
    """One environment, running locally; a context manager that ends it all."""

    def __init__(
        self,
        assembly_dir: Path,
        env: str,
        workdir: Path,
        timeline: Timeline | None = None,
        airflow_port: int = 0,
        time_scale: float = 1.0,
        only: Collection[str] | None = None,
    ) -> None:
        self.timeline = timeline or Timeline()
        # run-local's job, or a scenario's, and the jobs their runs start; every other DAG
        # is paused. None: every DAG runs.
        self.only = set(only) if only else None
        # Seconds of scenario time per real second: the trigger's backoff and retry window,
        # a failed batch's return and Airflow's retry delays all run this much faster.
        self.time_scale = time_scale
        self.env = env
        self.workdir = workdir.resolve()
        self.airflow_port = airflow_port
        try:
            self.assembly = CloudAssembly(assembly_dir, env)
        except FileNotFoundError:
            raise LocalRunError(
                f"no cloud assembly in {assembly_dir}: run make synth ENV={env} first"
            ) from None
        except KeyError:
            raise LocalRunError(
                f"{assembly_dir} has no environment {env!r}: run make synth ENV={env}"
            ) from None
        self.cloud: LocalCloud | None = None
        self.glue: GlueStandIn | None = None
        self.webhook: WebhookReceiver | None = None
        self.airflow: local_airflow.Airflow | None = None
        self.watcher: Watcher | None = None
        self.api_gate: ApiGate | None = None
        self.manifest: dict[str, Any] = {}
        self.landings: list[Landing] = []

    # --- Start and stop -----------------------------------------------------------------

    def __enter__(self) -> LocalRun:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: TracebackType | None):
        self.stop()

    def start(self) -> None:
        say = self.timeline.say
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        mwaa = self._mwaa_environment()
        self._check_versions(mwaa)
        self.cloud = LocalCloud(self.assembly, self.timeline, self.workdir)
        self.cloud.function_env["GLUEFLOW_LOCAL_RUN"] = str(self.workdir)
        self.cloud.time_scale = self.time_scale
        if self.time_scale != 1:
            self.cloud.function_env["GLUEFLOW_TIME_SCALE"] = repr(self.time_scale)
            say("setup", f"clock compressed {self.time_scale:g}x: an hour of the trigger's "
                         f"backoff and Airflow's retry delays takes "
                         f"{3600 / self.time_scale:.2g} s")  # fmt: skip
        say("setup", f"AWS APIs: moto server on {self.cloud.start()}")
        self.cloud.provision()
        say("setup", f"created from the templates: {self._created()}")
        self.webhook = WebhookReceiver(self.timeline, self.workdir / "alerts.jsonl")
        say("setup", f"webhook receiver (Slack, Teams) on {self.webhook.start()}")
        self._webhook_secrets()
        self.glue = GlueStandIn(self.cloud, self.timeline, self.workdir)
        say("setup", f"Glue job runs: stand-in on {self.glue.start()} (PySpark, local)")
        # The notifier reads a failed run's arguments (GetJobRun) from the stand-in too.
        for function in self.cloud.functions.values():
            function.environment["AWS_ENDPOINT_URL_GLUE"] = self.glue.endpoint
        self.cloud.function_env["AWS_ENDPOINT_URL_GLUE"] = self.glue.endpoint
        home = self.workdir / "airflow"
        dags = self._dag_folder(mwaa, home / "dags")
        self.manifest = json.loads((dags / "manifest.json").read_text(encoding="utf-8"))
        # How each step type the environment uses is answered here (glueflow_steps/).
        for name, kind in registry().items():
            steps = [step for job in self.manifest["jobs"].values()
                     for step in job["downstream"] if step["type"] == name]  # fmt: skip
            if steps:
                kind.standin(self.cloud, steps)
        sys.path.insert(0, str(dags))
        from glueflow_runtime import ids  # the shipped copy: task ids of the factory DAGs

        aws_env = {
            **self.cloud.aws_env(),
            **self.cloud.process_env,
            "AWS_ENDPOINT_URL_GLUE": self.glue.endpoint,
            "GLUEFLOW_POLL_SECONDS": POLL_SECONDS,
            **self._airflow_options(mwaa),
        }
        if self.time_scale != 1:
            (home / "config").mkdir(parents=True, exist_ok=True)
            (home / "config" / "airflow_local_settings.py").write_text(
                LOCAL_SETTINGS.format(scale=float(self.time_scale))
            )
        local_airflow.migrate(home, local_airflow.airflow_env(home, extra=aws_env))
        say("setup", f"Airflow {mwaa['AirflowVersion']}: database migrated; starting the API "
                     "server, scheduler, DAG processor and triggerer")  # fmt: skip
        self.airflow = local_airflow.start_deployment(home, aws_env, STARTUP_S, self.airflow_port)
        say("setup", f"Airflow API on {self.airflow.base}")
        dag_ids = sorted(self.manifest["jobs"])
        self.airflow.wait_for(
            f"the DAG processor parsing the {len(dag_ids)} DAGs",
            lambda: _all_parsed(self.airflow, dag_ids),
            STARTUP_S,
        )
        if self.only:
            running = set().union(*(started_by(self.manifest, job) for job in self.only))
            self.pause_all_but(running)
            say("setup", f"{len(dag_ids)} DAGs parsed from the shipped folder; running "
                         f"{', '.join(sorted(running))} (what {', '.join(sorted(self.only))} "
                         f"starts), the {len(set(dag_ids) - running)} others paused")  # fmt: skip
            dag_ids = sorted(running)
        else:
            say("setup", f"{len(dag_ids)} DAGs parsed from the shipped folder, none paused: "
                         f"{', '.join(dag_ids)}")  # fmt: skip
        # The trigger reaches this Airflow's REST API through a pass-through a scenario can
        # make unavailable or throttled (glueflow_local/faults.py); on AWS it goes through
        # MWAA's InvokeRestApi, which forwards the same request.
        self.api_gate = ApiGate(self.airflow.base)
        api = self.api_gate.start()
        for function in self.cloud.functions.values():
            function.environment["AIRFLOW_API_URL"] = api
        self.cloud.function_env["AIRFLOW_API_URL"] = api
        self.watcher = Watcher(self.airflow.base, dag_ids, self.timeline, ids)
        self.watcher.start()

    def stop(self) -> None:
        for part in (self.watcher, self.api_gate, self.airflow, self.glue, self.cloud,
                     self.webhook):  # fmt: skip
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the others
                    self.timeline.say("stop", f"{type(part).__name__}: {exc}")
        self.watcher = self.airflow = self.glue = self.cloud = self.webhook = None
        self.api_gate = None

    # --- Kept between tries (glueflow_local/kept.py) --------------------------------------

    def redeploy_code(self) -> None:
        """The assembly's code deployed again, as `cdk deploy` would: every BucketDeployment
        (the Glue scripts and library, the DAG folder), then the DAG folder synced to Airflow
        as MWAA syncs it. A script changed since the platform started runs as changed."""
        self._check_started()
        cloud = self.cloud
        cloud.assembly = self.assembly = CloudAssembly(self.assembly.outdir, self.env)
        for stack, logical_id, props in self.assembly.resources(BUCKET_DEPLOYMENT):
            cloud._deploy(stack, logical_id, props)
        # Only the files that changed: each one rewritten is parsed again by the DAG processor.
        fresh = self._dag_folder(self._mwaa_environment(), self.workdir / "dags-deployed")
        dags = self.workdir / "airflow" / "dags"
        changed = 0
        for path in sorted(p for p in fresh.rglob("*") if p.is_file()):
            target = dags / path.relative_to(fresh)
            if not target.is_file() or target.read_bytes() != path.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                changed += 1
        if changed:
            self.timeline.say("setup", f"DAG folder: {changed} files changed, synced to Airflow")

    def pause_all_but(self, running: set[str]) -> None:
        """Airflow's DAGs paused (PATCH /dags/{dag_id}), but `running`'s; only those whose
        state changes, each asked again while the API server is busy."""
        self._check_started()
        airflow = self.airflow
        listed = airflow.wait_for("the DAG list", lambda: _dags(airflow.base), STARTUP_S)
        for dag_id in sorted(self.manifest["jobs"]):
            paused = dag_id not in running
            if listed.get(dag_id) is paused:
                continue
            airflow.wait_for(
                f"{'pausing' if paused else 'unpausing'} {dag_id}",
                lambda dag_id=dag_id, paused=paused: _patched(airflow.base, dag_id, paused),
                STARTUP_S,
            )

    def _check_started(self) -> None:
        if self.cloud is None:
            raise LocalRunError("the local run is not started (use it in a with block)")

    # --- What the assembly says ---------------------------------------------------------

    def _mwaa_environment(self) -> dict[str, Any]:
        found = self.assembly.resources("AWS::MWAA::Environment")
        if len(found) != 1:
            raise LocalRunError(f"{len(found)} MWAA environments in the assembly, expected 1")
        return {"stack": found[0][0], **found[0][2]}

    def _check_versions(self, mwaa: dict[str, Any]) -> None:
        """The Airflow this machine runs must be the environment's."""
        try:
            installed = metadata.version("apache-airflow")
        except metadata.PackageNotFoundError:
            raise LocalRunError("Airflow is not installed here: run make install") from None
        if installed != mwaa["AirflowVersion"]:
            raise LocalRunError(
                f"the environment runs Airflow {mwaa['AirflowVersion']} and this machine has "
                f"{installed}: run make install"
            )

    def _airflow_options(self, mwaa: dict[str, Any]) -> dict[str, str]:
        """The environment's AirflowConfigurationOptions, as MWAA sets them: each
        `section.key` as AIRFLOW__SECTION__KEY."""
        options = mwaa.get("AirflowConfigurationOptions") or {}
        return {
            f"AIRFLOW__{k.split('.', 1)[0].upper()}__{k.split('.', 1)[1].upper()}": str(v)
            for k, v in options.items()
        }

    def _dag_folder(self, mwaa: dict[str, Any], target: Path) -> Path:
        """The DAG folder as MWAA syncs it: every object under DagS3Path in the source bucket."""
        self._check_started()
        bucket = str(self.cloud.resolve(mwaa["stack"], mwaa["SourceBucketArn"])).rsplit(":", 1)[-1]
        prefix = str(self.cloud.resolve(mwaa["stack"], mwaa["DagS3Path"])).strip("/") + "/"
        s3 = self.cloud.client("s3")
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = target / obj["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(path))
                count += 1
        if not (target / "manifest.json").is_file():
            raise LocalRunError(f"s3://{bucket}/{prefix} holds no manifest.json")
        self.timeline.say("setup", f"DAG folder: {count} files from s3://{bucket}/{prefix}")
        return target

    def _created(self) -> str:
        self._check_started()
        kinds: dict[str, int] = {}
        for template in self.assembly.templates.values():
            for resource in template.get("Resources", {}).values():
                kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
        shown = {
            "AWS::S3::Bucket": "buckets",
            "AWS::SNS::Topic": "topics",
            "AWS::SQS::Queue": "queues",
            "AWS::Logs::LogGroup": "log groups",
            "AWS::Glue::Job": "Glue jobs",
            "AWS::Events::Rule": "EventBridge rules",
        }
        return ", ".join(f"{kinds.get(k, 0)} {v}" for k, v in shown.items())

    def _webhook_secrets(self) -> None:
        """Each alert channel's secret, holding the local receiver's URL. The channels are the
        notifier's (ALERT_CHANNELS in its template); on AWS the secrets are created by hand."""
        self._check_started()
        secrets = self.cloud.client("secretsmanager")
        for stack, _, props in self.assembly.resources("AWS::Lambda::Function"):
            variables = self.cloud.resolve(stack, props.get("Environment", {}).get("Variables", {}))
            for channel in json.loads(variables.get("ALERT_CHANNELS") or "[]"):
                secrets.create_secret(Name=channel["secret_name"],
                                      SecretString=self.webhook.url(channel["type"]))  # fmt: skip
                self.timeline.say("setup", f"secret {channel['secret_name']}: the local "
                                           f"{channel['type']} webhook")  # fmt: skip

    # --- Doing things -------------------------------------------------------------------

    def land(self, bucket: str, key: str, body: bytes, event: dict[str, Any] | None = None):
        """Put an object and send S3's event for it; or, with `event`, deliver that event
        again (EventBridge delivers at least once)."""
        self._check_started()
        put_at = time.time()
        # Another account's bucket (external_buckets): its owner's account writes the object
        # and S3 sends the event there; it reaches this account only as forwarded.
        source = self.cloud.sources.owns(bucket) if self.cloud.sources else None
        owner = source.account if source else self.cloud.account
        if event is None:
            s3 = self.cloud.client("s3", account=owner)
            put = s3.put_object(Bucket=bucket, Key=key, Body=body)
            event = object_created(owner, self.cloud.region, bucket, key,
                                   len(body), put["ETag"], put.get("VersionId"))  # fmt: skip
            where = f" in account {owner}" if source else ""
            self.timeline.say("file", f"landed s3://{bucket}/{key}{where} ({len(body)} bytes, "
                                      f"ETag {put['ETag'].strip(chr(34))[:12]}…)")  # fmt: skip
        else:
            self.timeline.say("file", f"EventBridge delivers the event for s3://{bucket}/{key} "
                                      "again")  # fmt: skip
        functions = list(self.cloud.functions.values())
        before = {id(f): len(f.results) for f in functions}
        forwarded = source is None or self.cloud.sources.forward(event)
        matched = self.cloud.matching(event) if forwarded else []
        names = [rule.logical_id for rule in matched]
        if names:
            self.timeline.say("event", f"Object Created matched rule {', '.join(names)}")
        elif forwarded:
            self.timeline.say("event", "Object Created matched no rule: nothing starts")
        self.cloud.put_event(event, matched)
        landing = Landing(bucket, key, put_at, event, names)
        for function in self.cloud.functions.values():
            landing.trigger_results += function.results[before.get(id(function), 0) :]
        self.landings.append(landing)
        return landing

    def table_published(
        self, producer: tables.Producer, event: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Another deployment publishes the table this environment knows as `producer.key`
        (glueflow_local/tables.py): its Table Published event crosses to this account's bus
        and its rules; or, with `event`, EventBridge delivers that event again. The event."""
        self._check_started()
        say = self.timeline.say
        if event is None:
            event = tables.published_event(producer)
            detail = event["detail"]
            say("table", f"account {producer.account}: {producer.deployment} published "
                         f"{detail['database']}.{detail['table']} ({detail['rows']} rows, run "
                         f"{detail['run_id']}, Glue run {detail['glue_run_id'][:15]}…): "
                         "Table Published on its default bus")  # fmt: skip
        else:
            say("table", f"EventBridge delivers {producer.deployment}'s Table Published event "
                         f"for {producer.table} again")  # fmt: skip
        if not tables.reaches(self.cloud, producer, event):
            return event
        names = [rule.logical_id for rule in self.cloud.put_event(event)]
        if names:
            say("event", f"Table Published matched rule {', '.join(names)}")
        else:
            say("event", "Table Published matched no rule: nothing starts")
        return event

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run, as `airflow dags trigger` or the UI's button starts one."""
        self._check_started()
        url = f"{self.airflow.base}/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns"
        run = local_airflow.post(url, {"logical_date": None, "conf": conf or {}})
        self.timeline.say("dag", f"{dag_id}: run requested on demand ({run['dag_run_id']})")
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> RunRecord:
        self._check_started()
        watcher = self.watcher
        return self.airflow.wait_for(
            f"run {run_id} of {dag_id} finishing", lambda: watcher.finished(dag_id, run_id),
            timeout,
        )  # fmt: skip

    def wait_new_run(self, dag_id: str, run_type: str, timeout: float) -> RunRecord:
        self._check_started()
        watcher = self.watcher

        def found() -> RunRecord | None:
            return next((r for (d, _), r in list(watcher.runs.items())
                         if d == dag_id and r.run_type == run_type), None)  # fmt: skip

        return self.airflow.wait_for(f"a {run_type} run of {dag_id}", found, timeout)

    def wait_quiet(self, timeout: float) -> None:
        """Until no DAG run is queued or running, and no Glue run is active."""
        self._check_started()
        watcher, glue = self.watcher, self.glue

        since: list[float] = []

        def quiet() -> bool:
            busy = [r for r in list(watcher.runs.values()) if r.state not in TERMINAL]
            if busy or glue.active():
                since.clear()
                return False
            since[:] = since or [time.monotonic()]
            # Quiet for a few scheduler loops: an asset event's run is created in the loop
            # after the run that emitted it ends.
            return time.monotonic() - since[0] > QUIET_S

        self.airflow.wait_for("every DAG run ending", quiet, timeout)

    def wait_alerts(self, count: int, timeout: float) -> list[dict[str, Any]]:
        self._check_started()
        webhook = self.webhook
        return self.airflow.wait_for(
            f"{count} alert(s) at the webhook",
            lambda: webhook.received if len(webhook.received) >= count else None, timeout,
        )  # fmt: skip

    def run_of(self, landing: Landing, dag_id: str, timeout: float = 30) -> RunRecord:
        """The DAG run a landing started: the run of `dag_id` whose conf is that object."""
        self._check_started()
        watcher = self.watcher
        obj = landing.event["detail"]["object"]
        version, sequencer = obj.get("version-id"), obj.get("sequencer")

        def found() -> RunRecord | None:
            return next((r for (d, _), r in list(watcher.runs.items()) if d == dag_id
                         and r.conf.get("bucket") == landing.bucket
                         and r.conf.get("key") == landing.key
                         and (r.conf.get("version_id") == version if version
                              else r.conf.get("sequencer") == sequencer)), None)  # fmt: skip

        return self.airflow.wait_for(
            f"the run of {dag_id} for s3://{landing.bucket}/{landing.key}", found, timeout
        )

    def export_buckets(self) -> Path:
        """Every object of the environment's buckets, copied to `<workdir>/s3/<bucket>/`."""
        self._check_started()
        root = self.workdir / "s3"
        s3 = self.cloud.client("s3")
        for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    target = root / bucket / obj["Key"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(target))
        return root

    def export_warehouse(self) -> Path:
        """The tables the run published, copied to `<workdir>/warehouse/` (glueflow_local.
        warehouse): what `make query` reads after the run has ended."""
        self._check_started()
        target = self.workdir / "warehouse"
        database = self.manifest["environment"]["catalog_database"]
        warehouse.export(self.cloud.client("glue"), self.cloud.client("s3"), database, target)
        return target

    def read_report(self, job: str, glue_run_id: str) -> dict[str, Any] | None:
        """The report of one Glue run, from S3 as the gate and the publish task read it."""
        self._check_started()
        report_prefix = self.manifest["jobs"][job].get("report_prefix")
        if not report_prefix or not glue_run_id:
            return None
        bucket, _, prefix = report_prefix.removeprefix("s3://").partition("/")
        found = self.cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
        for obj in found.get("Contents", []):
            if glue_run_id in obj["Key"]:
                body = self.cloud.client("s3").get_object(Bucket=bucket, Key=obj["Key"])["Body"]
                return json.loads(body.read())
        return None

    def summary(self) -> dict[str, Any]:
        self._check_started()
        return {
            "environment": self.env,
            "runs": [r.summary() for r in self.watcher.runs.values()],
            "alerts": self.webhook.received,
            "landings": [
                {
                    "bucket": x.bucket,
                    "key": x.key,
                    "put_at": x.put_at,
                    "rules": x.rules,
                    "trigger_results": x.trigger_results,
                }
                for x in self.landings
            ],
            "timeline": [list(line) for line in self.timeline.lines],
        }


def _all_parsed(deployment: local_airflow.Airflow, dag_ids: list[str]) -> bool:
    answer = local_airflow.get(f"{deployment.base}/dags?limit=1000")
    found = {d["dag_id"]: d for d in answer["dags"]}
    return all(d in found for d in dag_ids)

"""What happens when a task of a factory DAG fails: one alert, with the log lines that say why.

One: Airflow may run a failure callback twice for one try; the first claims the alert with an
S3 conditional write under `alerts/` in the artifacts bucket, and the second sends nothing.

The callback builds one message (job, DAG, task, run, try, error, the last 20 log lines and
console links) and publishes it to the environment's KMS-encrypted alert topic; the notifier
Lambda outside the VPC takes it to Slack or Teams. It never raises, every AWS call has a
short timeout and no retries beyond one, and anything that looks like a secret is masked.
When reading the log tail takes longer than TOTAL_BUDGET_S, the alert is sent without it and
says so: an alert is never dropped for its tail.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from typing import Any

from glueflow_runtime.ids import AWS_CONN_ID, GATE_TASK, GLUE_TASK, VERDICT_KEY, glue_run_id

log = logging.getLogger("glueflow.failures")

LOG_TAIL_LINES = 20
# Lines read back from each log stream to find the script's Python traceback, which Spark's
# JVM stack (dozens of Scala frames) follows in a failed Glue run's error log.
LOG_SCAN_LINES = 200
SCRIPT_FRAMES_MAX = 12
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in ')
# Bounds on the alert path: it must finish well inside Airflow's callback time.
CALL_TIMEOUT_S = 5
TOTAL_BUDGET_S = 20

_SECRETS = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "[masked AWS key id]"),
    (re.compile(r"https://hooks\.slack\.com/\S+"), "[masked Slack webhook]"),
    (re.compile(r"https://[^\s/]*\.(logic\.azure|webhook\.office|powerplatform|powerautomate)"
                r"\.com(:\d+)?/\S+"), "[masked Teams webhook]"),
    (re.compile(r"(?i)([?&]sig=)[^&\s]+"), r"\1[masked]"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [masked]"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|secret[_-]?access[_-]?key)"
                r"(\s*[=:]\s*|\"\s*:\s*\")([^\s\",']+)"), r"\1\2[masked]"),
    (re.compile(r"(?i)(\w+://[^:/\s]+):([^@\s]+)@"), r"\1:[masked]@"),
]  # fmt: skip


def mask(text: str) -> str:
    """`text` with anything that looks like a credential replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def script_frames(lines: list[str], script: str) -> list[str]:
    """The last Python traceback in `lines`, cut to what the job's author needs first: the
    frames in their script (`script`'s file name, wherever Glue put it), each with its source
    line, and the exception. [] when no frame of the script is in a traceback.

    Python prints a traceback as "Traceback (most recent call last):", then per frame
    `  File "<path>", line N, in <name>` and the source line, and ends with the exception's
    line (the traceback module's format); PySpark ends it with the JVM's error message."""
    text = [part for line in lines for part in line.split("\n")]
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback (most recent call")]
    if not starts:
        return []
    block = text[starts[-1] :]
    name = script.rsplit("/", 1)[-1]
    kept: list[str] = []
    end = len(block)
    for i, line in enumerate(block[1:], start=1):
        found = _FRAME.match(line)
        if found:
            if found["file"].rsplit("/", 1)[-1] == name:
                kept.append(line.strip())
                if i + 1 < len(block) and not _FRAME.match(block[i + 1]):
                    kept.append("    " + block[i + 1].strip())
        elif not line.startswith(" ") and line.strip():
            end = i  # the exception's line: the first that is not a frame's
            break
    if not kept:
        return []
    exception = block[end : end + 1]
    return [*kept[-SCRIPT_FRAMES_MAX:], *exception]


def log_tail(logs: Any, group: str, stream: str, lines: int = LOG_TAIL_LINES) -> tuple[list, str]:
    """The last `lines` lines of one stream, oldest first, and a note when none could be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=False, limit=lines
        )["events"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return [], f"no log stream {stream!r} in {group}"
        return [], f"log tail unavailable ({code or 'error'})"
    except BotoCoreError as exc:
        return [], f"log tail unavailable ({type(exc).__name__})"
    return [(e["timestamp"], e["message"].rstrip("\n")) for e in events][-lines:], ""


def glue_run_error(glue: Any, job_name: str, run_id: str) -> str | None:
    """How Glue says the run ended: its state and error message. On MWAA the task's own
    exception only says the trigger failed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    except (BotoCoreError, ClientError):
        return None
    said = f"Glue run {run_id} of {job_name} ended {run.get('JobRunState', 'unknown')}"
    return f"{said}: {run['ErrorMessage']}" if run.get("ErrorMessage") else said


def glue_streams(run_id: str) -> list[str]:
    """Where a Glue run's driver writes, in its error and output log groups: Glue 5 names the
    streams `<run id>-driver` and `<run id>-<executor id>` ("Logging for AWS Glue jobs", AWS
    Glue Developer Guide); earlier versions write one stream named by the run id."""
    return [f"{run_id}-driver", run_id]


def mwaa_task_stream(ti: Any) -> str:
    """The Airflow task log stream as MWAA names it: Airflow's default log_filename_template
    (airflow/config_templates/config.yml, [logging] log_filename_template), with each ':'
    replaced by '_', which CloudWatch does not accept in stream names
    (aws/amazon-mwaa-docker-images, images/airflow/3.3.1/python/mwaa/logging/
    cloudwatch_handlers.py: `stream_name.as_posix().replace(":", "_")`)."""
    map_index = getattr(ti, "map_index", -1)
    mapped = f"map_index={map_index}/" if map_index is not None and map_index >= 0 else ""
    return (
        f"dag_id={ti.dag_id}/run_id={ti.run_id}/task_id={ti.task_id}/{mapped}"
        f"attempt={ti.try_number}.log"
    ).replace(":", "_")


def collect_tail(logs: Any, ti: Any, job: dict[str, Any], environment: dict[str, Any]) -> tuple:
    """The log lines behind a failure: the Glue run's error and output streams for the Glue
    task and for the gate's stop (the run whose rows it judged, which logged its report),
    else the Airflow task log in MWAA's Task log group."""
    notes: list[str] = []
    found: list[tuple[int, str]] = []
    run_id = glue_run_id(ti) if ti.task_id in (GLUE_TASK, GATE_TASK) else None
    if run_id:
        sources = [(group, glue_streams(run_id)) for group in job["glue"]["log_groups"].values()]
    else:
        group = f"airflow-{environment['mwaa_environment']}-Task"
        sources = [(group, [mwaa_task_stream(ti)])]
    for group, streams in sources:
        tried: list[str] = []
        for stream in streams:  # the first stream that exists
            lines, note = log_tail(
                logs, group, stream, LOG_SCAN_LINES if run_id else LOG_TAIL_LINES
            )
            if not note:
                found += lines
                break
            tried.append(note)
        else:
            notes.extend(tried[:1] if len(tried) == 1 else [f"{tried[0]} (nor the others)"])
    # By time only: lines logged in the same millisecond (a traceback) keep their order.
    read = [message for _, message in sorted(found, key=lambda line: line[0])]
    frames = script_frames(read, job.get("script") or "") if run_id else []
    return read[-LOG_TAIL_LINES:], notes, run_id, frames


def build_message(
    context: dict[str, Any],
    job: dict[str, Any],
    environment: dict[str, Any],
    tail: list[str],
    notes: list[str],
    glue_run: str | None,
    glue_error: str | None = None,
    frames: list[str] | None = None,
) -> dict[str, Any]:
    """The alert, as the notifier renders it for Slack and Teams."""
    ti = context["ti"]
    region = environment["region"]
    console = environment.get("console_url") or f"https://{region}.console.aws.amazon.com"
    links = {
        "airflow_task": getattr(ti, "log_url", None)
        or f"{console}/mwaa/home?region={region}#environments/{environment['mwaa_environment']}",
    }
    if glue_run:
        name = urllib.parse.quote(job["glue_job_name"], safe="")
        links["glue_run"] = f"{console}/gluestudio/home?region={region}#/job/{name}/run/{glue_run}"
    error = glue_error or context.get("exception")
    if not error and ti.task_id == GATE_TASK:
        # Airflow 3 does not always hand the exception over; the gate noted its verdict.
        error = ti.xcom_pull(task_ids=GATE_TASK, key=VERDICT_KEY)
    state = getattr(ti, "state", None)
    error = error or f"task ended {getattr(state, 'value', state) or 'failed'}"
    return {
        "kind": "task_failed",
        "environment": environment["name"],
        "job": job["dag_id"],
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "glue_run_id": glue_run,
        "error": mask(str(error))[:2000],
        "log_tail": [mask(line)[:500] for line in tail],
        # The Python traceback's frames in the job's script, shown before the tail.
        "script_frames": [mask(line)[:500] for line in frames or []],
        "notes": notes,
        "links": links,
    }


def job_of(context: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The failed DAG's job entry and environment, from the manifest beside its DAG file."""
    from pathlib import Path

    dag = context["dag"]
    manifest = json.loads(Path(dag.fileloc).with_name("manifest.json").read_text())
    return manifest["jobs"][dag.dag_id], manifest["environment"]


# Kept to one call: the DAG processor serializes a task's callback as its source text
# (airflow.utils.code_utils.get_python_source, i.e. inspect.getsource, which tokenizes the
# function), for every task of every DAG at every parse. With the alert's body here, reading
# this source was most of the factory file's serialization time.
def on_task_failure(context: dict[str, Any]) -> None:
    """The on_failure_callback of every factory DAG task (when the job alerts on failure)."""
    publish_alert(context)


# Where the callback records the alerts it sent, one empty object per failed task try.
ALERTS_PREFIX = "alerts/"


def first_alert(s3: Any, environment: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether this callback is the first for its task try, claimed with an S3 conditional
    write: PutObject with If-None-Match: * creates the key only if it does not exist, and
    answers 412 Precondition Failed if it does (409 Conflict while another write of it is in
    flight): "Add preconditions to S3 operations with conditional requests", Amazon S3 User
    Guide. Airflow may run a task's failure callback twice, in the task's process and again
    from the scheduler through the DAG processor when the executor's report of the finished
    process arrives before the task's own state (airflow/jobs/scheduler_job_runner.py,
    `process_executor_events`, "state mismatch"). Any other error says yes: an alert sent
    twice is better than none."""
    from botocore.exceptions import BotoCoreError, ClientError

    ti = context["ti"]
    key = (f"{ALERTS_PREFIX}{ti.dag_id}/{ti.run_id}/{ti.task_id}/"
           f"{getattr(ti, 'map_index', -1)}/{ti.try_number}")  # fmt: skip
    try:
        s3.put_object(Bucket=environment["artifacts_bucket"], Key=key, Body=b"", IfNoneMatch="*")
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (409, 412):
            log.info("alert for %s was sent already (%s)", key, status)
            return False
        log.warning("could not record the alert for %s (%s); sending it", key, exc)
    except BotoCoreError as exc:
        log.warning("could not record the alert for %s (%s); sending it", key, exc)
    return True


def publish_alert(context: dict[str, Any]) -> None:
    """Publish the failed task's alert (job, task, run, error, log tail); never raise."""
    started = time.monotonic()
    try:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        from botocore.config import Config

        job, environment = job_of(context)
        config = Config(
            connect_timeout=CALL_TIMEOUT_S,
            read_timeout=CALL_TIMEOUT_S,
            retries={"total_max_attempts": 2},
        )

        def client(kind: str) -> Any:
            return AwsBaseHook(
                aws_conn_id=AWS_CONN_ID, client_type=kind, region_name=environment["region"],
                config=config,
            ).conn  # fmt: skip

        tail, notes, glue_run, frames = collect_tail(
            client("logs"), context["ti"], job, environment
        )
        failed_glue_task = context["ti"].task_id == GLUE_TASK and glue_run
        glue_error = failed_glue_task and glue_run_error(
            client("glue"), job["glue_job_name"], glue_run
        )
        took = time.monotonic() - started
        if took > TOTAL_BUDGET_S:
            # Late is better than lost: the alert goes out, without the tail, and says so.
            tail, frames = [], []
            notes = [*notes, f"log tail left out: reading it took {took:.0f} s, more than the "
                             f"{TOTAL_BUDGET_S} s an alert waits for it"]  # fmt: skip
        message = build_message(
            context, job, environment, tail, notes, glue_run, glue_error, frames
        )
        log.error(json.dumps({k: message[k] for k in ("job", "task_id", "run_id", "error")}))
        if not first_alert(client("s3"), environment, context):
            return  # this try's alert is out already: one alert per failure
        client("sns").publish(
            TopicArn=environment["alert_topic_arn"],
            Subject=f"Glueflow {environment['name']}: {job['dag_id']}.{message['task_id']} failed"[
                :100
            ],
            Message=json.dumps(message, default=str),
        )
    except Exception:  # the alert path must never break the pipeline
        log.exception("glueflow failure callback could not send its alert")

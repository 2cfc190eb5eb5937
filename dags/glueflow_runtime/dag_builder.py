"""Build one Airflow DAG per job entry of the compiled manifest (docs/architecture.md,
decisions 1 to 4).

The manifest is plain JSON that synth compiled and validated; nothing here re-validates it or
imports the config models. Task ids are stable, so a run's history survives a redeploy.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param

from glueflow_runtime import cost, gate, publish
from glueflow_runtime.callbacks import on_task_failure
from glueflow_runtime.ids import (
    AWS_CONN_ID,
    BROKEN_TASK,
    COST_TASK,
    GATE_TASK,
    GLUE_TASK,
    INPUT_SENSOR_TASK,
    PUBLISH_TASK,
    STEPS_DONE_TASK,
)

# Operator modules are imported where a DAG uses them, not here: a worker builds only the DAG
# of the task it runs, and a job with no sensor or step should not pay for importing them.

log = logging.getLogger(__name__)

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
# Every S3 input sensor gives up after this long; the next scheduled run tries again.
SENSOR_TIMEOUT = timedelta(hours=12)
# How the deferrable Glue task follows its run. Its own default stops after 60 s x 75 = 75
# minutes (GlueJobOperator, airflow/providers/amazon/aws/operators/glue.py), while a run may
# last the job's timeout and first wait for capacity: a Flex run up to 20 minutes in WAITING,
# a Standard run's resource retries up to 15 ("AWS Glue job run statuses").
# GLUEFLOW_POLL_SECONDS (unset on MWAA) shortens this poll and the input sensor's for the
# local run, where a Glue run lasts seconds (docs/architecture.md, decision 13); the Glue
# task's attempts still cover the same time.
POLL_S = max(1, int(os.environ.get("GLUEFLOW_POLL_SECONDS") or 60))
GLUE_WAITER_DELAY_S = POLL_S
GLUE_START_ALLOWANCE_MINUTES = 30


def glue_waiter_attempts(timeout_minutes: int) -> int:
    """Polls that cover a run of `timeout_minutes` plus the start-up allowance."""
    return math.ceil((timeout_minutes + GLUE_START_ALLOWANCE_MINUTES) * 60 / GLUE_WAITER_DELAY_S)


def load_manifest(path: Path) -> dict[str, Any]:
    """The compiled manifest, read with the standard library."""
    return json.loads(path.read_text(encoding="utf-8"))


def job_asset(env: str, job: str) -> Asset:
    """What a job's successful, valid run updates; jobs that depend on it are scheduled on it."""
    return Asset(name=f"glueflow-{env}-{job}", uri=f"glueflow://{env}/{job}")


def build_dags(manifest: dict[str, Any], only: str | None = None) -> Iterator[DAG]:
    """A DAG per job; with `only` (the DAG a worker is about to run), just that one.

    Every job is built on its own: one that fails to build must not take the others off
    MWAA, which is what an exception escaping the one factory file would do (the whole file
    becomes an import error). Its failure is logged with the job's name, and it gets a DAG
    that says so (`broken_dag`), so the error shows where the job's runs would be.
    """
    environment = manifest["environment"]
    for name, job in sorted(manifest["jobs"].items()):
        if only is not None and only != name:
            continue
        try:
            yield build_dag(job, environment)
        except Exception as exc:
            log.exception("Glueflow job %s: its DAG could not be built", name)
            yield broken_dag(name, f"{type(exc).__name__}: {exc}")


def broken_dag(name: str, error: str) -> DAG:
    """Stands in for a job whose DAG could not be built: same DAG id, never scheduled, and
    one task that fails with the build error, so a triggered run fails loudly and alerts."""
    from airflow.providers.standard.operators.python import PythonOperator

    with DAG(
        dag_id=name,
        description=f"BROKEN: {error}"[:2000],
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        tags=["glueflow:broken"],
        doc_md=f"The DAG of job `{name}` could not be built from the manifest:\n\n    {error}",
        is_paused_upon_creation=False,
    ) as dag:
        PythonOperator(
            task_id=BROKEN_TASK,
            python_callable=_fail_build,
            op_kwargs={"job": name, "error": error},
            retries=0,
            on_failure_callback=on_task_failure,
        )
    return dag


def _fail_build(job: str, error: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException  # no retry can mend it

    raise AirflowFailException(f"the DAG of job {job} could not be built: {error}")


def _schedule(job: dict[str, Any], env: str) -> Any:
    from airflow.timetables.trigger import CronTriggerTimetable

    upstream = [job_asset(env, dep) for dep in job["depends_on"]]
    cron = job["trigger"].get("cron")
    if upstream and cron:
        from airflow.timetables.assets import AssetOrTimeSchedule

        return AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=upstream
        )
    if upstream:
        return upstream
    if cron:
        return CronTriggerTimetable(cron, timezone="UTC")
    return None  # S3 events and manual runs come in through the API


def _object_params(job: dict[str, Any]) -> dict[str, Any]:
    """A job started by files runs for one object version; a run whose conf names no object
    is refused when it is asked for: Airflow validates a run's conf against the DAG's params
    and answers 400 ("Invalid input for param ...") before creating it (POST /dags/{dag_id}/
    dagRuns, airflow-core's `trigger_dag_run` -> `create_dagrun` -> `params.validate()`),
    and the UI's trigger form asks for them. The Glue run checks again (glueflow_glue).
    Reprocessing a prefix is asked for by name: key = the prefix, reprocess_prefix = true."""
    trigger = job["trigger"]
    if trigger["type"] != "s3":
        return {}
    return {
        "bucket": Param(
            trigger["bucket"], type="string", enum=[trigger["bucket"]],
            description="The bucket of the object the run is for.",
        ),
        "key": Param(
            type="string", minLength=1, pattern=f"^{re.escape(trigger['prefix'])}",
            description=f"The object's key (under {trigger['prefix'] or 'the bucket'}); with "
            "reprocess_prefix, a prefix ending in '/' whose every object is read.",
        ),
        "version_id": Param(
            None, type=["null", "string"],
            description="The object version: the run reads exactly it. Null: the key as it is.",
        ),
        "reprocess_prefix": Param(
            False, type="boolean",
            description="Reprocess every object under key, a prefix: a named action.",
        ),
    }  # fmt: skip


def build_dag(job: dict[str, Any], environment: dict[str, Any]) -> DAG:
    """The DAG of one job: [input sensor] -> Glue run -> [validation gate] -> [publish] ->
    downstream steps."""
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
    from airflow.providers.standard.operators.python import PythonOperator

    env = environment["name"]
    region = environment["region"]
    airflow = job["airflow"]
    trigger_type = job["trigger"]["type"]
    default_args = {
        "owner": job["owner"],
        "retries": airflow["retries"],
        "retry_delay": timedelta(minutes=airflow["retry_delay_minutes"]),
        "on_failure_callback": on_task_failure if airflow["alert_on_failure"] else None,
    }
    with DAG(
        dag_id=job["dag_id"],
        description=job["description"],
        params=_object_params(job),
        schedule=_schedule(job, env),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=job["glue"]["max_concurrent_runs"],
        tags=[job["owner"], f"env:{env}", f"trigger:{trigger_type}"],
        default_args=default_args,
        doc_md=job["description"],
        # MWAA keeps Airflow's dags_are_paused_at_creation = True: a paused DAG takes API
        # triggers (200) but never runs them, and asset events never queue it. Applies when
        # Airflow first sees the DAG; one already paused stays paused.
        is_paused_upon_creation=False,
    ) as dag:
        chain: list[Any] = []
        if trigger_type == "schedule" and job["inputs"]:
            from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

            source = job["inputs"][0]
            chain.append(
                S3KeySensor(
                    task_id=INPUT_SENSOR_TASK,
                    bucket_key=f"{source['uri']}*",
                    wildcard_match=True,
                    poke_interval=POLL_S,  # Airflow's default, 60 s, on MWAA
                    deferrable=True,
                    timeout=SENSOR_TIMEOUT.total_seconds(),
                    aws_conn_id=AWS_CONN_ID,
                    region_name=region,
                )
            )
        chain.append(
            GlueJobOperator(
                task_id=GLUE_TASK,
                job_name=job["glue_job_name"],
                script_args={
                    **job["glue"]["arguments"],
                    # The object that started the run (bucket, key, size, etag, sequencer,
                    # event time) for S3-triggered runs; "{}" for scheduled and manual ones.
                    "--glueflow-trigger": "{{ dag_run.conf | tojson }}",
                    "--glueflow-airflow-run-id": "{{ run_id }}",
                },
                deferrable=True,
                waiter_delay=GLUE_WAITER_DELAY_S,
                waiter_max_attempts=glue_waiter_attempts(job["glue"]["timeout_minutes"]),
                # The only retries of a run (the Glue job has MaxRetries 0): each is a new run
                # this task follows, gates and prices.
                retries=job["glue"]["max_retries"],
                stop_job_run_on_kill=True,
                wait_for_completion=True,
                verbose=False,
                aws_conn_id=AWS_CONN_ID,
                region_name=region,
            )
        )
        glue_task = chain[-1]
        # Priced after every run, failed ones too. A teardown: it does not decide the DAG
        # run's state, so a failed Glue run still fails the run.
        record_cost = PythonOperator(
            task_id=COST_TASK,
            python_callable=cost.record_run_cost,
            op_kwargs={
                "job": job["dag_id"],
                "glue_job_name": job["glue_job_name"],
                "glue_task_id": GLUE_TASK,
                "budget_usd": job["cost_budget_usd"],
                "environment": environment,
                "aws_conn_id": AWS_CONN_ID,
            },
            retries=0,
        ).as_teardown()
        glue_task >> record_cost
        # What the gate and the publish task read: the run's report, and the catalog.
        report = {
            "report_prefix": job["report_prefix"],
            "database": environment["catalog_database"],
            "glue_task_id": GLUE_TASK,
            "aws_conn_id": AWS_CONN_ID,
            "region_name": region,
        }
        if job["validation"]:
            # One task: it passes the run on, or fails it without retry with the verdict.
            chain.append(
                PythonOperator(
                    task_id=GATE_TASK,
                    python_callable=gate.run_gate,
                    op_kwargs={
                        **report,
                        "max_invalid_ratio": job["validation"]["max_invalid_ratio"],
                    },
                )
            )
        if job["outputs"]:
            # Write, audit, publish: the run's tables become visible here, after the gate,
            # before the steps and the asset event (decision 15).
            chain.append(
                PythonOperator(
                    task_id=PUBLISH_TASK,
                    python_callable=publish.run_publish,
                    op_kwargs={**report, "announce_as": _announce_as(job, environment)},
                )
            )
        for upstream, downstream in itertools.pairwise(chain):
            upstream >> downstream
        last = _steps(job, region, after=chain[-1])
        last.outlets = [job_asset(env, job["dag_id"])]
    return dag


def _announce_as(job: dict[str, Any], environment: dict[str, Any]) -> dict[str, str]:
    """Who the publish task's Table Published events say published (decision 20)."""
    return {
        "environment": environment["name"],
        "name_prefix": environment["name_prefix"],
        "account": environment["account"],
        "region": environment["region"],
        "partition": environment["partition"],
        "database": environment["catalog_database"],
        "dag_id": job["dag_id"],
    }


def _steps(job: dict[str, Any], region: str, after: Any) -> Any:
    """The job's downstream steps, each after the steps its manifest entry names (none: right
    after `after`, the publish), fanning out and in as declared; the task that ends them all
    (`after` when there are none), which carries the job's asset event. Several last steps
    are joined by an empty task, so the event comes only when every one has succeeded."""
    tasks = {step["name"]: _step(step, job, region) for step in job["downstream"]}
    for step in job["downstream"]:
        for upstream in step["after"] or []:
            tasks[upstream] >> tasks[step["name"]]
        if not step["after"]:
            after >> tasks[step["name"]]
    named = {upstream for step in job["downstream"] for upstream in step["after"]}
    ends = [task for name, task in tasks.items() if name not in named]
    if not ends:
        return after
    if len(ends) == 1:
        return ends[0]
    from airflow.providers.standard.operators.empty import EmptyOperator

    done = EmptyOperator(task_id=STEPS_DONE_TASK)
    ends >> done
    return done


def _step(step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
    """The step's operator, built by its type's module (glueflow_steps/), which imports its
    provider only now: a DAG loads the types its own steps use."""
    from glueflow_steps import step_type

    try:
        kind = step_type(step["type"])
    except KeyError:
        raise ValueError(
            f"unknown downstream step type {step['type']!r} in job {job['dag_id']}"
        ) from None
    return kind.operator(step, job, region)

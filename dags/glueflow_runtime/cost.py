"""What a Glue run cost, and the task that records it after each run (docs/architecture.md,
decision 11).

Cost = DPU-hours x the price per DPU-hour of the run's execution class. DPU-hours come from
GetJobRun's `DPUSeconds` plus the driver when Glue reports it (Flex, auto scaling); otherwise
from workers x DPU per worker type x max(execution time, 60 s), because Glue bills a
1-minute minimum.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from glueflow_runtime.ids import glue_run_id

log = logging.getLogger(__name__)

MINIMUM_BILLED_SECONDS = 60
METRIC_NAMESPACE = "Glueflow"
# The argument the Glue task passes every run it starts (dag_builder): the DAG run's id.
AIRFLOW_RUN_ARGUMENT = "--glueflow-airflow-run-id"
# How many of the job's newest runs are searched for this DAG run's attempts (GetJobRuns
# returns the newest first; the pricing task runs right after the last attempt).
ATTEMPT_SCAN_LIMIT = 200
# Glue run states that count as a failed run.
FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "ERROR"})


@dataclass(frozen=True)
class RunCost:
    """One Glue run, priced."""

    job: str
    run_id: str
    state: str
    dpu_hours: float
    cost_usd: float
    duration_seconds: int


def dpu_hours(job_run: dict[str, Any], dpu_per_worker: dict[str, float]) -> float:
    """DPU-hours a run is billed for, at least one minute of it ("AWS Glue pricing": billed
    per second, with a 1-minute minimum).

    `DPUSeconds` (Flex and auto-scaled runs) is "the total time each executor ran ... multiplied
    by a DPU factor" ("JobRun", AWS Glue API): the executors only. The driver, one worker of
    the run's type, runs the whole execution time as well, so it is added.
    """
    per_worker = dpu_per_worker.get(job_run.get("WorkerType", ""), 0)
    seconds = int(job_run.get("ExecutionTime") or 0)
    if job_run.get("DPUSeconds"):
        dpu_seconds = float(job_run["DPUSeconds"]) + per_worker * seconds
        if 0 < seconds < MINIMUM_BILLED_SECONDS:
            dpu_seconds *= MINIMUM_BILLED_SECONDS / seconds
        return max(dpu_seconds, per_worker * MINIMUM_BILLED_SECONDS) / 3600
    workers = job_run.get("NumberOfWorkers") or 0
    return workers * per_worker * max(seconds, MINIMUM_BILLED_SECONDS) / 3600


def price_run(job: str, job_run: dict[str, Any], environment: dict[str, Any]) -> RunCost:
    """The run's DPU-hours and cost, at the environment's price for its execution class."""
    prices = environment["glue_dpu_hour_usd"]
    price = prices["flex"] if job_run.get("ExecutionClass") == "FLEX" else prices["standard"]
    hours = dpu_hours(job_run, environment["dpu_per_worker"])
    return RunCost(
        job=job,
        run_id=job_run.get("Id", ""),
        state=job_run.get("JobRunState", ""),
        dpu_hours=round(hours, 6),
        cost_usd=round(hours * price, 6),
        duration_seconds=int(job_run.get("ExecutionTime") or 0),
    )


def metric_data(cost: RunCost, environment_name: str) -> list[dict[str, Any]]:
    """The run's metrics per job and environment, and DPUHours, CostUSD and FailedRuns again
    per environment alone: alarms cannot aggregate across jobs, and a dashboard can then read
    the environment's totals without a search."""
    per_job = [
        {"Name": "Job", "Value": cost.job},
        {"Name": "Environment", "Value": environment_name},
    ]
    per_environment = [{"Name": "Environment", "Value": environment_name}]
    failed = 1 if cost.state in FAILED_STATES else 0
    return [
        {"MetricName": "DPUHours", "Dimensions": per_job, "Value": cost.dpu_hours, "Unit": "None"},
        {"MetricName": "CostUSD", "Dimensions": per_job, "Value": cost.cost_usd, "Unit": "None"},
        {"MetricName": "DurationSeconds", "Dimensions": per_job,
         "Value": cost.duration_seconds, "Unit": "Seconds"},
        {"MetricName": "FailedRuns", "Dimensions": per_job, "Value": failed, "Unit": "Count"},
        {"MetricName": "DPUHours", "Dimensions": per_environment, "Value": cost.dpu_hours,
         "Unit": "None"},
        {"MetricName": "CostUSD", "Dimensions": per_environment, "Value": cost.cost_usd,
         "Unit": "None"},
        {"MetricName": "FailedRuns", "Dimensions": per_environment, "Value": failed,
         "Unit": "Count"},
    ]  # fmt: skip


def attempts_of(
    glue: Any, glue_job_name: str, airflow_run_id: str, last_run_id: str
) -> list[dict[str, Any]]:
    """Every Glue run this DAG run started, oldest first: a retry of the Glue task is a new
    run, and each is billed. Found with GetJobRuns ("GetJobRuns", AWS Glue API: each JobRun
    has the `Arguments` it was started with), by the DAG run id the task passes each run;
    the last attempt is always among them."""
    found: dict[str, dict[str, Any]] = {}
    pages = glue.get_paginator("get_job_runs").paginate(
        JobName=glue_job_name, PaginationConfig={"MaxItems": ATTEMPT_SCAN_LIMIT}
    )
    for page in pages:
        for run in page.get("JobRuns", []):
            if (run.get("Arguments") or {}).get(AIRFLOW_RUN_ARGUMENT) == airflow_run_id:
                found[run["Id"]] = run
    if last_run_id not in found:
        found[last_run_id] = glue.get_job_run(JobName=glue_job_name, RunId=last_run_id)["JobRun"]
    return sorted(found.values(), key=lambda run: str(run.get("StartedOn") or ""))


def record_run_cost(
    *,
    job: str,
    glue_job_name: str,
    glue_task_id: str,
    budget_usd: float | None,
    environment: dict[str, Any],
    aws_conn_id: str | None,
    ti: Any,
    **_: Any,
) -> dict[str, Any]:
    """Task callable: price every Glue attempt of the DAG run, failed ones included, publish
    each one's metrics (`metric_data`), log them, and alert (without failing) when the DAG
    run's total is over the job's budget.

    Returns, as XCom, the DAG run's total (`cost_usd`, `dpu_hours`, `duration_seconds`), the
    last attempt's `run_id` and `state`, and each attempt under `attempts`.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    run_id = glue_run_id(ti, glue_task_id)
    if not run_id:
        log.warning("no Glue run id from %s: nothing to price", glue_task_id)
        return {}
    region = environment["region"]

    def client(kind: str) -> Any:
        return AwsBaseHook(aws_conn_id=aws_conn_id, client_type=kind, region_name=region).conn

    glue = client("glue")
    attempts = [
        price_run(job, attempt, environment)
        for attempt in attempts_of(glue, glue_job_name, ti.run_id, run_id)
    ]
    cloudwatch = client("cloudwatch")
    for attempt in attempts:
        cloudwatch.put_metric_data(
            Namespace=METRIC_NAMESPACE, MetricData=metric_data(attempt, environment["name"])
        )
        log.info(json.dumps({"event": "glue_run_cost", **asdict(attempt)}, sort_keys=True))
    last = next(a for a in attempts if a.run_id == run_id)
    total = RunCost(
        job=job,
        run_id=last.run_id,
        state=last.state,
        dpu_hours=round(sum(a.dpu_hours for a in attempts), 6),
        cost_usd=round(sum(a.cost_usd for a in attempts), 6),
        duration_seconds=sum(a.duration_seconds for a in attempts),
    )
    if budget_usd is not None and total.cost_usd > budget_usd:
        _budget_alert(client, environment, total, budget_usd, len(attempts))
    return {**asdict(total), "attempts": [asdict(a) for a in attempts]}


def _budget_alert(
    client: Any, environment: dict[str, Any], cost: RunCost, budget: float, attempts: int = 1
) -> None:
    """Tell the alert topic; a failure to tell is logged, never raised."""
    runs = f"Glue run {cost.run_id}" if attempts == 1 else (
        f"{attempts} Glue runs (the last {cost.run_id})"
    )  # fmt: skip
    message = (
        f"{runs} of {cost.job} ({environment['name']}) cost "
        f"${cost.cost_usd:.2f}, over its budget of ${budget:.2f} "
        f"({cost.dpu_hours:.2f} DPU-hours, {cost.duration_seconds} s)"
    )
    log.warning(message)
    try:
        client("sns").publish(
            TopicArn=environment["alert_topic_arn"],
            Subject=f"Glueflow budget: {cost.job} over ${budget:.2f}"[:100],
            Message=json.dumps({"kind": "budget", "message": message, **asdict(cost)}),
        )
    except Exception:  # an alert path must never break the pipeline
        log.exception("could not publish the budget alert for %s", cost.job)

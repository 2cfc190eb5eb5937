"""The metrics an environment is watched by.

- Run metrics, which the cost monitor task publishes after every Glue run (namespace `Glueflow`):
  `DPUHours`, `CostUSD`, `DurationSeconds` and `FailedRuns` with the dimensions `Job` and
  `Environment`, and `DPUHours`, `CostUSD` and `FailedRuns` again with `Environment` alone.
- MWAA's Airflow metrics (namespace `AmazonMWAA`, dimensions `Function` and `Environment`).
- EventBridge's count of the events a rule matched (namespace `AWS/Events`, `RuleName`).

Nothing here is built per job: per-job views are Metrics Insights queries, whose text is the
same for 5 jobs or 5,000.
"""

from __future__ import annotations

from typing import Literal

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events

RUN_NAMESPACE = "Glueflow"
MWAA_NAMESPACE = "AmazonMWAA"

RunMetric = Literal["DPUHours", "CostUSD", "DurationSeconds", "FailedRuns"]
RankBy = Literal["SUM", "MAX", "AVG"]


def environment_total(
    metric_name: RunMetric, environment_name: str, *, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """A run metric's sum over every job of the environment: the copy published with the
    `Environment` dimension alone, so that an alarm can watch it."""
    return cloudwatch.Metric(
        namespace=RUN_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"Environment": environment_name},
        statistic="Sum",
        period=period,
        label=label,
    )


def top_jobs_query(
    metric_name: RunMetric, environment_name: str, rank_by: RankBy, limit: int
) -> str:
    """A Metrics Insights query for the `limit` jobs with the highest `rank_by` of a run metric.

    Not `SORT(SEARCH(...))`: a SEARCH returns at most 500 time series, so beyond 500 jobs it
    would rank an arbitrary 500 of them, while a query sorts up to 10,000 metrics before it
    keeps the top ones. SCHEMA keeps out the environment-level copies, which have no `Job`.
    """
    # Metrics Insights, not SQL: every value is a validated name (S608 does not apply).
    return (
        f"SELECT {rank_by}({metric_name}) FROM SCHEMA({RUN_NAMESPACE}, Environment, Job) "  # noqa: S608
        f"WHERE Environment = '{environment_name}' GROUP BY Job "
        f"ORDER BY {rank_by}() DESC LIMIT {limit}"
    )


def top_jobs(
    metric_name: RunMetric,
    environment_name: str,
    *,
    rank_by: RankBy,
    limit: int,
    period: Duration,
) -> cloudwatch.MathExpression:
    """`top_jobs_query` for a dashboard widget; each series it returns is labelled by its job."""
    return cloudwatch.MathExpression(
        expression=top_jobs_query(metric_name, environment_name, rank_by, limit), period=period
    )


def mwaa_metric(
    metric_name: str,
    mwaa_environment_name: str,
    *,
    function: Literal["Scheduler", "Executor"],
    statistic: str,
    period: Duration,
    label: str | None = None,
) -> cloudwatch.Metric:
    """An Airflow metric MWAA publishes, e.g. `SchedulerHeartbeat` (Function `Scheduler`) or
    `QueuedTasks` and `RunningTasks` (Function `Executor`)."""
    return cloudwatch.Metric(
        namespace=MWAA_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"Function": function, "Environment": mwaa_environment_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def matched_events(
    rule: events.IRule, *, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """How many events `rule` matched: for the Glue failure rule, runs that ended badly,
    including runs started outside Airflow."""
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="MatchedEvents",
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=period,
        label=label,
    )

"""EnvironmentDashboard: one CloudWatch dashboard per environment, one size at any job count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.observability.metrics import (
    RUN_NAMESPACE,
    RankBy,
    RunMetric,
    environment_total,
    matched_events,
    mwaa_metric,
    top_jobs,
)

FIVE_MINUTES = Duration.minutes(5)
HOUR = Duration.hours(1)
DAY = Duration.days(1)


class EnvironmentDashboard(Construct):
    """The environment on one page, top to bottom:

    - the state of `alarms`;
    - totals over the time range: cost, DPU-hours and failed runs;
    - per job, the `top` jobs by cost, DPU-hours, longest run and failed runs (Metrics
      Insights queries: no widget grows with the number of jobs);
    - failed runs over time: those the cost monitor saw, and every run `glue_failures_rule`
      matched (runs started outside Airflow included);
    - the trigger Lambda (invocations, errors, throttles, and its own `<namespace>/Trigger`
      counters, found by a SEARCH), its intake queue (oldest message, messages waiting) and
      the depth of `dead_letter_queues`;
    - MWAA: scheduler heartbeats, and queued and running tasks.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dashboard_name: str,
        environment_name: str,
        mwaa_environment_name: str,
        trigger_function: lambda_.IFunction,
        intake_queue: sqs.IQueue,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        glue_failures_rule: events.IRule,
        alarms: Sequence[cloudwatch.IAlarm],
        top: int = 10,
    ) -> None:
        super().__init__(scope, id_)
        env = environment_name

        def ranked(metric: RunMetric, rank_by: RankBy, period: Duration) -> cloudwatch.IMetric:
            return top_jobs(metric, env, rank_by=rank_by, limit=top, period=period)

        runs_ending_badly = matched_events(
            glue_failures_rule, period=HOUR, label="every Glue run ending badly (EventBridge)"
        )
        widgets: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=(
                        f"# Glueflow {env}\n"
                        f"Cost, DPU-hours, durations and failed runs come from the cost monitor "
                        f"task after each Glue run (namespace `{RUN_NAMESPACE}`). Per-job widgets "
                        f"rank every job and show the top {top}."
                    ),
                    width=24,
                    height=2,
                )
            ],
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms (each notifies the alert topic)",
                    alarms=list(alarms),
                    width=24,
                    height=2 + len(alarms) // 4,
                )
            ],
            [
                cloudwatch.SingleValueWidget(
                    title="Totals over the time range",
                    metrics=[
                        environment_total("CostUSD", env, period=DAY, label="cost (USD)"),
                        environment_total("DPUHours", env, period=DAY, label="DPU-hours"),
                        environment_total(
                            "FailedRuns", env, period=DAY, label="failed runs (cost monitor)"
                        ),
                        runs_ending_badly,
                    ],
                    set_period_to_time_range=True,
                    width=24,
                    height=4,
                )
            ],
            [
                cloudwatch.TableWidget(
                    title=f"Cost per job: top {top} spenders (USD)",
                    metrics=[ranked("CostUSD", "SUM", DAY)],
                    summary=cloudwatch.TableSummaryProps(
                        columns=[cloudwatch.TableSummaryColumn.SUM],
                        hide_non_summary_columns=True,
                    ),
                    period=DAY,
                    width=8,
                    height=8,
                ),
                cloudwatch.GraphWidget(
                    title=f"DPU-hours per day: top {top} jobs",
                    left=[ranked("DPUHours", "SUM", DAY)],
                    stacked=True,
                    period=DAY,
                    width=8,
                    height=8,
                ),
                cloudwatch.GraphWidget(
                    title=f"Run duration: top {top} jobs by longest run (seconds)",
                    left=[ranked("DurationSeconds", "MAX", HOUR)],
                    period=HOUR,
                    width=8,
                    height=8,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Failed Glue runs per hour",
                    left=[
                        environment_total(
                            "FailedRuns", env, period=HOUR, label="Airflow runs (cost monitor)"
                        ),
                        runs_ending_badly,
                    ],
                    period=HOUR,
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title=f"Failed runs: top {top} jobs",
                    left=[ranked("FailedRuns", "SUM", HOUR)],
                    stacked=True,
                    period=HOUR,
                    width=12,
                    height=6,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Trigger Lambda",
                    left=[
                        trigger_function.metric_invocations(period=FIVE_MINUTES),
                        trigger_function.metric_errors(period=FIVE_MINUTES),
                        trigger_function.metric_throttles(period=FIVE_MINUTES),
                    ],
                    # How long landed files wait for their runs (MWAA away, throttling).
                    right=[
                        intake_queue.metric_approximate_age_of_oldest_message(
                            statistic="Maximum", period=FIVE_MINUTES, label="intake: oldest (s)"
                        ),
                        intake_queue.metric_approximate_number_of_messages_visible(
                            statistic="Maximum", period=FIVE_MINUTES, label="intake: waiting"
                        ),
                    ],
                    width=8,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Trigger Lambda: its own counters",
                    left=[
                        cloudwatch.SearchExpression(
                            # A few metric names, never one per job.
                            expression=(
                                f"SEARCH('{{{RUN_NAMESPACE}/Trigger,Environment}} "
                                f"Environment=\"{env}\"', 'Sum', 300)"
                            ),
                            label="",
                            period=FIVE_MINUTES,
                        )
                    ],
                    width=8,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Dead-letter queues: messages waiting",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(
                            statistic="Maximum", period=FIVE_MINUTES, label=label
                        )
                        for label, queue in dead_letter_queues.items()
                    ],
                    width=8,
                    height=6,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="MWAA scheduler heartbeats",
                    left=[
                        mwaa_metric(
                            "SchedulerHeartbeat",
                            mwaa_environment_name,
                            function="Scheduler",
                            statistic="Sum",
                            period=FIVE_MINUTES,
                            label="heartbeats",
                        )
                    ],
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="MWAA tasks: queued and running",
                    left=[
                        mwaa_metric(
                            name,
                            mwaa_environment_name,
                            function="Executor",
                            statistic="Average",
                            period=FIVE_MINUTES,
                            label=label,
                        )
                        for name, label in (("QueuedTasks", "queued"), ("RunningTasks", "running"))
                    ],
                    width=12,
                    height=6,
                ),
            ],
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.days(7),
            # Each widget keeps its own period (a day for cost), whatever the time range.
            period_override=cloudwatch.PeriodOverride.INHERIT,
            widgets=widgets,
        )

"""EnvironmentAlarms: what no single resource's alarm sees, each notifying the alert topic."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.observability.metrics import environment_total, matched_events, mwaa_metric

# MWAA's Airflow metrics are read in 5-minute periods: long enough that a late batch of
# metrics is not mistaken for a missing one.
MWAA_PERIOD = Duration.minutes(5)


class EnvironmentAlarms(Construct):
    """Four alarms on an environment, named by `alarm_name(what)`:

    - `mwaa-scheduler-heartbeat`: no MWAA scheduler sent a heartbeat for `heartbeat_missing_for`.
      Missing data counts as missing heartbeats, so a scheduler that stops publishing alarms.
    - `mwaa-queued-tasks`: the executor's queue averaged above `queued_tasks_threshold` in every
      5 minutes of `queued_tasks_for`.
    - `glue-failed-runs`: `failed_runs_per_hour` or more Glue runs ended FAILED, TIMEOUT or
      STOPPED within an hour, as `glue_failures_rule` counts them (each run also alerts on
      its own through that rule; this one says they come in a burst).
    - `glue-daily-cost` (only with `daily_cost_usd`): the runs of a day cost more than that.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alarm_name: Callable[[str], str],
        environment_name: str,
        mwaa_environment_name: str,
        glue_failures_rule: events.IRule,
        alert_topic: sns.ITopic,
        heartbeat_missing_for: Duration,
        queued_tasks_threshold: int,
        queued_tasks_for: Duration,
        failed_runs_per_hour: int,
        daily_cost_usd: float | None = None,
    ) -> None:
        super().__init__(scope, id_)
        heartbeat_periods = _periods(heartbeat_missing_for, MWAA_PERIOD)
        self.scheduler_heartbeat = cloudwatch.Alarm(
            self,
            "SchedulerHeartbeatMissing",
            alarm_name=alarm_name("mwaa-scheduler-heartbeat"),
            alarm_description=(
                f"No scheduler of MWAA {mwaa_environment_name} sent a heartbeat for "
                f"{int(heartbeat_missing_for.to_minutes())} minutes: no DAG run is being "
                "scheduled. Expected while MWAA is being created or updated."
            ),
            metric=mwaa_metric(
                "SchedulerHeartbeat",
                mwaa_environment_name,
                function="Scheduler",
                statistic="Sum",
                period=MWAA_PERIOD,
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=heartbeat_periods,
            datapoints_to_alarm=heartbeat_periods,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        queued_periods = _periods(queued_tasks_for, MWAA_PERIOD)
        self.queued_tasks = cloudwatch.Alarm(
            self,
            "QueuedTasksHigh",
            alarm_name=alarm_name("mwaa-queued-tasks"),
            alarm_description=(
                f"More than {queued_tasks_threshold} Airflow tasks stayed queued on MWAA "
                f"{mwaa_environment_name} for {int(queued_tasks_for.to_minutes())} minutes: "
                "the executor has no free slot (parallelism, max_workers) or no worker takes "
                "tasks."
            ),
            # Average: with two or more schedulers, each reports its own executor's queue.
            metric=mwaa_metric(
                "QueuedTasks",
                mwaa_environment_name,
                function="Executor",
                statistic="Average",
                period=MWAA_PERIOD,
            ),
            threshold=queued_tasks_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=queued_periods,
            datapoints_to_alarm=queued_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_runs = cloudwatch.Alarm(
            self,
            "GlueFailedRuns",
            alarm_name=alarm_name("glue-failed-runs"),
            alarm_description=(
                f"{failed_runs_per_hour} or more Glue runs of environment {environment_name} "
                "ended FAILED, TIMEOUT or STOPPED within an hour (each also alerted on its own)"
            ),
            metric=matched_events(glue_failures_rule, period=Duration.hours(1)),
            threshold=failed_runs_per_hour,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms = [self.scheduler_heartbeat, self.queued_tasks, self.failed_runs]
        self.daily_cost: cloudwatch.Alarm | None = None
        if daily_cost_usd is not None:
            self.daily_cost = cloudwatch.Alarm(
                self,
                "GlueDailyCost",
                alarm_name=alarm_name("glue-daily-cost"),
                alarm_description=(
                    f"The Glue runs of environment {environment_name} cost more than "
                    f"${daily_cost_usd:,.2f} in a day"
                ),
                metric=environment_total("CostUSD", environment_name, period=Duration.days(1)),
                threshold=daily_cost_usd,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(self.daily_cost)
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alert_topic))


def _periods(length: Duration, period: Duration) -> int:
    """How many `period`s make `length` (at least one)."""
    return max(1, int(length.to_seconds() // period.to_seconds()))

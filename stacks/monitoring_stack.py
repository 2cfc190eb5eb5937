"""Observability of an environment: its dashboard and the alarms no other stack owns
(docs/architecture.md, decision 11)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.messaging.alert_topic import alert_topic as make_alert_topic
from cdk_constructs.nag import acknowledge
from cdk_constructs.observability.alarms import EnvironmentAlarms
from cdk_constructs.observability.alert_notifier import AlertNotifier
from cdk_constructs.observability.dashboard import EnvironmentDashboard
from configs import naming
from configs.loader import REPO_ROOT
from configs.models import EnvironmentConfig

NOTIFIER_SOURCE = REPO_ROOT / "lambda" / "notifier"


class MonitoringStack(Stack):
    """The alert notifier (when the environment lists alert channels), one dashboard,
    `<prefix>-<env>`, and the environment's own alarms, which notify `alert_topic`. The
    dashboard shows these alarms and `other_alarms` (those of the storage and trigger stacks)
    together.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        environment: EnvironmentConfig,
        alert_topic: sns.ITopic,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        trigger_function: lambda_.IFunction,
        intake_queue: sqs.IQueue,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        glue_failures_rule: events.IRule,
        other_alarms: Sequence[cloudwatch.IAlarm],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        cfg = environment
        settings = cfg.monitoring
        mwaa_name = naming.mwaa_environment_name(cfg.name_prefix, env_name)

        def alarm_name(what: str) -> str:
            return naming.alarm_name(cfg.name_prefix, env_name, what)

        # Takes the topic's messages to Slack and Teams; without channels, nothing would
        # read them, so the synth summary says so instead.
        self.notifier = None
        if cfg.alerts:
            self.notifier = AlertNotifier(
                self,
                "Notifier",
                code_dir=NOTIFIER_SOURCE,
                topic=alert_topic,
                channels=[c.model_dump() for c in cfg.alerts],
                key=key,
                log_retention=log_retention,
                removal_policy=removal_policy,
                environment={
                    "GLUEFLOW_ENVIRONMENT": env_name,
                    "LOG_LEVEL": "INFO",
                    # Links in alerts go to the console of the environment's partition.
                    "CONSOLE_URL": naming.console_url(cfg.region),
                },
                alarm_name=alarm_name,
                glue_jobs_arn=f"arn:{self.partition}:glue:{self.region}:{self.account}:job/"
                f"{naming.glue_job_name(cfg.name_prefix, env_name, '*')}",
            )
            # The notifier's own alarms also go by email when listed: if the notifier is what
            # fails, its alarms cannot reach Slack or Teams through it.
            self.fallback_topic = None
            notifier_targets = [alert_topic]
            if settings.fallback_emails:
                self.fallback_topic = make_alert_topic(
                    self,
                    "FallbackAlerts",
                    topic_name=naming.alert_topic_name(cfg.name_prefix, env_name) + "-fallback",
                    display_name=f"Glueflow {env_name} alerts (notifier down)",
                    key=key,
                    alarm_name_prefix=alarm_name(""),
                )
                for email in settings.fallback_emails:
                    subscription = self.fallback_topic.add_subscription(
                        subscriptions.EmailSubscription(email)
                    )
                    acknowledge(
                        subscription,
                        {
                            "Serverless-SNSRedrivePolicy": "the fallback route for when the "
                            "notifier fails; a dead-letter queue here could only alarm through "
                            "the alert topic, which is what has failed"
                        },
                    )
                notifier_targets.append(self.fallback_topic)
            for alarm in self.notifier.alarms:
                for topic in notifier_targets:
                    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        self.alarms = EnvironmentAlarms(
            self,
            "Alarms",
            alarm_name=alarm_name,
            environment_name=env_name,
            mwaa_environment_name=mwaa_name,
            glue_failures_rule=glue_failures_rule,
            alert_topic=alert_topic,
            heartbeat_missing_for=Duration.minutes(settings.scheduler_heartbeat_missing_minutes),
            queued_tasks_threshold=settings.queued_tasks_threshold,
            queued_tasks_for=Duration.minutes(settings.queued_tasks_minutes),
            failed_runs_per_hour=settings.failed_runs_per_hour,
            daily_cost_usd=settings.daily_cost_alarm_usd,
        )
        self.dashboard = EnvironmentDashboard(
            self,
            "Dashboard",
            dashboard_name=naming.dashboard_name(cfg.name_prefix, env_name),
            environment_name=env_name,
            mwaa_environment_name=mwaa_name,
            trigger_function=trigger_function,
            intake_queue=intake_queue,
            dead_letter_queues={
                **dead_letter_queues,
                **(
                    {
                        "alert notifier": self.notifier.dead_letter_queue,
                        "alert subscription": self.notifier.subscription_dead_letters,
                    }
                    if self.notifier
                    else {}
                ),
            },
            glue_failures_rule=glue_failures_rule,
            alarms=[
                *self.alarms.alarms,
                *(self.notifier.alarms if self.notifier else []),
                *other_alarms,
            ],
        ).dashboard

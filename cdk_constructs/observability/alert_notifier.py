"""AlertNotifier: the Lambda that takes the alert topic's messages to Slack and Teams."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_constructs.messaging.dead_letters import encrypted_queue, queue_depth_alarm
from cdk_constructs.nag import acknowledge, acknowledge_wildcards
from cdk_constructs.security.lambda_access import lambda_runtime_statements
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole

# Secrets Manager appends a hyphen and six random characters to a secret's name in its ARN.
SECRET_ARN_SUFFIX = "-??????"  # noqa: S105 - a pattern, not a secret
# Per channel: 4 attempts of at most 10 s each, and 1 + 2 + 4 s of backoff between them.
CHANNEL_WORST_CASE_S = 4 * 10 + 7


class AlertNotifier(Construct):
    """The notifier Lambda, outside the VPC (docs/architecture.md, decision 8: the VPC has no
    internet path, and Slack and Teams are on the internet), subscribed to the alert topic.

    Its role may read only the listed webhook secrets, send to its dead-letter queue, use the
    platform key for that queue and write its own logs. Messages it cannot deliver, and events
    SNS cannot hand to it, end in encrypted dead-letter queues watched by alarms.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        code_dir: Path,
        topic: sns.ITopic,
        channels: Sequence[Mapping[str, str]],
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str],
        alarm_name: Callable[[str], str],
        glue_jobs_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        # Alerts a channel refused or that the Lambda failed on, with the reason.
        self.dead_letter_queue = encrypted_queue(self, "DeadLetters", key)
        # Messages SNS could not hand to the Lambda; SSE-SQS, as SNS would need the key.
        self.subscription_dead_letters = encrypted_queue(self, "SubscriptionDeadLetters", None)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=key, retention=log_retention, removal_policy=removal_policy
        )
        secret_arns = [
            f"arn:{stack.partition}:secretsmanager:{stack.region}:{stack.account}:secret:"
            f"{channel['secret_name']}{SECRET_ARN_SUFFIX}"
            for channel in channels
        ]
        access = ManagedPolicyRole(
            self,
            "Access",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Alert notifier of {topic.topic_name}",
            statements=[
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=sorted(secret_arns)
                ),
                *lambda_runtime_statements(self.dead_letter_queue, key, self.log_group),
                # A Glue run that ended badly: started by Airflow (left to its DAG run's own
                # alert) or not (lambda/notifier/handler.py).
                *(
                    [iam.PolicyStatement(actions=["glue:GetJobRun"], resources=[glue_jobs_arn])]
                    if glue_jobs_arn
                    else []
                ),
            ],
        )
        acknowledge_wildcards(
            access.policy,
            {
                "*": "X-Ray puts have no resource-level permission",
                **(
                    {
                        glue_jobs_arn: "this environment's Glue jobs by name prefix, whose "
                        "failed runs the Glue-failure rule sends; read only (GetJobRun)"
                    }
                    if glue_jobs_arn
                    else {}
                ),
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(code_dir), exclude=["*.md", "__pycache__"]),
            role=access.role_for_grants,
            timeout=Duration.seconds(max(60, CHANNEL_WORST_CASE_S * len(channels) + 10)),
            memory_size=256,
            # Slack takes about one message per second per webhook: a burst of alerts is
            # better queued by Lambda than refused with 429s.
            reserved_concurrent_executions=2,
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                **environment,
                "ALERT_CHANNELS": json.dumps(list(channels), sort_keys=True),
                "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue.queue_url,
            },
            description=f"{topic.topic_name} -> Slack / Microsoft Teams",
        )
        self.function.node.add_dependency(access)
        topic.add_subscription(
            subscriptions.LambdaSubscription(
                self.function, dead_letter_queue=self.subscription_dead_letters
            )
        )
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "Errors",
                alarm_name=alarm_name("notifier-errors"),
                metric=self.function.metric_errors(period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description="The alert notifier failed; alerts are being retried",
            ),
            queue_depth_alarm(
                self,
                "DeadLettersDepth",
                self.dead_letter_queue,
                "An alert was not delivered to Slack or Teams; it waits in the notifier's "
                "dead-letter queue with the reason",
                alarm_name("notifier-dead-letters"),
            ),
            queue_depth_alarm(
                self,
                "SubscriptionDeadLettersDepth",
                self.subscription_dead_letters,
                "SNS could not hand an alert to the notifier Lambda",
                alarm_name("notifier-subscription-dead-letters"),
            ),
        ]
        for queue in (self.dead_letter_queue, self.subscription_dead_letters):
            why = (
                "this queue is itself a dead-letter queue (of the notifier Lambda or its SNS "
                "subscription); an alarm watches its depth"
            )
            acknowledge(queue, {"AwsSolutions-SQS3": why, "Serverless-SQSRedrivePolicy": why})
        acknowledge(
            self.function,
            {
                "NIST.800.53.R5-LambdaInsideVPC": "outside the VPC by design: it posts to Slack "
                "and Teams webhooks on the internet, and the VPC has no egress "
                "(docs/architecture.md, decision 8)",
            },
        )

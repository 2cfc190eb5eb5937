"""Dead-letter queues, and the alarm that says one holds a message."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def encrypted_queue(
    scope: Construct,
    id_: str,
    key: kms.IKey | None,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """A TLS-only queue kept 14 days, with SSE-KMS under `key`, or SSE-SQS without one (for
    queues EventBridge writes to, which would otherwise need the key to trust EventBridge)."""
    return sqs.Queue(
        scope,
        id_,
        encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
    )


def queue_depth_alarm(
    scope: Construct,
    id_: str,
    queue: sqs.IQueue,
    description: str = "A trigger event was dead-lettered; no DAG run was started for it",
    alarm_name: str | None = None,
) -> cloudwatch.Alarm:
    """Alarm as soon as a dead-letter queue holds a message: an event needs a person."""
    return cloudwatch.Alarm(
        scope,
        id_,
        metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
        alarm_name=alarm_name,
    )

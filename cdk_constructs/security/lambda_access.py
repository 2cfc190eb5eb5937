"""What every Glueflow Lambda's role needs to run: its dead-letter queue, its key, its own
log group and X-Ray."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from cdk_constructs.security.kms import use_keys

# X-Ray puts have no resource-level permission.
XRAY_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


def lambda_runtime_statements(
    dead_letter_queue: sqs.IQueue, key: kms.IKey, log_group: logs.ILogGroup
) -> list[iam.PolicyStatement]:
    """Send to `dead_letter_queue`, use `key` (the queue's and the logs'), write to
    `log_group`, and trace with X-Ray (Resource "*": acknowledge it on the policy)."""
    return [
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]),
        use_keys([key]),
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(actions=list(XRAY_ACTIONS), resources=["*"]),
    ]

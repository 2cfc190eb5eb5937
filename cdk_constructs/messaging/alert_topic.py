"""An encrypted SNS topic that the environment's CloudWatch alarms may publish to."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def alert_topic(
    scope: Construct,
    id_: str,
    *,
    topic_name: str,
    display_name: str,
    key: kms.IKey,
    alarm_name_prefix: str,
) -> sns.Topic:
    """A TLS-only topic under `key`, to which this account's alarms named
    `<alarm_name_prefix>*` may publish.

    A topic policy replaces SNS's default one, under which CloudWatch could publish, and
    `enforce_ssl` writes one: the alarms need saying again. Every alarm of an environment is
    named `<prefix>-<env>-...`, by us or by CloudFormation after its stack. The key's policy
    must let cloudwatch.amazonaws.com use it (`PlatformKey(publishers=...)`).
    """
    stack = Stack.of(scope)
    topic = sns.Topic(
        scope,
        id_,
        topic_name=topic_name,
        display_name=display_name,
        master_key=key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EnvironmentAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                    f"{stack.account}:alarm:{alarm_name_prefix}*"
                },
            },
        )
    )
    return topic

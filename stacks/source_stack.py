"""SourceStack: what an external bucket's owner deploys in the bucket's own account and region
(`make deploy-source ENV=name SOURCE=key`; docs/architecture.md, decision 19).

It holds, built from the documents of `stacks/source_side.py` (which `make source-policy`
prints):
- EventBridge notifications on the existing bucket. A new stack cannot import an
  `AWS::S3::Bucket`, and its notification configuration is a property of that resource, so
  aws-cdk-lib's `Custom::S3BucketNotifications` handler sets it: for a bucket this stack does
  not create it first reads the bucket's configuration and keeps every notification another
  owner set, and keeps EventBridge on when the stack is deleted (`handle_unmanaged` in
  aws-cdk-lib's custom-resource-handlers/dist/aws-s3/notifications-resource-handler/index.py).
  Its role here is the stack's own: get and put the notification configuration of that one
  bucket, and write its own log group.
- The forwarding rule on the account's default bus, whose target is this environment's default
  bus, sent as the named forward role that may only `events:PutEvents` there; events it cannot
  deliver wait in an SSE-SQS dead-letter queue.
- With `bucket_policy: managed`, the bucket policy. CloudFormation's `AWS::S3::BucketPolicy`
  is the bucket's whole policy and replaces any it had, so only a bucket with no policy is
  managed; with `printed` the stack leaves the policy alone and says where the statements are.
- The key policy grant is an output only: a key policy is a property of `AWS::KMS::Key`, which
  this stack did not create and cannot change.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, CfnResource, Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.messaging.dead_letters import encrypted_queue
from cdk_constructs.nag import acknowledge, acknowledge_deploy_time_handlers
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole, allow
from stacks.source_side import (
    SourceSide,
    bucket_policy,
    forward_pattern,
    forward_role_policy,
    forward_trust_conditions,
    key_statement,
)

# aws-cdk-lib's singleton handler of Custom::S3BucketNotifications, at the stack's top level
# (aws-s3/lib/notifications-resource/notifications-resource-handler.js).
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
# A CloudFormation output value holds at most 4,096 characters ("CloudFormation quotas").
MAX_OUTPUT_CHARS = 4096


def describe(side: SourceSide) -> str:
    """The stack's description: whose side it is, and what it forwards and grants."""
    source = side.source
    what = [
        f"Glueflow {side.env_name}: external bucket {side.bucket_name} ({source.key}) for "
        f"account {side.account}",
        "forwards Object Created events" if source.trigger_prefixes else "forwards nothing yet",
    ]
    if not source.readers:
        what.append("no reader yet")
    elif source.bucket.bucket_policy == "managed":
        what.append("bucket policy managed here")
    else:
        what.append(f"bucket policy: make source-policy ENV={side.env_name} SOURCE={source.key}")
    return "; ".join(what)


class SourceStack(Stack):
    """One external bucket's side, in its own account and region."""

    def __init__(self, scope: Construct, id_: str, *, side: SourceSide, **kwargs: Any) -> None:
        source = side.source
        managed = source.bucket.bucket_policy == "managed"
        super().__init__(
            scope,
            id_,
            env=Environment(account=side.source_account, region=side.region),
            stack_name=side.stack_name,
            description=describe(side),
            **kwargs,
        )
        self.side = side
        Tags.of(self).add("glueflow:env", side.env_name)
        Tags.of(self).add("glueflow:source", source.key)

        self.notifications = self._notifications()
        self.forward_rule: events.Rule | None = None
        pattern = forward_pattern(side)
        if pattern is not None:
            self.forward_rule = self._forward(pattern)
        else:
            CfnOutput(
                self,
                "Forwarding",
                value=f"nothing: no job of {side.env_name} is started by {source.key} yet",
            )
        self.bucket_policy: s3.CfnBucketPolicy | None = None
        policy = bucket_policy(side)
        if policy is not None and managed:
            self.bucket_policy = s3.CfnBucketPolicy(
                self, "BucketPolicy", bucket=side.bucket_name, policy_document=policy
            )
        self._outputs(policy, managed)

    def _notifications(self) -> CfnResource:
        """S3 -> EventBridge on the existing bucket, through aws-cdk-lib's handler under a role
        of this stack that reaches only that bucket's notification configuration."""
        side = self.side
        bucket_arn = f"arn:{side.partition}:s3:::{side.bucket_name}"
        log_group = logs.LogGroup(
            self,
            "NotificationsLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            log_group,
            {
                "NIST.800.53.R5-CloudWatchLogGroupEncrypted": "holds only the deploy-time "
                "handler's lines (the bucket name and the notification configuration it put); "
                "a KMS key of the source account for them would cost its owner a key"
            },
        )
        access = ManagedPolicyRole(
            self,
            "NotificationsHandler",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Turns on EventBridge notifications of {side.bucket_name}",
            statements=[
                allow(["s3:GetBucketNotification", "s3:PutBucketNotification"], [bucket_arn]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        # Immutable: aws-cdk-lib's AWSLambdaBasicExecutionRole and its own inline policy are
        # dropped; the statements above are the handler's only permissions.
        bucket = s3.Bucket.from_bucket_attributes(
            self,
            "Bucket",
            bucket_name=side.bucket_name,
            notifications_handler_role=access.role_for_grants,
        )
        bucket.enable_event_bridge_notification()
        # aws-cdk-lib's own inline policy for the handler, attached to no role here, so
        # CloudFormation never sees it (an iam.Policy renders only once attached); cdk-nag
        # still visits its construct.
        acknowledge(
            bucket.node.find_child("Notifications").node.find_child("HandlerPolicy"),
            {
                "NIST.800.53.R5-IAMNoInlinePolicy": "not in the template: aws-cdk-lib's inline "
                "policy for its handler is attached to no role, since the handler's role is "
                "immutable; its permissions are the NotificationsHandler managed policy"
            },
        )
        handler = self.node.find_child(NOTIFICATIONS_HANDLER_ID)
        function = handler.node.find_child("Resource")
        assert isinstance(function, CfnResource)
        function.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
        acknowledge_deploy_time_handlers([handler])
        resource = bucket.node.find_child("Notifications").node.find_child("Resource")
        assert isinstance(resource, CfnResource)
        # The handler's permissions are attached before CloudFormation first invokes it.
        resource.node.add_dependency(access.policy)
        return resource

    def _forward(self, pattern: dict[str, Any]) -> events.Rule:
        """The rule on the default bus, its role and its dead-letter queue."""
        side = self.side
        dead_letters = encrypted_queue(self, "ForwardDeadLetters", None)
        why = (
            "this queue is itself the dead-letter queue of the forwarding rule's target; its "
            "messages are the events this environment's bus did not accept"
        )
        acknowledge(dead_letters, {"AwsSolutions-SQS3": why, "Serverless-SQSRedrivePolicy": why})
        role = ManagedPolicyRole(
            self,
            "ForwardRole",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions=forward_trust_conditions(side)
            ),
            description=f"Forwards {side.bucket_name}'s Object Created events to {side.env_name}",
            role_name=side.role_name,
            statements=forward_role_policy(side)["Statement"],
        )
        rule = events.Rule(
            self,
            "Forward",
            rule_name=side.rule_name,
            description=f"Object Created in {side.bucket_name}, forwarded to {side.env_name}",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
            targets=[
                targets.EventBus(
                    events.EventBus.from_event_bus_arn(
                        self, "EnvironmentBus", side.source.this_bus_arn
                    ),
                    role=role.role_for_grants,
                    dead_letter_queue=dead_letters,
                )
            ],
        )
        rule.node.add_dependency(role.policy)
        CfnOutput(self, "ForwardRuleArn", value=rule.rule_arn)
        CfnOutput(
            self,
            "ForwardDeadLettersUrl",
            value=dead_letters.queue_url,
            description="Events the environment's bus did not accept (watch its depth)",
        )
        return rule

    def _outputs(self, policy: dict[str, Any] | None, managed: bool) -> None:
        side = self.side
        printed = f"make source-policy ENV={side.env_name} SOURCE={side.source.key}"
        if policy is not None and not managed:
            CfnOutput(
                self,
                "BucketPolicy",
                value=f"not managed by this stack: add the statements {printed} prints to the "
                f"policy of {side.bucket_name}",
            )
        key = key_statement(side)
        if key is not None:
            text = json.dumps(key, separators=(",", ":"))
            CfnOutput(
                self,
                "KeyPolicyStatement",
                value=text if len(text) <= MAX_OUTPUT_CHARS else f"printed by {printed}",
                description=f"Add to the key policy of {side.source.bucket.kms_key_arn}: "
                "CloudFormation cannot change the policy of a key it did not create",
            )

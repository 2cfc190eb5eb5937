"""Acknowledging cdk-nag findings on a construct, with a reason.

See docs/architecture.md, decision 10.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rules: Mapping[str, str]) -> None:
    """Acknowledge findings of `rules` (rule id -> reason) on `construct` and below it."""
    # CDK refuses ids with more than one '::', which IAM5 findings on ARNs have
    # (cdklabs/cdk-nag#2351). Those are written as the metadata that acknowledge() writes, all
    # in one entry: CDK reads every rule of every entry (collectAcknowledgedRules in
    # aws-cdk-lib's core/lib/private/collect-acknowledged-rule-ids.js), and one entry is one
    # round trip to the jsii process instead of one per rule.
    raw = {rule: reason for rule, reason in rules.items() if rule.count("::") > 1}
    if raw:
        construct.node.add_metadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, raw)
    validated = [
        Acknowledgment(id=rule, reason=reason) for rule, reason in rules.items() if rule not in raw
    ]
    if validated:
        Validations.of(construct).acknowledge(*validated)


def acknowledge_wildcards(construct: IConstruct, resources: Mapping[str, str]) -> None:
    """Acknowledge AwsSolutions-IAM5 for each scoped wildcard resource (resource -> reason)."""
    acknowledge(
        construct,
        {f"AwsSolutions-IAM5[Resource::{resource}]": why for resource, why in resources.items()},
    )


# Findings on the Lambda handlers that CDK itself adds for deploy-time custom resources
# (BucketDeployment, AwsCustomResource). They run only while CloudFormation deploys.
DEPLOY_TIME_HANDLER_RULES = {
    "AwsSolutions-L1": "runtime is chosen by aws-cdk-lib for its own handler and moves with "
    "aws-cdk-lib upgrades",
    "Serverless-LambdaLatestVersion": "runtime is chosen by aws-cdk-lib for its own handler and "
    "moves with aws-cdk-lib upgrades",
    "Serverless-LambdaDLQ": "invoked synchronously by CloudFormation, which reports a failure "
    "on the stack; a dead-letter queue applies to asynchronous invocations only",
    "NIST.800.53.R5-LambdaDLQ": "invoked synchronously by CloudFormation, which reports a "
    "failure on the stack; a dead-letter queue applies to asynchronous invocations only",
    "NIST.800.53.R5-LambdaConcurrency": "runs once per deployment; reserving concurrency would "
    "only take it from the account's pool",
    "NIST.800.53.R5-LambdaInsideVPC": "deploy-time handler that reaches only S3 and the "
    "CloudFormation response URL, never platform data paths",
    "Serverless-LambdaTracing": "deploy-time handler; CloudFormation events and its log group "
    "trace it",
}


def acknowledge_deploy_time_handlers(handlers: Iterable[IConstruct]) -> None:
    """Acknowledge the deploy-time handler findings on each handler function."""
    for handler in handlers:
        acknowledge(handler, DEPLOY_TIME_HANDLER_RULES)

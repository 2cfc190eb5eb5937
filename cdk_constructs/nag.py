"""Acknowledging cdk-nag findings on a construct, with a reason.

See docs/architecture.md, decision 10.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rules: Mapping[str, str]) -> None:
    """Acknowledge findings of `rules` (rule id -> reason) on `construct` and below it."""
    for rule, reason in rules.items():
        if rule.count("::") > 1:
            # CDK refuses ids with more than one '::', which IAM5 findings on ARNs have
            # (cdklabs/cdk-nag#2351); the metadata that acknowledge() writes is read the same.
            construct.node.add_metadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, {rule: reason})
        else:
            Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


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

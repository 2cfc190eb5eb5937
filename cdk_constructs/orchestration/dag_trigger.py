"""DagTriggerFunction: the Lambda that turns S3 object events into MWAA DAG runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.messaging.dead_letters import encrypted_queue, queue_depth_alarm
from cdk_constructs.nag import acknowledge_wildcards
from cdk_constructs.security.lambda_access import lambda_runtime_statements
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole


class DagTriggerFunction(Construct):
    """The trigger Lambda, in the VPC, with an encrypted dead-letter queue for its async
    invocations and alarms on its errors and its queue.

    Its role may call `airflow:InvokeRestApi` on `mwaa_user_role_arn` only (the environment's
    `User` Airflow role), send to its dead-letter queue, write its own logs and traces, and
    manage its network interfaces in the VPC.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        code_dir: Path,
        mwaa_environment_name: str,
        mwaa_user_role_arn: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_groups: Sequence[ec2.ISecurityGroup],
        reserved_concurrency: int,
        timeout: Duration,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        # Events the Lambda could not process after its asynchronous retries.
        self.dead_letter_queue = encrypted_queue(self, "DeadLetters", key)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=key, retention=log_retention, removal_policy=removal_policy
        )
        ec2_arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        access = ManagedPolicyRole(
            self,
            "Access",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Trigger Lambda of MWAA {mwaa_environment_name}",
            statements=[
                iam.PolicyStatement(
                    actions=["airflow:InvokeRestApi"], resources=[mwaa_user_role_arn]
                ),
                *lambda_runtime_statements(self.dead_letter_queue, key, self.log_group),
                # The ENI reads have no resource-level permission.
                iam.PolicyStatement(actions=["ec2:DescribeNetworkInterfaces"], resources=["*"]),
                iam.PolicyStatement(
                    actions=[
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=[
                        f"{ec2_arn}:network-interface/*",
                        f"{ec2_arn}:subnet/*",
                        f"{ec2_arn}:security-group/*",
                    ],
                ),
            ],
        )
        acknowledge_wildcards(
            access.policy,
            {
                "*": "ec2:DescribeNetworkInterfaces and X-Ray puts have no resource-level "
                "permission",
                f"{ec2_arn}:network-interface/*": "Lambda creates and deletes its VPC network "
                "interfaces, named at creation, in this account and region",
                f"{ec2_arn}:subnet/*": "the interfaces are created in the platform's subnets",
                f"{ec2_arn}:security-group/*": "the interfaces join the platform's client "
                "security group",
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(code_dir)),
            role=access.role_for_grants,
            timeout=timeout,
            memory_size=256,
            reserved_concurrent_executions=reserved_concurrency,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=list(security_groups),
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                **environment,
                "MWAA_ENVIRONMENT_NAME": mwaa_environment_name,
                "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue.queue_url,
            },
            description=f"S3 object created -> DAG run on MWAA {mwaa_environment_name}",
        )
        self.function.node.add_dependency(access)
        self.alarms = [
            cloudwatch.Alarm(
                self,
                "Errors",
                metric=self.function.metric_errors(period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description="The trigger Lambda failed; events are being retried",
            ),
            queue_depth_alarm(self, "DeadLettersDepth", self.dead_letter_queue),
        ]

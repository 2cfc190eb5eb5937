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
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.messaging.dead_letters import encrypted_queue, queue_depth_alarm
from cdk_constructs.nag import acknowledge, acknowledge_wildcards
from cdk_constructs.security.lambda_access import lambda_runtime_statements
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole

# A message the function itself failed on (a crash, a timeout: no batch response) comes back
# after the queue's visibility timeout, and after maxReceiveCount receives SQS moves it to the
# dead-letter queue. That is a backstop: the handler dead-letters a message itself, with its
# reason, once its retry window is over. The count is what fits in 7 days of crashes, at
# most SQS's 1,000: a message moved keeps its first enqueue time, so it has at least 7 of
# the dead-letter queue's 14 days left ("Using dead-letter queues in Amazon SQS", Amazon SQS
# Developer Guide). With the function's timeout at most 180 s it is at least 560, more than
# the handler's backoff needs for the longest retry window (7 days: about 450 receives).
INTAKE_MAX_RECEIVES = 1000
BACKSTOP_DAYS = 7
# Lambda's advice for an SQS event source: a visibility timeout of at least six times the
# function's timeout ("Configuring an Amazon SQS queue to use with Lambda", AWS Lambda
# Developer Guide).
VISIBILITY_PER_TIMEOUT = 6
INTAKE_BATCH_SIZE = 10


def max_receives(timeout: Duration) -> int:
    """The intake's maxReceiveCount for a function of this timeout (see BACKSTOP_DAYS)."""
    visibility_s = timeout.to_seconds() * VISIBILITY_PER_TIMEOUT
    return min(INTAKE_MAX_RECEIVES, int(BACKSTOP_DAYS * 86_400 // visibility_s))


class DagTriggerFunction(Construct):
    """The trigger Lambda, in the VPC, fed by its intake queue, with an encrypted dead-letter
    queue and alarms on its errors, its intake's oldest message and its dead letters.

    S3 `Object Created` events reach the intake queue (SSE-KMS under `key`) from the
    EventBridge rules; an event source mapping hands them to the function in batches, at most
    `max_concurrency` at once, and the function reports the messages that must come back
    (ReportBatchItemFailures), each after its own backoff.

    Its role may call `airflow:InvokeRestApi` on `mwaa_user_role_arn` only (the environment's
    `User` Airflow role), consume its intake queue, send to its dead-letter queue, write its
    own logs and traces, and manage its network interfaces in the VPC.
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
        max_concurrency: int,
        timeout: Duration,
        retry_window: Duration,
        oldest_message_alarm: Duration,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        # Events no run could be started for: malformed, refused, or out of retry time.
        self.dead_letter_queue = encrypted_queue(self, "DeadLetters", key)
        self.intake = encrypted_queue(
            self,
            "Intake",
            # The platform key, whose policy lets EventBridge use it (PlatformKey's
            # `publishers`). Referenced by ARN, so that the rule target's grant does not add
            # its own statement, with wildcard actions, to the key policy.
            kms.Key.from_key_arn(self, "IntakeKey", key.key_arn),
            visibility_timeout=Duration.seconds(timeout.to_seconds() * VISIBILITY_PER_TIMEOUT),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receives(timeout)
            ),
        )
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
                # What the event source mapping does as this role, and the handler's backoff.
                iam.PolicyStatement(
                    actions=[
                        "sqs:ChangeMessageVisibility",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:ReceiveMessage",
                    ],
                    resources=[self.intake.queue_arn],
                ),
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
            # As many as the event source mapping may run, so it is never throttled.
            reserved_concurrent_executions=max_concurrency,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=list(security_groups),
            # Only the event source mapping invokes it; an asynchronous invocation (a person's,
            # a future rule's) still ends in the dead-letter queue, not lost.
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                **environment,
                "MWAA_ENVIRONMENT_NAME": mwaa_environment_name,
                "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue.queue_url,
                "INTAKE_QUEUE_URL": self.intake.queue_url,
                "INTAKE_RETRY_SECONDS": str(int(retry_window.to_seconds())),
            },
            description=f"S3 object created -> DAG run on MWAA {mwaa_environment_name}",
        )
        self.function.node.add_dependency(access)
        self.event_source = lambda_.EventSourceMapping(
            self,
            "IntakeSource",
            target=self.function,
            event_source_arn=self.intake.queue_arn,
            batch_size=INTAKE_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
        self.event_source.node.add_dependency(access)  # the role may read the queue first
        acknowledge(
            self.event_source,
            {
                "Serverless-LambdaEventSourceMappingDestination": "an SQS event source takes "
                "no on-failure destination (AWS::Lambda::EventSourceMapping OnFailure: Kinesis, "
                "DynamoDB, Kafka and MSK only); the intake queue's redrive policy and the "
                "handler dead-letter its messages, with their reason",
            },
        )
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
            cloudwatch.Alarm(
                self,
                "IntakeOldestMessage",
                # A message received 3 times or more is left out of SQS's
                # ApproximateAgeOfOldestMessage ("Available CloudWatch metrics for Amazon SQS"),
                # as every message that waits out an outage is; the handler reports each
                # waiting message's age as it backs it off.
                metric=cloudwatch.MathExpression(
                    expression="MAX([queue, handler])",
                    using_metrics={
                        "queue": self.intake.metric_approximate_age_of_oldest_message(
                            period=Duration.minutes(5), statistic="Maximum"
                        ),
                        "handler": cloudwatch.Metric(
                            namespace="Glueflow/Trigger",
                            metric_name="WaitingSeconds",
                            # The handler's EMF dimension (lambda/trigger/handler.py, _count).
                            dimensions_map={"Environment": environment["GLUEFLOW_ENVIRONMENT"]},
                            statistic="Maximum",
                            period=Duration.minutes(5),
                        ),
                    },
                    label="oldest waiting file (s)",
                    period=Duration.minutes(5),
                ),
                threshold=oldest_message_alarm.to_seconds(),
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    "A landed file has waited "
                    f"{int(oldest_message_alarm.to_minutes())} minutes or more for its DAG run: "
                    "MWAA is unavailable, throttling, or refusing runs; the intake keeps "
                    f"retrying for {int(retry_window.to_hours())} h, then dead-letters"
                ),
            ),
            queue_depth_alarm(self, "DeadLettersDepth", self.dead_letter_queue),
        ]

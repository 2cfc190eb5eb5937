"""MwaaEnvironment: a private Amazon MWAA environment and its narrow execution role."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.nag import acknowledge
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole, Statement

LOG_MODULES = ("dag_processing", "scheduler", "task", "webserver", "worker")
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"


@dataclass(frozen=True)
class MwaaSize:
    """Class and capacity of the environment."""

    environment_class: str
    min_workers: int
    max_workers: int
    schedulers: int
    min_webservers: int
    max_webservers: int


class MwaaEnvironment(Construct):
    """An MWAA environment with a PRIVATE_ONLY webserver, every log module on, a customer
    managed key, and Airflow's connections read from Secrets Manager: `connections`, each a
    secret `<secrets_prefix>connections/<id>` created here without a value, and no other.

    The execution role may do what MWAA itself needs, on this environment's resources only:
    read its source bucket, write its own log groups, use its Celery queue and its key, and
    publish its metrics. `allow(...)` adds what the DAG tasks need, where the stack wires it.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment_name: str,
        airflow_version: str,
        source_bucket: s3.IBucket,
        dags_path: str,
        requirements_path: str,
        requirements_object_version: str,
        plugins_path: str | None = None,
        plugins_object_version: str | None = None,
        kms_key: kms.IKey,
        subnet_ids: Sequence[str],
        security_groups: Sequence[ec2.ISecurityGroup],
        size: MwaaSize,
        log_levels: Mapping[str, str],
        secrets_prefix: str,
        connections: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        airflow_configuration: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        arn_prefix = f"arn:{stack.partition}"
        region, account = stack.region, stack.account
        self.environment_name = environment_name
        self.environment_arn = (
            f"{arn_prefix}:airflow:{region}:{account}:environment/{environment_name}"
        )
        self._access = ManagedPolicyRole(
            self,
            "Execution",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"),
                iam.ServicePrincipal("airflow-env.amazonaws.com"),
            ),
            description=f"MWAA execution role of {environment_name} and its tasks",
        )
        self.execution_role, self.policy = self._access.role, self._access.policy
        log_groups = f"{arn_prefix}:logs:{region}:{account}:log-group:airflow-{environment_name}-*"
        self.allow(
            iam.PolicyStatement(
                actions=["airflow:PublishMetrics"], resources=[self.environment_arn]
            ),
            iam.PolicyStatement(
                actions=[
                    "s3:GetBucketLocation",
                    "s3:GetBucketPublicAccessBlock",
                    "s3:GetBucketVersioning",
                    "s3:GetEncryptionConfiguration",
                    "s3:ListBucket",
                ],
                resources=[source_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[source_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(actions=["s3:GetAccountPublicAccessBlock"], resources=["*"]),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:GetLogEvents",
                    "logs:GetLogGroupFields",
                    "logs:GetLogRecord",
                    "logs:GetQueryResults",
                    "logs:PutLogEvents",
                ],
                resources=[log_groups],
            ),
            iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "AmazonMWAA"}},
            ),
            iam.PolicyStatement(
                actions=[
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                    "sqs:SendMessage",
                ],
                # The Celery queue lives in an account MWAA owns, so the account is a wildcard.
                resources=[f"{arn_prefix}:sqs:{region}:*:airflow-celery-*"],
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[kms_key.key_arn],
                conditions={
                    "StringLike": {
                        "kms:ViaService": [
                            f"sqs.{region}.amazonaws.com",
                            f"s3.{region}.amazonaws.com",
                        ]
                    }
                },
            ),
        )
        self.connection_secrets = self._connection_secrets(
            connections, f"{secrets_prefix}connections/", kms_key, removal_policy
        )
        if self.connection_secrets:
            # The backend calls GetSecretValue alone (amazon provider, secrets_manager.py
            # _get_secret_value); the secrets are encrypted with the environment's key.
            self._access.allow(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[s.ref for s in self.connection_secrets.values()],
                ),
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[kms_key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                    },
                ),
            )

        def logging(module: str) -> mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty:
            return mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(
                enabled=True, log_level=log_levels[module]
            )

        # The backend asks Secrets Manager only for the connections that have a secret
        # (connections_lookup_pattern), and for no variable (a None prefix: "requests for
        # variables will not be sent to AWS Secrets Manager", the amazon provider's
        # SecretsManagerBackend docstring). Every other lookup goes to Airflow's own store
        # without a Secrets Manager call that the role could not make.
        backend_kwargs: dict[str, str | None] = {
            "connections_prefix": f"{secrets_prefix}connections" if connections else None,
            "variables_prefix": None,
        }
        if connections:
            backend_kwargs["connections_lookup_pattern"] = (
                "^(" + "|".join(re.escape(c) for c in sorted(connections)) + ")$"
            )
        self.environment = mwaa.CfnEnvironment(
            self,
            "Environment",
            name=environment_name,
            airflow_version=airflow_version,
            execution_role_arn=self.execution_role.role_arn,
            source_bucket_arn=source_bucket.bucket_arn,
            dag_s3_path=dags_path,
            requirements_s3_path=requirements_path,
            requirements_s3_object_version=requirements_object_version,
            plugins_s3_path=plugins_path,
            plugins_s3_object_version=plugins_object_version,
            kms_key=kms_key.key_arn,
            webserver_access_mode="PRIVATE_ONLY",
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                subnet_ids=list(subnet_ids),
                security_group_ids=[sg.security_group_id for sg in security_groups],
            ),
            environment_class=size.environment_class,
            min_workers=size.min_workers,
            max_workers=size.max_workers,
            schedulers=size.schedulers,
            min_webservers=size.min_webservers,
            max_webservers=size.max_webservers,
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(
                dag_processing_logs=logging("dag_processing"),
                scheduler_logs=logging("scheduler"),
                task_logs=logging("task"),
                webserver_logs=logging("webserver"),
                worker_logs=logging("worker"),
            ),
            airflow_configuration_options={
                "secrets.backend": SECRETS_BACKEND,
                "secrets.backend_kwargs": json.dumps(backend_kwargs, sort_keys=True),
                **(airflow_configuration or {}),
            },
            tags=dict(tags or {}),
        )
        # MWAA validates the role when the environment is created: the policy must exist first.
        self.environment.node.add_dependency(self.policy)

    def _connection_secrets(
        self,
        connections: Sequence[str],
        prefix: str,
        kms_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> dict[str, secretsmanager.CfnSecret]:
        """One secret per connection, without a value: "If you omit both
        GenerateSecretString and SecretString, you create an empty secret" (CloudFormation,
        AWS::SecretsManager::Secret). Its owner puts the connection in it (README,
        "Connections"); until then the step that uses it fails for want of the connection."""
        secrets = {}
        for conn in sorted(set(connections)):
            secret = secretsmanager.CfnSecret(
                self,
                f"Connection{''.join(p.capitalize() for p in re.split(r'[_.-]', conn))}",
                name=f"{prefix}{conn}",
                description=f"Airflow connection {conn!r} of {self.environment_name}: "
                "fill it as the README's Connections section says",
                kms_key_id=kms_key.key_arn,
            )
            secret.apply_removal_policy(removal_policy)
            acknowledge(
                secret,
                dict.fromkeys(
                    ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled"),
                    "a third party's credential for an Airflow connection, issued by that "
                    "service (an API token or sign-in): Secrets Manager has no rotation "
                    "function for it; its owner rotates it there and puts the new one here",
                ),
            )
            secrets[conn] = secret
        return secrets

    def allow(self, *statements: Statement) -> None:
        """Add statements to the execution role's policy."""
        self._access.allow(*statements)

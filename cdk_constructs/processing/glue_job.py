"""GlueEtlJob: one Spark batch Glue job, its log groups, and a role only it assumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.nag import acknowledge
from cdk_constructs.security.kms import LOGS_SERVICE_ACTIONS, use_keys
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole, allow
from cdk_constructs.storage.s3_access import (
    S3Prefix,
    object_statement,
    read_statements,
    write_statements,
)

LOG_WRITE_ACTIONS = (
    "logs:AssociateKmsKey",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
)


class GlueEtlJob(Construct):
    """A Glue Spark ETL job (command `glueetl`, Python 3) with a role of its own.

    The role, named `role_name`, may only:
    - read objects under `reads`, and read and write under `writes`, `temp` and `reports`;
    - get the script (and `extra_files`) by exact key;
    - write to the job's own log groups, which are created here with `log_key` and a retention;
    - use `data_keys` for S3 and job-bookmark encryption, and `log_key` (which must be the
      security configuration's CloudWatch Logs key) for its encrypted logs;
    - put metrics in the `Glue` namespace (PutMetricData has no resource-level permission).

    The job runs with `security_configuration`, which must encrypt S3, CloudWatch logs and job
    bookmarks; `log_group_names` must be the names that configuration implies for this role.
    Metrics, observability metrics and continuous logging are on, and runs queue instead of
    failing when the concurrency limit is reached.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        job_name: str,
        role_name: str,
        description: str,
        script: S3Prefix,
        glue_version: str,
        worker_type: str,
        number_of_workers: int,
        timeout_minutes: int,
        max_retries: int,
        execution_class: str,
        max_concurrent_runs: int,
        default_arguments: Mapping[str, str],
        tags: Mapping[str, str],
        security_configuration: glue.SecurityConfiguration,
        log_group_names: Sequence[str],
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        data_keys: Sequence[kms.IKey],
        reads: Sequence[S3Prefix] = (),
        writes: Sequence[S3Prefix] = (),
        temp: S3Prefix,
        reports: S3Prefix | None = None,
        extra_files: Sequence[S3Prefix] = (),
        shared_log_group_names: Sequence[str] = (),
        extra_statements: Sequence[iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.job_name = job_name
        self.log_groups = [
            logs.LogGroup(
                self,
                name.rsplit("/", 1)[-1].capitalize() + "Logs",
                log_group_name=name,
                encryption_key=log_key,
                retention=log_retention,
                removal_policy=removal_policy,
            )
            for name in log_group_names
        ]

        # Read once: each read of a stack property is a round trip to the jsii process.
        partition, region, account = stack.partition, stack.region, stack.account

        def log_group_arn(name: str) -> str:
            return f"arn:{partition}:logs:{region}:{account}:log-group:{name}"

        # Stream ARNs of the job's log groups: the one wildcard its log statements need.
        self.log_stream_arns = [
            f"{log_group_arn(name)}:log-stream:*"
            for name in [*log_group_names, *shared_log_group_names]
        ]

        statements = [
            object_statement(script.bucket_name, script.prefix, partition),
            *[object_statement(f.bucket_name, f.prefix, partition) for f in extra_files],
            *read_statements(*reads),
            *write_statements(*writes, temp, *([reports] if reports else [])),
            allow(
                LOG_WRITE_ACTIONS,
                [
                    arn
                    for name in log_group_names
                    for arn in (log_group_arn(name), f"{log_group_arn(name)}:log-stream:*")
                ],
            ),
            use_keys(data_keys),
            # The key of the security configuration's CloudWatch Logs encryption: Glue writes
            # the job's logs as its role, which needs the key itself ("Setting up AWS Glue to
            # use security configurations", AWS Glue Developer Guide).
            allow(LOGS_SERVICE_ACTIONS, [log_key.key_arn]),
            allow(
                ["cloudwatch:PutMetricData"],
                ["*"],
                {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            ),
            *extra_statements,
        ]
        if shared_log_group_names:
            # Glue 4.0's continuous logs share one group per security configuration; the job
            # may add streams to it, not read it.
            statements.append(
                allow(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [f"{log_group_arn(name)}:log-stream:*" for name in shared_log_group_names],
                )
            )
        access = ManagedPolicyRole(
            self,
            "Access",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Runs Glue job {job_name}; scoped to its declared data only",
            statements=statements,
        )
        self.role, self.policy = access.role, access.policy
        self.job = glue.CfnJob(
            self,
            "Job",
            name=job_name,
            description=description,
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl",
                python_version="3",
                script_location=f"s3://{script.bucket_name}/{script.prefix}",
            ),
            glue_version=glue_version,
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=timeout_minutes,
            max_retries=max_retries,
            execution_class=execution_class,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(
                max_concurrent_runs=max_concurrent_runs
            ),
            job_run_queuing_enabled=True,
            security_configuration=security_configuration.security_configuration_name,
            default_arguments={
                **default_arguments,
                "--job-language": "python",
                "--TempDir": f"s3://{temp.bucket_name}/{temp.prefix}",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
            },
            tags=dict(tags),
        )
        self.job.node.add_dependency(self.policy, *self.log_groups)
        if worker_type.endswith(".GRAVITON"):
            acknowledge(
                self.job,
                {
                    "CloudFormation-Validate::W3030": "Glue 6.1 runs Graviton worker types (AWS "
                    "Glue Developer Guide, 'Migrating AWS Glue for Spark jobs to AWS Glue version "
                    "6.1'); the validator's worker-type list comes from an older Glue API model"
                },
            )

"""One job shard: a stable slice of an environment's Glue jobs, with its security configuration.

Jobs are assigned by `naming.job_shard_for` (a hash of the job name), so the slice a job is in
never depends on which other jobs exist (docs/architecture.md, decision 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.processing.glue_job import GlueEtlJob
from cdk_constructs.storage.s3_access import S3Prefix
from configs import naming
from configs.glue_arguments import glue_default_arguments
from configs.models import EnvironmentConfig, JobConfig
from stacks.glue_library import ZIP_NAME
from stacks.nag import acknowledge_wildcards
from stacks.storage_stack import GLUE_SCRIPTS_PREFIX

GLUE_LOG_STREAMS_REASON = "log streams are named by run id, inside the job's own log group"


class JobShardStack(Stack):
    """The Glue jobs of one shard, each with its own role, policy and log groups."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        shard: int,
        env_name: str,
        environment: EnvironmentConfig,
        jobs: Mapping[str, JobConfig],
        tables: Mapping[tuple[str, str], tuple[str, str]],
        data_key: kms.IKey,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.shard = shard
        cfg = environment
        prefix = cfg.name_prefix
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration_name=naming.glue_security_configuration_name(
                prefix, env_name, shard
            ),
            s3_encryption=glue.S3Encryption.kms(data_key),
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(log_key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(data_key),
        )
        artifacts = naming.platform_bucket_name(cfg, env_name, "artifacts")
        # Read once: each read of a stack property is a round trip to the jsii process.
        self._partition = self.partition
        self._tables = tables
        self._database = naming.catalog_database_name(prefix, env_name)
        self.glue_jobs: dict[str, GlueEtlJob] = {}
        for name, job in sorted(jobs.items()):
            self.glue_jobs[name] = self._job(
                name, job, env_name, cfg, shard, artifacts, data_key, log_key, log_retention,
                removal_policy,
            )  # fmt: skip

    def _job(
        self,
        name: str,
        job: JobConfig,
        env_name: str,
        cfg: EnvironmentConfig,
        shard: int,
        artifacts: str,
        data_key: kms.IKey,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> GlueEtlJob:
        prefix = cfg.name_prefix
        glue_cfg = job.glue
        partition = self._partition

        def location(bucket_key: str, key_prefix: str) -> S3Prefix:
            return S3Prefix(
                naming.data_bucket_name(cfg, env_name, bucket_key), key_prefix, partition
            )

        reads = [location(loc.bucket, loc.prefix) for loc in job.inputs]
        writes = [location(loc.bucket, loc.prefix) for loc in job.outputs]
        temp = S3Prefix(artifacts, naming.glue_temp_prefix(name), partition)
        # A job with a validation gate or an output gets a report location: the shared Glue
        # entry point then must write the report (its counts, and what it wrote for the
        # publish task), and fails the run if the script gives it nothing to report.
        reports = (
            S3Prefix(artifacts, naming.validation_report_prefix(name), partition)
            if job.validation or job.outputs
            else None
        )
        input_tables = [
            self._tables[(loc.bucket, loc.prefix)][0]
            for loc in job.inputs
            if (loc.bucket, loc.prefix) in self._tables
        ]
        catalog = f"arn:{partition}:glue:{cfg.region}:{cfg.account}"
        # Reading another job's published table, and its own tables' partitions (which input
        # they were computed from: glueflow_glue.tables.read_changed): definitions and
        # partitions ("Specifying AWS Glue resource ARNs": the catalog, the database and the
        # table).
        read_tables = set(input_tables) | {out.table for out in job.outputs}
        extra = (
            [
                iam.PolicyStatement(
                    actions=["glue:GetTable", "glue:GetPartitions"],
                    resources=[
                        f"{catalog}:catalog",
                        f"{catalog}:database/{self._database}",
                        *sorted(f"{catalog}:table/{self._database}/{t}" for t in read_tables),
                    ],
                )
            ]
            if input_tables
            else []
        )
        # An external bucket's key (docs/architecture.md, decision 19): decrypt only, and only
        # as S3 reads its objects for the job ("kms:ViaService", AWS KMS Developer Guide).
        external_keys = sorted({
            key_arn
            for loc in job.inputs
            if loc.bucket in cfg.external_buckets
            and (key_arn := cfg.external_buckets[loc.bucket].kms_key_arn)
        })  # fmt: skip
        if external_keys:
            extra.append(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=external_keys,
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{cfg.region}.amazonaws.com"}
                    },
                )
            )
        library = S3Prefix(artifacts, f"{GLUE_SCRIPTS_PREFIX}{ZIP_NAME}", partition)
        log_groups = naming.glue_log_group_names(prefix, env_name, name, shard)
        shared_logs = (
            [naming.glue_continuous_log_group_name(prefix, env_name, shard)]
            if glue_cfg.version < "5.0"
            else []
        )
        made = GlueEtlJob(
            self,
            _construct_id(name),
            job_name=naming.glue_job_name(prefix, env_name, name),
            role_name=naming.glue_job_role_name(prefix, env_name, name),
            description=job.description,
            script=S3Prefix(artifacts, job.script, partition),
            glue_version=glue_cfg.version,
            worker_type=glue_cfg.worker_type,
            number_of_workers=glue_cfg.workers,
            timeout_minutes=glue_cfg.timeout_minutes,
            # One owner of retries: the DAG's Glue task (glue.max_retries). A Glue-level retry
            # is a new run the operator does not follow, so with both, one input could be
            # written twice.
            max_retries=0,
            execution_class=glue_cfg.execution_class,
            max_concurrent_runs=glue_cfg.max_concurrent_runs,
            default_arguments=glue_default_arguments(name, job, cfg, env_name, self._tables),
            tags={**job.tags, "glueflow:job": name, "glueflow:owner": job.owner},
            security_configuration=self.security_configuration,
            log_group_names=list(log_groups.values()),
            log_key=log_key,
            log_retention=log_retention,
            removal_policy=removal_policy,
            data_keys=[data_key],
            reads=reads,
            writes=writes,
            temp=temp,
            reports=reports,
            extra_files=[library],
            shared_log_group_names=shared_logs,
            extra_statements=extra,
        )
        reasons = {
            **{loc.objects_arn: f"objects under declared input {loc.prefix!r}" for loc in reads},
            **{loc.objects_arn: f"objects under declared output {loc.prefix!r}" for loc in writes},
            temp.objects_arn: "the job's own --TempDir prefix",
            **({reports.objects_arn: "the job's own validation-report prefix"} if reports else {}),
            "*": "cloudwatch:PutMetricData has no resource-level permission; the namespace "
            "condition limits it to Glue",
        }
        for group_arn in made.log_stream_arns:
            reasons[group_arn] = GLUE_LOG_STREAMS_REASON
        acknowledge_wildcards(made.policy, reasons)
        return made


def _construct_id(job_name: str) -> str:
    """A stable construct id per job: its logical ids never change while its name does not."""
    return "".join(part.capitalize() for part in job_name.split("_"))

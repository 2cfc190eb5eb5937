"""The MWAA environment of an environment, with its DAGs, manifest and requirements."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_constructs.orchestration.mwaa_environment import MwaaEnvironment, MwaaSize
from cdk_constructs.security.kms import use_keys
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole
from cdk_constructs.storage.asset_deployment import AssetDeployments
from cdk_constructs.storage.s3_access import S3Prefix, object_statement, read_statements
from configs import naming
from configs.models import EnvironmentConfig, JobConfig
from configs.mwaa_version import AIRFLOW_VERSION
from configs.steps import Grant, Where, registry, step_type
from stacks.nag import acknowledge, acknowledge_deploy_time_handlers, acknowledge_wildcards

DAGS_PREFIX = "dags/"
# What MWAA's dags/ folder receives from dags/, and nothing else: the DAG processor parses every
# .py file and scans every zip there, so a stray file is a "Broken DAG" or a slower parse.
DAG_FOLDER_ONLY = (
    "*",
    "!glueflow_factory.py",
    "!.airflowignore",
    "!glueflow_runtime",
    "!glueflow_runtime/*.py",
    "!glueflow_steps",
    "!glueflow_steps/*.py",
)
REQUIREMENTS_KEY = "requirements/requirements.txt"
PLUGINS_KEY = "plugins/plugins.zip"
SECRETS_PREFIX = "airflow/"
# The id aws-cdk-lib gives the singleton Lambda behind every AwsCustomResource of a stack.
AWS_CUSTOM_RESOURCE_HANDLER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
GLUE_RUN_ACTIONS = (
    "glue:BatchStopJobRun",
    "glue:GetJob",
    "glue:GetJobRun",
    "glue:GetJobRuns",
    "glue:StartJobRun",
)


# What publishing a run calls (dags/glueflow_runtime/publish.py): the table's definition, its
# partitions of a source object or of given values, and the batch writes.
CATALOG_PUBLISH_ACTIONS = (
    "glue:GetTable",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:BatchCreatePartition",
    "glue:BatchUpdatePartition",
    "glue:BatchDeletePartition",
)


def policy_statements(grants: Sequence[Grant]) -> list[iam.PolicyStatement]:
    """A step type's grants (glueflow_steps/) as the IAM statements of MWAA's role."""
    return [
        iam.PolicyStatement(
            actions=list(g.actions), resources=list(g.resources), conditions=g.conditions
        )
        for g in grants
    ]


def step_connections(jobs: Mapping[str, JobConfig]) -> list[str]:
    """The Airflow connections the environment's steps name (each type's `connections`)."""
    return sorted(
        {
            conn
            for job in jobs.values()
            for step in job.downstream
            for conn in step_type(step.type).connections(step).values()
        }
    )


class OrchestrationStack(Stack):
    """MWAA on the Airflow version in mwaa/AIRFLOW_VERSION, in the private subnets, and what
    it runs."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        environment: EnvironmentConfig,
        vpc: ec2.IVpc,
        subnet_ids: Sequence[str],
        clients_security_group: ec2.ISecurityGroup,
        platform_key: kms.IKey,
        data_key: kms.IKey,
        dags_dir: Path,
        manifest_file: Path,
        requirements_file: Path,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        tags: Mapping[str, str],
        jobs: Mapping[str, JobConfig],
        plugins_file: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        cfg = environment
        prefix = cfg.name_prefix
        bucket_name = naming.platform_bucket_name(cfg, env_name, "mwaa")
        # By name, not by reference: the name is deterministic, and literal ARNs keep the
        # policies readable in review and free of cross-stack exports.
        source_bucket = s3.Bucket.from_bucket_name(self, "SourceBucket", bucket_name)

        deployments = AssetDeployments(
            self,
            "Deployments",
            log_key=platform_key,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        dags = deployments.deploy(
            "Dags",
            sources=[
                s3_deployment.Source.asset(str(dags_dir), exclude=list(DAG_FOLDER_ONLY)),
                s3_deployment.Source.asset(
                    str(manifest_file.parent), exclude=["*", f"!{manifest_file.name}"]
                ),
            ],
            bucket=source_bucket,
            bucket_name=bucket_name,
            key_prefix=DAGS_PREFIX,
            key=platform_key,
        )
        requirements = deployments.deploy(
            "Requirements",
            sources=[
                s3_deployment.Source.asset(
                    str(requirements_file.parent),
                    exclude=["*", f"!{requirements_file.name}"],
                )
            ],
            bucket=source_bucket,
            bucket_name=bucket_name,
            key_prefix=REQUIREMENTS_KEY.rsplit("/", 1)[0] + "/",
            key=platform_key,
        )
        objects = {REQUIREMENTS_KEY: ("RequirementsVersion", requirements_file)}
        if plugins_file is not None:
            plugins = deployments.deploy(
                "Plugins",
                sources=[
                    s3_deployment.Source.asset(
                        str(plugins_file.parent), exclude=["*", f"!{plugins_file.name}"]
                    )
                ],
                bucket=source_bucket,
                bucket_name=bucket_name,
                key_prefix=PLUGINS_KEY.rsplit("/", 1)[0] + "/",
                key=platform_key,
            )
            objects[PLUGINS_KEY] = ("PluginsVersion", plugins_file)
        versions = self._object_versions(
            bucket_name,
            {
                key: (construct_id, hashlib.sha256(path.read_bytes()).hexdigest()[:16])
                for key, (construct_id, path) in objects.items()
            },
            platform_key,
            log_retention,
            removal_policy,
        )
        versions[REQUIREMENTS_KEY].node.add_dependency(requirements)
        if plugins_file is not None:
            versions[PLUGINS_KEY].node.add_dependency(plugins)

        self.security_group = ec2.SecurityGroup(
            self,
            "MwaaSecurityGroup",
            vpc=vpc,
            description="MWAA: its own components talk to each other",
            allow_all_outbound=True,  # no route leaves the VPC
        )
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.all_traffic(), "MWAA components (self-reference)"
        )
        acknowledge(
            self.security_group,
            {
                "NIST.800.53.R5-EC2RestrictedCommonPorts": "the only ingress is this security "
                "group itself: MWAA requires its components to reach each other on any port"
            },
        )
        mwaa_cfg = cfg.mwaa
        self.mwaa = MwaaEnvironment(
            self,
            "Mwaa",
            environment_name=naming.mwaa_environment_name(prefix, env_name),
            airflow_version=AIRFLOW_VERSION,
            source_bucket=source_bucket,
            dags_path=DAGS_PREFIX.rstrip("/"),
            requirements_path=REQUIREMENTS_KEY,
            requirements_object_version=versions[REQUIREMENTS_KEY].get_response_field("VersionId"),
            plugins_path=PLUGINS_KEY if plugins_file is not None else None,
            plugins_object_version=(
                versions[PLUGINS_KEY].get_response_field("VersionId")
                if plugins_file is not None
                else None
            ),
            kms_key=platform_key,
            subnet_ids=subnet_ids,
            security_groups=[self.security_group, clients_security_group],
            size=MwaaSize(
                environment_class=mwaa_cfg.environment_class,
                min_workers=mwaa_cfg.min_workers,
                max_workers=mwaa_cfg.max_workers,
                schedulers=mwaa_cfg.schedulers,
                min_webservers=mwaa_cfg.min_webservers,
                max_webservers=mwaa_cfg.max_webservers,
            ),
            log_levels=mwaa_cfg.log_levels.model_dump(),
            secrets_prefix=SECRETS_PREFIX,
            connections=step_connections(jobs),
            removal_policy=removal_policy,
            tags=tags,
        )
        self.mwaa.environment.node.add_dependency(dags)
        env_arn = self.mwaa.environment_arn
        step_grants = self._step_grants(jobs)
        arn = f"arn:{self.partition}"
        acknowledge_wildcards(
            self.mwaa.policy,
            {
                "*": "s3:GetAccountPublicAccessBlock, logs:DescribeLogGroups and "
                "cloudwatch:PutMetricData (namespace AmazonMWAA only) have no resource-level "
                f"permission; MWAA needs them ({env_arn})."
                + "".join(f" So do {g.why}" for g in step_grants if "*" in g.resources),
                f"{arn}:s3:::{bucket_name}/*": "MWAA reads its own source bucket: DAGs, "
                "manifest, requirements",
                f"{arn}:logs:{self.region}:{self.account}:log-group:"
                f"{naming.airflow_log_group_prefix(prefix, env_name)}*": "MWAA's own log "
                "groups, one per log module",
                f"{arn}:sqs:{self.region}:*:airflow-celery-*": "MWAA's Celery queue lives in an "
                "account MWAA owns, so neither its account nor its name is known",
                f"{arn}:glue:{self.region}:{self.account}:job/"
                f"{naming.glue_job_name(prefix, env_name, '*')}": "this environment's Glue jobs "
                "by name prefix; listing each would outgrow the policy size limit at 500 jobs",
            },
        )
        # A step type's scoped wildcard resources (S3 objects under the prefixes its steps
        # name), each with its grant's reason; the allowlist (stacks/iam_review.py) judges them.
        acknowledge_wildcards(
            self.mwaa.policy,
            {
                r: g.why
                for g in step_grants
                for r in g.resources
                if r != "*" and ("*" in r or "?" in r)
            },
        )
        # The DAG tasks start, watch and stop this environment's Glue jobs, and no others.
        self.mwaa.allow(
            iam.PolicyStatement(
                actions=list(GLUE_RUN_ACTIONS),
                resources=[
                    f"arn:{self.partition}:glue:{self.region}:{self.account}:job/"
                    f"{naming.glue_job_name(prefix, env_name, '*')}"
                ],
            )
        )
        # What the factory DAG's other tasks call (dags/glueflow_runtime/dag_builder.py): the
        # validation gate reads the run's report; the input sensors of scheduled jobs list
        # their data bucket (names only, no object reads).
        reports = S3Prefix(
            naming.platform_bucket_name(cfg, env_name, "artifacts"), "validation/", self.partition
        )
        glue_logs = (
            f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws-glue/jobs/"
            f"{prefix}-{env_name}-jobs-*:log-stream:*"
        )
        self.mwaa.allow(
            *read_statements(reports),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[
                    f"arn:{self.partition}:s3:::{naming.data_bucket_name(cfg, env_name, key)}"
                    for key in sorted(cfg.buckets)
                ],
            ),
            use_keys([data_key], via_services=[f"s3.{self.region}.amazonaws.com"]),
            # The cost monitor: its metrics, and budget alerts to the KMS-encrypted topic.
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glueflow"}},
            ),
            iam.PolicyStatement(
                actions=["sns:Publish"],
                resources=[
                    f"arn:{self.partition}:sns:{self.region}:{self.account}:"
                    f"{naming.alert_topic_name(prefix, env_name)}"
                ],
            ),
            use_keys([platform_key], via_services=[f"sns.{self.region}.amazonaws.com"]),
            # The failure callback reads the tail of a failed Glue run's log streams.
            iam.PolicyStatement(
                actions=["logs:GetLogEvents"],
                resources=[glue_logs],
            ),
            *policy_statements(step_grants),
        )
        acknowledge_wildcards(
            self.mwaa.policy,
            {
                glue_logs: "the failure callback reads the log tail of this environment's Glue "
                "runs (log groups per job role, streams per run id)"
            },
        )
        acknowledge_wildcards(
            self.mwaa.policy,
            {reports.objects_arn: "the validation gate reads each run's report under validation/"},
        )
        # The failure callback claims each alert once (glueflow_runtime/callbacks.py): an
        # empty object per failed task try, created with a conditional PutObject.
        alerts = S3Prefix(
            naming.platform_bucket_name(cfg, env_name, "artifacts"), "alerts/", self.partition
        )
        self.mwaa.allow(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[alerts.objects_arn])
        )
        acknowledge_wildcards(
            self.mwaa.policy,
            {alerts.objects_arn: "the failure callback records each alert it sends, by task try"},
        )
        # The publish task, and the gate for rejected rows, point the partitions of this
        # environment's tables at a run's folders (dags/glueflow_runtime/publish.py). Partition
        # actions need the catalog, the database and the table ("Specifying AWS Glue resource
        # ARNs", AWS Glue Developer Guide).
        database = naming.catalog_database_name(prefix, env_name)
        catalog = f"arn:{self.partition}:glue:{self.region}:{self.account}"
        tables = f"{catalog}:table/{database}/*"
        self.mwaa.allow(
            iam.PolicyStatement(
                actions=list(CATALOG_PUBLISH_ACTIONS),
                resources=[f"{catalog}:catalog", f"{catalog}:database/{database}", tables],
            )
        )
        acknowledge_wildcards(
            self.mwaa.policy,
            {
                tables: "the publish task adds and repoints partitions of the tables in this "
                "environment's own catalog database; listing each would outgrow the policy "
                "size limit at 500 jobs"
            },
        )

        self.mwaa.allow(self._announce_tables())

    def _announce_tables(self) -> iam.PolicyStatement:
        """The publish task's Table Published events (docs/architecture.md, decision 20):
        PutEvents on this account's default bus only, and only events whose source is
        Glueflow's. `events:source` is the request's sources, one per entry, hence the set
        operator ("Using IAM policy conditions in Amazon EventBridge", EventBridge User Guide;
        "Actions, resources, and condition keys for Amazon EventBridge", Service Authorization
        Reference)."""
        return iam.PolicyStatement(
            actions=["events:PutEvents"],
            resources=[naming.default_bus_arn(self.partition, self.region, self.account)],
            conditions={
                "ForAllValues:StringEquals": {"events:source": [naming.TABLE_EVENT_SOURCE]}
            },
        )

    def _step_grants(self, jobs: Mapping[str, JobConfig]) -> list[Grant]:
        """What the environment's downstream steps call, as each step type grants it
        (glueflow_steps/), on the resources its steps name."""
        where = Where(self.partition, self.region, self.account)
        grants = []
        for name, kind in registry().items():
            steps = [s for job in jobs.values() for s in job.downstream if s.type == name]
            if steps:
                grants += kind.grants(steps, where)
        return grants

    def _object_versions(
        self,
        bucket_name: str,
        objects: Mapping[str, tuple[str, str]],
        platform_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> dict[str, cr.AwsCustomResource]:
        """The S3 version id of each object deployed in this stack (MWAA wants them pinned):
        key -> (construct id, content hash).

        Each reader's physical id carries the content hash, so a changed file reads the new
        version.
        """
        log_group = logs.LogGroup(
            self,
            "ObjectVersionLogs",
            encryption_key=platform_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        access = ManagedPolicyRole(
            self,
            "ObjectVersionAccess",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads the S3 version id of the MWAA "
            + " and ".join(key.split("/", 1)[0] for key in objects)
            + (" file" if len(objects) == 1 else " files"),
            statements=[
                *(object_statement(bucket_name, key, self.partition) for key in objects),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        readers = {}
        for key, (construct_id, content_hash) in objects.items():
            call = cr.AwsSdkCall(
                service="S3",
                action="headObject",
                parameters={"Bucket": bucket_name, "Key": key},
                physical_resource_id=cr.PhysicalResourceId.of(f"{key}@{content_hash}"),
                output_paths=["VersionId"],
            )
            readers[key] = cr.AwsCustomResource(
                self,
                construct_id,
                on_create=call,
                on_update=call,
                role=access.role_for_grants,
                log_group=log_group,
                memory_size=256,
                install_latest_aws_sdk=False,
            )
        acknowledge_deploy_time_handlers([self.node.find_child(AWS_CUSTOM_RESOURCE_HANDLER_ID)])
        return readers

"""Keys and buckets of an environment, and the Glue scripts deployed into them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.messaging.alert_topic import alert_topic
from cdk_constructs.messaging.dead_letters import encrypted_queue, queue_depth_alarm
from cdk_constructs.security.kms import PlatformKey
from cdk_constructs.storage.asset_deployment import AssetDeployments
from cdk_constructs.storage.catalog import catalog_database
from cdk_constructs.storage.secure_bucket import SecureBucket
from configs import naming
from configs.glue_arguments import GLUE_SCRIPTS_PREFIX
from configs.models import EnvironmentConfig
from stacks.nag import acknowledge

ASSET_EXCLUDES = ("__pycache__", "*.pyc", "README.md", ".pytest_cache")


class StorageStack(Stack):
    """Two customer managed keys and four kinds of bucket.

    - `data_key` encrypts data and artifacts: the declared data buckets, the artifacts bucket,
      and what Glue writes (S3 and job bookmarks).
    - `platform_key` encrypts the platform's own state: the MWAA bucket and environment, and
      every log group.
    - Buckets: access logs (SSE-S3, as S3 requires of a log target), one per declared data
      bucket, artifacts (Glue scripts, temp, validation reports) and the MWAA source bucket.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        environment: EnvironmentConfig,
        glue_scripts_dir: Path,
        glue_library: Path,
        event_source_buckets: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        cfg = environment
        self.removal_policy = (
            RemovalPolicy.DESTROY if cfg.removal_policy == "destroy" else RemovalPolicy.RETAIN
        )
        self.log_retention = log_retention(cfg.log_retention_days)
        base = f"{cfg.name_prefix}-{env_name}"
        self.data_key = PlatformKey(
            self,
            "DataKey",
            alias=f"alias/{base}-data",
            description=f"Glueflow {env_name}: data buckets, artifacts, Glue S3 and bookmarks",
            removal_policy=self.removal_policy,
        ).key
        self.platform_key = PlatformKey(
            self,
            "PlatformKey",
            alias=f"alias/{base}-platform",
            description=f"Glueflow {env_name}: MWAA, its bucket, and every log group",
            removal_policy=self.removal_policy,
            allow_cloudwatch_logs=True,
            publishers=["cloudwatch.amazonaws.com", "events.amazonaws.com"],
        ).key

        # Every job output is a table in this database (docs/architecture.md, decision 15).
        self.catalog_database = catalog_database(
            self,
            "CatalogDatabase",
            account=self.account,
            name=naming.catalog_database_name(cfg.name_prefix, env_name),
            description=f"Glueflow {env_name}: the published tables of every job",
        )
        # Where alarms and (with the notifier) failure alerts go; encrypted with the platform
        # key, which CloudWatch may use to publish to it.
        self.alert_topic = alert_topic(
            self,
            "Alerts",
            topic_name=naming.alert_topic_name(cfg.name_prefix, env_name),
            display_name=f"Glueflow {env_name} alerts",
            key=self.platform_key,
            alarm_name_prefix=f"{base}-",
        )
        # Runs that end badly reach the topic even when started outside Airflow.
        self.glue_failures = events.Rule(
            self,
            "GlueRunsEndingBadly",
            description=f"FAILED, TIMEOUT and STOPPED runs of {base}-* Glue jobs -> alerts",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={
                    "jobName": [{"prefix": f"{base}-"}],
                    "state": ["FAILED", "TIMEOUT", "STOPPED"],
                },
            ),
        )
        self.glue_failures_dead_letters = encrypted_queue(self, "GlueRunAlertDeadLetters", None)
        # By ARN: given the topic itself, CDK would grant EventBridge `kms:GenerateDataKey*` on
        # the key. The key policy names EventBridge's actions instead, and the topic policy
        # lets this rule alone publish.
        self.alert_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="GlueRunAlertRulePublishes",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alert_topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.glue_failures.rule_arn}},
            )
        )
        self.glue_failures.add_target(
            events_targets.SnsTopic(
                sns.Topic.from_topic_arn(
                    self,
                    "AlertTopicByArn",
                    f"arn:{self.partition}:sns:{self.region}:{self.account}:"
                    f"{naming.alert_topic_name(cfg.name_prefix, env_name)}",
                ),
                dead_letter_queue=self.glue_failures_dead_letters,
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )
        self.alarms = [
            queue_depth_alarm(
                self,
                "GlueRunAlertDeadLettersDepth",
                self.glue_failures_dead_letters,
                "A Glue run alert could not be delivered to the alert topic",
            )
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alert_topic))
        why = "this queue is itself the dead-letter queue of the Glue run alert rule"
        acknowledge(
            self.glue_failures_dead_letters,
            {"AwsSolutions-SQS3": why, "Serverless-SQSRedrivePolicy": why},
        )
        self.access_logs = SecureBucket(
            self,
            "AccessLogs",
            bucket_name=naming.platform_bucket_name(cfg, env_name, "access-logs"),
            removal_policy=self.removal_policy,
        )
        loops = "this bucket receives the access logs; logging it to itself would loop"
        acknowledge(
            self.access_logs.bucket,
            {
                "AwsSolutions-S1": loops,
                "NIST.800.53.R5-S3BucketLoggingEnabled": loops,
                "NIST.800.53.R5-S3DefaultEncryptionKMS": (
                    "S3 server access logging delivers only to SSE-S3 buckets, not SSE-KMS"
                ),
            },
        )

        def bucket(id_: str, name: str, key: Any) -> SecureBucket:
            made = SecureBucket(
                self,
                id_,
                bucket_name=name,
                encryption_key=key,
                access_logs_bucket=self.access_logs.bucket,
                access_logs_prefix=f"{name}/",
                removal_policy=self.removal_policy,
            )
            return made

        self.data_buckets = {
            key: bucket(
                f"Data{key.replace('-', ' ').title().replace(' ', '')}",
                naming.data_bucket_name(cfg, env_name, key),
                self.data_key,
            )
            for key in sorted(cfg.buckets)
        }
        for key in sorted(event_source_buckets):
            # S3 -> EventBridge, natively: no notification custom resource and its wildcards.
            cfn_bucket = self.data_buckets[key].bucket.node.default_child
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        self.artifacts = bucket(
            "Artifacts", naming.platform_bucket_name(cfg, env_name, "artifacts"), self.data_key
        )
        self.mwaa_source = bucket(
            "MwaaSource", naming.platform_bucket_name(cfg, env_name, "mwaa"), self.platform_key
        )
        for made in [
            self.access_logs,
            *self.data_buckets.values(),
            self.artifacts,
            self.mwaa_source,
        ]:
            acknowledge(
                made.bucket,
                {
                    "NIST.800.53.R5-S3BucketReplicationEnabled": (
                        "single-region platform: versioning protects objects; cross-region "
                        "replication is an organisation's disaster-recovery decision"
                    )
                },
            )

        self.deployments = AssetDeployments(
            self,
            "Deployments",
            log_key=self.platform_key,
            log_retention=self.log_retention,
            removal_policy=self.removal_policy,
        )
        self.deployments.deploy(
            "GlueScripts",
            sources=[
                # The scripts; their shared helpers go as one zip, for --extra-py-files.
                s3_deployment.Source.asset(str(glue_scripts_dir), exclude=[*ASSET_EXCLUDES, "lib"]),
                s3_deployment.Source.asset(str(glue_library.parent)),
            ],
            bucket=self.artifacts.bucket,
            bucket_name=naming.platform_bucket_name(cfg, env_name, "artifacts"),
            key_prefix=GLUE_SCRIPTS_PREFIX,
            key=self.data_key,
        )


_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


def log_retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days the config accepts."""
    return getattr(logs.RetentionDays, _RETENTION[days])

"""Deploy local folders to S3 prefixes with pruning, under an explicit least-privilege role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from cdk_constructs.nag import acknowledge_deploy_time_handlers, acknowledge_wildcards
from cdk_constructs.security.kms import use_keys
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole, Statement
from cdk_constructs.storage.s3_access import S3Prefix, read_statements, write_statements

HANDLER_ID = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C"
HANDLER_MEMORY_MB = 512


class AssetDeployments(Construct):
    """BucketDeployments of one stack, sharing one handler role that names every action.

    CDK's BucketDeployment grants its handler `s3:GetObject*`, `s3:List*` and `s3:DeleteObject*`
    on whole buckets. Here the handler gets an immutable role, so those grants are dropped, and
    the role gets explicit statements instead: read of the CDK asset bucket, and write to each
    destination prefix only. One role per stack, because the handler is a per-stack singleton.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=log_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self._access = ManagedPolicyRole(
            self,
            "Handler",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies deployment assets (DAGs, scripts) into platform buckets",
        )
        self.role, self.policy = self._access.role, self._access.policy
        qualifier = stack.synthesizer.bootstrap_qualifier or "hnb659fds"
        asset_bucket = S3Prefix(
            f"cdk-{qualifier}-assets-{stack.account}-{stack.region}", partition=stack.partition
        )
        acknowledge_wildcards(
            self.policy,
            {
                asset_bucket.objects_arn: "CDK asset objects are named by content hash at "
                "publish time; read only, in the CDK bootstrap bucket"
            },
        )
        self._allow(
            *read_statements(asset_bucket),
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.log_group_arn}"],
            ),
        )
        self._keys: list[kms.IKey] = []
        self._handler_acknowledged = False

    def deploy(
        self,
        id_: str,
        *,
        sources: Sequence[s3_deployment.ISource],
        bucket: s3.IBucket,
        bucket_name: str,
        key_prefix: str,
        key: kms.IKey,
        exclude: Sequence[str] = (),
    ) -> s3_deployment.BucketDeployment:
        """Copy `sources` to `bucket_name/key_prefix`, deleting objects no source has."""
        stack = Stack.of(self)
        destination = S3Prefix(bucket_name, key_prefix, stack.partition)
        self._allow(*write_statements(destination))
        acknowledge_wildcards(
            self.policy,
            {destination.objects_arn: f"the deployed objects under {key_prefix!r}, pruned on sync"},
        )
        if key not in self._keys:
            self._keys.append(key)
            self._allow(use_keys([key]))
        deployment = s3_deployment.BucketDeployment(
            self,
            id_,
            sources=list(sources),
            destination_bucket=bucket,
            destination_key_prefix=key_prefix,
            prune=True,
            exclude=list(exclude) or None,
            role=self._access.role_for_grants,
            log_group=self.log_group,
            memory_limit=HANDLER_MEMORY_MB,
        )
        # The handler is a singleton per stack and memory size, at the stack's top level.
        handler = stack.node.try_find_child(f"{HANDLER_ID}{HANDLER_MEMORY_MB}MiB")
        if handler is not None and not self._handler_acknowledged:
            acknowledge_deploy_time_handlers([handler])
            self._handler_acknowledged = True
        return deployment

    def _allow(self, *statements: Statement) -> None:
        self._access.allow(*statements)

"""Customer managed KMS keys with explicit key policies, and the statements that use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.security.managed_policy_role import allow

# The account administers the key through IAM. The actions are listed, not `kms:*`, so that the
# no-wildcard rule holds for key policies too; this is every KMS action on a key.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)

# What CloudWatch Logs needs to encrypt and read a log group with the key.
LOGS_SERVICE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)

# What a principal needs to read and write data encrypted under the key (SSE-KMS, CSE-KMS).
ENCRYPT_DECRYPT_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


class PlatformKey(Construct):
    """A customer managed key with yearly rotation and a policy that names every action.

    With `allow_cloudwatch_logs`, CloudWatch Logs in this account and region may use the key for
    log groups (flow logs, Glue, MWAA, Lambda), as its encryption context requires.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alias: str,
        description: str,
        removal_policy: RemovalPolicy,
        allow_cloudwatch_logs: bool = False,
        publishers: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersKeyThroughIam",
                    principals=[iam.AccountRootPrincipal()],
                    actions=list(KEY_ADMIN_ACTIONS),
                    resources=["*"],  # in a key policy, "*" is this key
                )
            ]
        )
        if allow_cloudwatch_logs:
            policy.add_statements(
                iam.PolicyStatement(
                    sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                    principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                    actions=list(LOGS_SERVICE_ACTIONS),
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                            )
                        }
                    },
                )
            )
        if publishers:
            # Services that publish to topics and queues encrypted with this key (CloudWatch
            # alarms to the alert topic, EventBridge rules to the trigger's intake queue).
            policy.add_statements(
                iam.PolicyStatement(
                    sid="ServicesPublishToEncryptedTopics",
                    principals=[iam.ServicePrincipal(p) for p in publishers],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=description,
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            pending_window=Duration.days(30),
            policy=policy,
            removal_policy=removal_policy,
        )


def use_keys(keys: Sequence[kms.IKey], *, via_services: Sequence[str] = ()) -> dict[str, Any]:
    """Allow encrypting and decrypting with `keys` (optionally only through `via_services`)."""
    conditions = {"StringEquals": {"kms:ViaService": list(via_services)}} if via_services else None
    return allow(ENCRYPT_DECRYPT_ACTIONS, [key.key_arn for key in keys], conditions)

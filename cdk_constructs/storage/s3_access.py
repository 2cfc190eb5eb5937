"""Explicit S3 policy statements for one key prefix.

CDK's bucket grants use wildcard actions (`s3:GetObject*`, `s3:List*`), which this project does
not allow, and they cover a whole bucket. These name each action and reach one prefix only.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam

READ_ACTIONS = ("s3:GetObject",)
WRITE_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)


@dataclass(frozen=True)
class S3Prefix:
    """A key prefix in a bucket known by name. An empty prefix means the whole bucket."""

    bucket_name: str
    prefix: str = ""
    partition: str = "aws"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket_name}"

    @property
    def objects_arn(self) -> str:
        return f"{self.bucket_arn}/{self.prefix}*"


def _list(locations: list[S3Prefix]) -> list[iam.PolicyStatement]:
    by_bucket: dict[str, set[str]] = {}
    for loc in locations:
        by_bucket.setdefault(loc.bucket_arn, set()).add(f"{loc.prefix}*")
    return [
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": sorted(prefixes)}},
        )
        for bucket_arn, prefixes in sorted(by_bucket.items())
    ]


def _object_statements(
    actions: tuple[str, ...], locations: tuple[S3Prefix, ...]
) -> list[iam.PolicyStatement]:
    if not locations:
        return []
    objects = iam.PolicyStatement(
        actions=list(actions), resources=sorted({loc.objects_arn for loc in locations})
    )
    return [objects, *_list(list(locations))]


def read_statements(*locations: S3Prefix) -> list[iam.PolicyStatement]:
    """List and get objects under each prefix."""
    return _object_statements(READ_ACTIONS, locations)


def write_statements(*locations: S3Prefix) -> list[iam.PolicyStatement]:
    """List, get, put and delete objects under each prefix (Spark overwrites and commits)."""
    return _object_statements(WRITE_ACTIONS, locations)


def object_statement(bucket_name: str, key: str, partition: str = "aws") -> iam.PolicyStatement:
    """Get one object, by its exact key."""
    return iam.PolicyStatement(
        actions=list(READ_ACTIONS),
        resources=[f"arn:{partition}:s3:::{bucket_name}/{key}"],
    )

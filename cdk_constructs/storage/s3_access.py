"""Explicit S3 policy statements (IAM policy JSON) for one key prefix.

CDK's bucket grants use wildcard actions (`s3:GetObject*`, `s3:List*`), which this project does
not allow, and they cover a whole bucket. These name each action and reach one prefix only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdk_constructs.security.managed_policy_role import allow

# s3:GetObjectVersion: an S3-triggered run copies exactly the object version it is for
# (CopyObject with a VersionId needs it on the source, "CopyObject", Amazon S3 API Reference).
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
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


def _list(locations: list[S3Prefix]) -> list[dict[str, Any]]:
    by_bucket: dict[str, set[str]] = {}
    for loc in locations:
        by_bucket.setdefault(loc.bucket_arn, set()).add(f"{loc.prefix}*")
    return [
        allow(["s3:ListBucket"], [bucket_arn], {"StringLike": {"s3:prefix": sorted(prefixes)}})
        for bucket_arn, prefixes in sorted(by_bucket.items())
    ]


def _object_statements(
    actions: tuple[str, ...], locations: tuple[S3Prefix, ...]
) -> list[dict[str, Any]]:
    if not locations:
        return []
    objects = allow(actions, sorted({loc.objects_arn for loc in locations}))
    return [objects, *_list(list(locations))]


def read_statements(*locations: S3Prefix) -> list[dict[str, Any]]:
    """List and get objects under each prefix."""
    return _object_statements(READ_ACTIONS, locations)


def write_statements(*locations: S3Prefix) -> list[dict[str, Any]]:
    """List, get, put and delete objects under each prefix (Spark overwrites and commits)."""
    return _object_statements(WRITE_ACTIONS, locations)


def object_statement(bucket_name: str, key: str, partition: str = "aws") -> dict[str, Any]:
    """Get one object, by its exact key."""
    return allow(READ_ACTIONS, [f"arn:{partition}:s3:::{bucket_name}/{key}"])

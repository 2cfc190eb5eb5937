"""Explicit S3 policy statements (IAM policy JSON) for one key prefix.

CDK's bucket grants use wildcard actions (`s3:GetObject*`, `s3:List*`), which this project does
not allow, and they cover a whole bucket. These name each action and reach one prefix only.

A prefix `P` = `K/` is granted as Hadoop's S3A connector uses it, which is Glue's `s3://`
filesystem from Glue 5.1 ("S3A filesystem has replaced EMRFS as the default S3 connector",
"Migrating AWS Glue for Spark jobs to AWS Glue version 5.1"). A Spark path has no trailing
slash, so S3A's getFileStatus sends HeadObject on `K` itself before listing `K/`, and
HeadObject needs s3:GetObject ("HeadObject", Amazon S3 API Reference); Hadoop's own policy
examples grant `users/alice` beside `users/alice/*` for this reason, and never `users/alice*`,
which would reach `users/alice2` too ("Working with IAM Assumed Roles", Apache Hadoop
hadoop-aws documentation). Writes also need s3:ListBucketMultipartUploads on the bucket, which
the S3A committers use to find and abort pending uploads (same page: "These permissions must
all be granted for write access").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdk_constructs.security.policy_json import allow

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

    @property
    def folder_key(self) -> str | None:
        """`K` of a prefix `K/`: the key S3A heads and lists for the folder; None otherwise."""
        key = self.prefix.removesuffix("/")
        return key if key and key != self.prefix else None


def _list(locations: list[S3Prefix]) -> list[dict[str, Any]]:
    by_bucket: dict[str, set[str]] = {}
    for loc in locations:
        prefixes = by_bucket.setdefault(loc.bucket_arn, set())
        prefixes.add(f"{loc.prefix}*")
        if loc.folder_key:
            prefixes.add(loc.folder_key)
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
    folders = sorted({f"{loc.bucket_arn}/{loc.folder_key}" for loc in locations if loc.folder_key})
    heads = [allow(["s3:GetObject"], folders)] if folders else []
    return [objects, *heads, *_list(list(locations))]


def read_statements(*locations: S3Prefix) -> list[dict[str, Any]]:
    """List and get objects under each prefix."""
    return _object_statements(READ_ACTIONS, locations)


def write_statements(*locations: S3Prefix) -> list[dict[str, Any]]:
    """List, get, put and delete objects under each prefix (Spark overwrites and commits), and
    list the buckets' multipart uploads (the S3A committers abort their own)."""
    if not locations:
        return []
    uploads = allow(
        ["s3:ListBucketMultipartUploads"], sorted({loc.bucket_arn for loc in locations})
    )
    return [*_object_statements(WRITE_ACTIONS, locations), uploads]


def object_statement(bucket_name: str, key: str, partition: str = "aws") -> dict[str, Any]:
    """Get one object, by its exact key."""
    return allow(READ_ACTIONS, [f"arn:{partition}:s3:::{bucket_name}/{key}"])

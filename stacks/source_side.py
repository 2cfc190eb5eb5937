"""The source account's side of an external bucket, as the policy JSON its owner applies or
deploys (docs/architecture.md, decision 19). Plain data, no CDK: `make source-policy` prints it
for review, and `stacks/source_stack.py` deploys the same documents.

    python -m stacks.source_side --env dev --source agency

What each document follows (AWS documentation):
- the bucket policy: the bucket's account grants another account's principals, which that
  account's own IAM policies must delegate too ("Example 2: Bucket owner granting cross-account
  bucket permissions", Amazon S3 User Guide). The principal is this environment's account, and
  `aws:PrincipalArn` names the job roles ("AWS global condition context keys", IAM User Guide):
  a role named as the Principal itself must exist when the policy is saved, and is replaced by
  its unique id if it is ever deleted ("AWS JSON policy elements: Principal", IAM User Guide),
  while a condition on its ARN holds before the role exists and after it is recreated. The
  statements themselves are the job roles' own least-privilege reads
  (`cdk_constructs/storage/s3_access.py: read_statements`).
- the key policy statement: "Allowing users in other accounts to use a KMS key" (AWS KMS
  Developer Guide: the key policy must allow the external account or its principals, and only
  cryptographic operations such as Decrypt work across accounts), limited to S3's use of the key
  for those roles by `kms:ViaService` = `s3.<region>.amazonaws.com` ("kms:ViaService",
  "Condition keys for AWS KMS", AWS KMS Developer Guide; the `.amazonaws.com` suffix in every
  partition).
- the forwarding rule and its role: "Sending and receiving events between AWS accounts in
  Amazon EventBridge" (a rule on the sender's bus whose target is the receiver's bus ARN, sent
  as an IAM role), the role allowed only `events:PutEvents` on that bus ("Example policy: Send
  events to an event bus in a different account", "Permissions for event buses in Amazon
  EventBridge"), and trusted by EventBridge only for this rule of this account: "For EventBridge
  event bus rule targets, the value of aws:SourceArn must be the rule ARN" ("Cross-service
  confused deputy prevention in Amazon EventBridge", EventBridge User Guide).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdk_constructs.storage.s3_access import S3Prefix, read_statements
from configs import naming
from configs.external import Reader, Source, sources
from configs.loader import ENVIRONMENTS_DIR, JOBS_DIR, REPO_ROOT, Platform, load_platform
from configs.problems import ConfigError

POLICY_VERSION = "2012-10-17"
# What the forwarding rule matches, as S3 sends it to EventBridge ("Using EventBridge" and
# "EventBridge event message structure", Amazon S3 User Guide).
S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
# An event pattern has room for this many characters of key prefixes (as stacks/trigger_stack.py
# keeps its own rules' filters): past it, the rule covers the offered prefixes instead.
MAX_KEY_FILTER_CHARS = 1500


class UnknownSource(ValueError):
    """The environment declares no external bucket of that key."""


@dataclass(frozen=True)
class SourceSide:
    """One external bucket of one environment, with what its side needs to know of this one."""

    env_name: str
    name_prefix: str
    account: str  # this environment's
    partition: str
    source: Source

    @property
    def bucket_name(self) -> str:
        return self.source.bucket.name

    @property
    def region(self) -> str:
        return self.source.bucket.region

    @property
    def source_account(self) -> str:
        return self.source.bucket.account

    @property
    def principal(self) -> dict[str, str]:
        """This environment's account: the Principal of every grant (never a wildcard)."""
        return {"AWS": f"arn:{self.partition}:iam::{self.account}:root"}

    @property
    def rule_name(self) -> str:
        return self.source.forward_rule_name

    @property
    def rule_arn(self) -> str:
        """The forwarding rule, on the source account's default bus (a rule of the default bus
        has no bus name in its ARN)."""
        bus = f"arn:{self.partition}:events:{self.region}:{self.source_account}"
        return f"{bus}:rule/{self.rule_name}"

    @property
    def role_name(self) -> str:
        return naming.source_forward_role_name(self.name_prefix, self.env_name, self.source.key)

    @property
    def stack_name(self) -> str:
        return naming.source_stack_name(self.name_prefix, self.env_name, self.source.key)

    def sid(self, *parts: str) -> str:
        """A statement id: `<prefix><env><key><parts>`, letters and digits only, which every
        policy grammar (IAM, S3, KMS) accepts."""
        words = [self.name_prefix, self.env_name, self.source.key, *parts]
        return "".join(w[:1].upper() + w[1:] for p in words for w in re.split(r"[^A-Za-z0-9]", p))


def source_side(platform: Platform, key: str) -> SourceSide:
    """The source side of external bucket `key` of `platform`'s environment."""
    found = sources(platform)
    if key not in found:
        env = platform.environment.name
        accepted = ", ".join(sorted(found)) or "none declared"
        raise UnknownSource(
            f"source: environment {env!r} has no external bucket {key!r}; accepted: {accepted}"
        )
    cfg = platform.environment.config
    return SourceSide(
        env_name=platform.environment.name,
        name_prefix=cfg.name_prefix,
        account=cfg.account,
        partition=naming.partition_for(cfg.region),
        source=found[key],
    )


# --- the bucket policy ---------------------------------------------------------------------------


def _reader_groups(readers: tuple[Reader, ...]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Readers by the prefixes they read: one set of statements per set of prefixes, naming
    every role that reads exactly those (fewer statements than one set per job)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for reader in readers:
        groups.setdefault(reader.prefixes, []).append(reader.role_arn)
    return [(prefixes, sorted(arns)) for prefixes, arns in sorted(groups.items())]


def _kind(statement: dict[str, Any]) -> str:
    actions = statement["Action"]
    if actions == ["s3:ListBucket"]:
        return "List"
    if actions == ["s3:GetObject"]:
        return "FolderKeys"  # the key `K` of a prefix `K/`, which Glue's S3A heads
    return "Objects"


def bucket_statements(side: SourceSide) -> list[dict[str, Any]]:
    """Read on exactly the prefixes each job role reads, granted to this environment's account
    with `aws:PrincipalArn` naming the roles. Empty when no job reads the bucket."""
    statements = []
    for n, (prefixes, arns) in enumerate(_reader_groups(side.source.readers), start=1):
        locations = [S3Prefix(side.bucket_name, p, side.partition) for p in prefixes]
        for statement in read_statements(*locations):
            condition = dict(statement.get("Condition", {}))
            condition["StringEquals"] = {"aws:PrincipalArn": arns}
            statements.append({
                "Sid": side.sid("Read", str(n), _kind(statement)),
                "Effect": "Allow",
                "Principal": side.principal,
                "Action": statement["Action"],
                "Resource": statement["Resource"],
                "Condition": condition,
            })  # fmt: skip
    return statements


def tls_only_statement(side: SourceSide) -> dict[str, Any]:
    """Deny every request to the bucket that is not over TLS: a deny, the only statement with
    a wildcard principal, which a bucket policy that is the bucket's whole policy carries
    (cdk-nag AwsSolutions-S10, NIST.800.53.R5-S3BucketSSLRequestsOnly; "Security best practices
    for Amazon S3", Amazon S3 User Guide)."""
    bucket_arn = f"arn:{side.partition}:s3:::{side.bucket_name}"
    return {
        "Sid": side.sid("TlsOnly"),
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(side: SourceSide) -> dict[str, Any] | None:
    """The bucket policy document, None when no job reads the bucket. Managed: the whole
    policy the source stack sets, TLS only. Printed: the statements its owner adds to the
    bucket's own policy."""
    statements = bucket_statements(side)
    if not statements:
        return None
    if side.source.bucket.bucket_policy == "managed":
        statements.append(tls_only_statement(side))
    return {"Version": POLICY_VERSION, "Statement": statements}


# --- the key policy ------------------------------------------------------------------------------


def key_statement(side: SourceSide) -> dict[str, Any] | None:
    """kms:Decrypt for the job roles, through S3 in the bucket's region only; None when the
    bucket has no key or no job reads it."""
    arns = sorted({reader.role_arn for reader in side.source.readers})
    if side.source.bucket.kms_key_arn is None or not arns:
        return None
    return {
        "Sid": side.sid("Decrypt"),
        "Effect": "Allow",
        "Principal": side.principal,
        "Action": "kms:Decrypt",
        "Resource": "*",  # in a key policy, the key itself
        "Condition": {
            "StringEquals": {
                "aws:PrincipalArn": arns,
                "kms:ViaService": f"s3.{side.region}.amazonaws.com",
            }
        },
    }


# --- the forwarding rule and its role ------------------------------------------------------------


def key_prefixes(side: SourceSide) -> list[str]:
    """The fewest prefixes covering those that start jobs; when they would not fit in an event
    pattern, the offered prefixes that cover them. Never any key: the source forwards only
    what it offers."""
    covering: list[str] = []
    for prefix in sorted(side.source.trigger_prefixes):
        if not any(prefix.startswith(kept) for kept in covering):
            covering.append(prefix)
    if len(json.dumps(covering)) > MAX_KEY_FILTER_CHARS:
        offered = side.source.bucket.prefixes
        covering = sorted({o for o in offered for p in covering if p.startswith(o)})
    return covering


def forward_pattern(side: SourceSide) -> dict[str, Any] | None:
    """The forwarding rule's event pattern: S3's Object Created events of the bucket under the
    prefixes that start jobs; None when no job is started by the bucket."""
    prefixes = key_prefixes(side)
    if not prefixes:
        return None
    return {
        "source": [S3_SOURCE],
        "detail-type": [OBJECT_CREATED],
        "detail": {
            "bucket": {"name": [side.bucket_name]},
            "object": {"key": [{"prefix": p} for p in prefixes]},
        },
    }


def forward_role_policy(side: SourceSide) -> dict[str, Any]:
    """The forwarding role's only permission: put events on this environment's default bus."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": side.sid("PutEvents"),
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [side.source.this_bus_arn],
        }],
    }  # fmt: skip


def forward_role_trust(side: SourceSide) -> dict[str, Any]:
    """Who may assume the forwarding role: EventBridge, for the forwarding rule of the source
    account only (confused-deputy protection)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": forward_trust_conditions(side),
        }],
    }  # fmt: skip


def forward_trust_conditions(side: SourceSide) -> dict[str, Any]:
    return {
        "StringEquals": {"aws:SourceAccount": side.source_account},
        "ArnEquals": {"aws:SourceArn": side.rule_arn},
    }


# --- all of it, for review -----------------------------------------------------------------------


def documents(side: SourceSide) -> dict[str, Any]:
    """Everything the source's owner applies or deploys, as one reviewable JSON document."""
    bucket = side.source.bucket
    notes = []
    policy = bucket_policy(side)
    if policy is None:
        notes.append(
            f"no job of {side.env_name} reads {side.source.key!r} yet: no bucket policy "
            "statement or key grant to add"
        )
    elif bucket.bucket_policy == "managed":
        notes.append(
            f"bucket_policy: managed: stack {side.stack_name} sets the bucket's whole policy to "
            "bucket_policy (CloudFormation replaces any policy the bucket had: only for a bucket "
            "with none)"
        )
    else:
        notes.append(
            "bucket_policy: printed: add bucket_policy's statements to the bucket's own policy; "
            f"stack {side.stack_name} leaves the policy alone"
        )
    key = key_statement(side)
    if key is not None:
        notes.append(
            f"add key_policy_statement to the key policy of {bucket.kms_key_arn}: CloudFormation "
            "cannot change the policy of a key it did not create"
        )
    pattern = forward_pattern(side)
    if pattern is None:
        notes.append(
            f"no job of {side.env_name} is started by {side.source.key!r} yet: nothing to forward"
        )
    rule = role = None
    if pattern is not None:
        rule = {
            "name": side.rule_name,
            "event_bus": "default",
            "event_pattern": pattern,
            "target": {"arn": side.source.this_bus_arn, "role_arn": side.source.forward_role_arn},
        }
        role = {
            "name": side.role_name,
            "arn": side.source.forward_role_arn,
            "trust_policy": forward_role_trust(side),
            "policy": forward_role_policy(side),
        }
    return {
        "environment": side.env_name,
        "source": side.source.key,
        "account": side.source_account,
        "region": side.region,
        "bucket": side.bucket_name,
        "stack": side.stack_name,
        "bucket_policy": policy,
        "key_policy_statement": key,
        "forwarding_rule": rule,
        "forward_role": role,
        "notes": notes,
    }


def summary(side: SourceSide, *, deployed: bool) -> str:
    """What `make deploy-source` says after its synth or deploy: where the stack goes, what
    its owner still does by hand, and the key policy statement to add."""
    bucket = side.source.bucket
    where = f"account {side.source_account}, {side.region}"
    lines = [
        f"{side.stack_name}: {'deployed' if deployed else 'synthesized, not deployed'} "
        f"(the source's {where}; bucket {side.bucket_name})"
    ]
    lines += [f"note: {note}" for note in documents(side)["notes"]]
    if bucket.bucket_policy == "printed" and side.source.readers:
        lines.append(
            f"bucket policy: make source-policy ENV={side.env_name} SOURCE={side.source.key} "
            "prints the statements to add"
        )
    key = key_statement(side)
    if key is not None:
        lines.append(f"key policy statement to add to {bucket.kms_key_arn}:")
        lines.append(json.dumps(key, indent=2))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the documents; a bad environment or source is one line on stderr, exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m stacks.source_side",
        description="Print what an external bucket's owner applies in its account, as JSON.",
    )
    parser.add_argument("--env", default="dev")
    parser.add_argument("--source", required=True, help="the external bucket's key")
    parser.add_argument("--jobs-dir", type=Path, default=JOBS_DIR)
    parser.add_argument("--environments-dir", type=Path, default=ENVIRONMENTS_DIR)
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="only check ENV and SOURCE")
    mode.add_argument(
        "--summary",
        choices=["synthesized", "deployed"],
        help="what make deploy-source prints after its synth or deploy",
    )
    args = parser.parse_args(argv)
    try:
        platform = load_platform(
            args.env,
            jobs_dir=args.jobs_dir,
            environments_dir=args.environments_dir,
            root=args.root,
        )
        side = source_side(platform, args.source)
    except (ConfigError, UnknownSource) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        print(summary(side, deployed=args.summary == "deployed"))
    elif not args.check:
        print(json.dumps(documents(side), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

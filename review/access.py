"""The Access section of `make review`: per principal, one line of what it may do now that it
could not, and what it no longer may, in the terms a reviewer checks (which prefixes it reads
and writes, which tables it reads or publishes), with the raw IAM statements kept for the
collapsed block of the Markdown form.

The statements come from @aws-cdk/cloudformation-diff (review/cfn_diff.js): those added and
removed per stack, and every one the old template granted. A statement that changes shows as
one removed and one added; only the difference between them is reported, so a prefix renamed
in a job's config is one "reads X instead of Y", not four rows.

Places are read from the resources as IAM names them ("IAM JSON policy elements: Resource",
IAM User Guide; the ARN formats of "Actions, resources, and condition keys" for Amazon S3,
AWS Glue, CloudWatch Logs and AWS KMS): `arn:aws:s3:::bucket/key` is an object or, ending in
`*`, a prefix; `s3:ListBucket` on a bucket is limited to prefixes by the `s3:prefix`
condition key; a Glue table is `table/<database>/<table>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# What a kind of access is called in a line, in the order a line lists them.
VERBS = {
    "read": "reads",
    "write": "writes",
    "tables": "reads tables",
    "publish": "publishes partitions of",
    "assume": "may assume",
    "logs": "logs to",
    "keys": "uses keys",
    "metrics": "puts metrics in",
}
# A Glue job role's grants that every job has: said in a few words, not place by place.
STANDARD = ("logs", "keys", "metrics")
S3_READ = {"s3:getobject", "s3:getobjectversion", "s3:listbucket"}
S3_WRITE = {
    "s3:putobject",
    "s3:deleteobject",
    "s3:abortmultipartupload",
    "s3:listmultipartuploadparts",
    "s3:listbucketmultipartuploads",
}
TABLE_READ = {"glue:gettable", "glue:getpartitions", "glue:getpartition"}
_OUTPUT = re.compile(r"FnGetAtt([A-Za-z]+?)[0-9A-F]{8}Arn")
_STACK_OUTPUT = re.compile(
    r'\{"Fn::GetStackOutput":\{"StackName":"([^"]+)",[^}]*"OutputName":"([^"]+)"\}\}'
)
_ROLE_REF = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")

Grant = tuple[str, str, str]  # (principal, kind, place)


def _s3(resource: str) -> str:
    """`arn:aws:s3:::b/p/*` as `s3://b/p/`; an object stays itself; a bucket `s3://b`."""
    return f"s3://{resource.split(':::', 1)[1].rstrip('*')}"


def _prefix_places(bucket: str, condition: dict[str, Any] | None) -> list[str]:
    """The prefixes an `s3:ListBucket` grant lists, from its s3:prefix condition."""
    name = bucket.split(":::", 1)[1]
    prefixes: list[str] = []
    for test in (condition or {}).values():
        found = test.get("s3:prefix") if isinstance(test, dict) else None
        prefixes += [found] if isinstance(found, str) else list(found or [])
    if not prefixes:
        return [f"s3://{name} (the whole bucket)"]
    return sorted({f"s3://{name}/{p.removesuffix('*').removesuffix('/')}/" for p in prefixes})


def _key(resource: str) -> str:
    """A KMS key as the reviewer knows it: the stack output it comes from, by the key's
    construct name, or the ARN."""
    found = _STACK_OUTPUT.fullmatch(resource)
    if found:
        name = _OUTPUT.search(found.group(2))
        return f"{name.group(1) if name else found.group(2)} (of {found.group(1)})"
    return resource


def _places(statement: dict[str, Any], action: str, resource: str) -> list[tuple[str, str]]:
    """(kind, place) of one action on one resource."""
    lowered = action.lower()
    if lowered.startswith("s3:") and resource.startswith("arn:aws:s3:::"):
        if lowered == "s3:listbucket":
            return [("read", p) for p in _prefix_places(resource, statement["condition"])]
        if lowered == "s3:listbucketmultipartuploads":
            return [("write", f"{_s3(resource)} (multipart uploads)")]
        if lowered in S3_READ:
            place = _s3(resource)
            # A prefix's folder marker (`b/p`, read by Spark) is the prefix itself.
            return [("read", place if place.endswith((".py", ".zip")) else place.rstrip("/") + "/")]
        if lowered in S3_WRITE:
            return [("write", _s3(resource).rstrip("/") + "/")]
    if lowered.startswith("glue:") and ":table/" in resource:
        database, _, table = resource.split(":table/", 1)[1].partition("/")
        kind = "tables" if lowered in TABLE_READ else "publish"
        return [(kind, f"{database}.{table}")]
    if lowered.startswith("glue:") and (resource.endswith(":catalog") or ":database/" in resource):
        return []  # a table's grant needs its catalog and database too: the table says it
    if lowered.startswith("logs:"):
        return [("logs", resource.split(":log-group:", 1)[-1].split(":log-stream:")[0])]
    if lowered.startswith("kms:"):
        return [("keys", _key(resource))]
    if lowered == "cloudwatch:putmetricdata":
        namespaces = [
            test.get("cloudwatch:namespace")
            for test in (statement["condition"] or {}).values()
            if isinstance(test, dict)
        ]
        named = ", ".join(str(n) for n in namespaces if n) or "any namespace"
        return [("metrics", f"namespace {named}")]
    if lowered == "sts:assumerole":
        return [("assume", resource)]
    return [(f"{action} on", resource)]


def grants(statements: list[dict[str, Any]]) -> set[Grant]:
    """(principal, kind, place) of every plain Allow statement."""
    found: set[Grant] = set()
    for s in statements:
        if not s["allow"] or s["notActions"] or s["notResources"]:
            continue
        for principal in s["principals"] or ["(no principal)"]:
            for action in s["actions"]:
                for resource in s["resources"] or ["*"]:
                    found |= {(principal, k, p) for k, p in _places(s, action, resource)}
    return found


def _listed(places: set[str]) -> str:
    return ", ".join(sorted(places))


def _change(kind: str, added: set[str], removed: set[str]) -> str:
    verb = VERBS.get(kind, kind)
    if added and removed:
        wider = [f"{a} (wider: was {r})" for a in sorted(added) for r in sorted(removed)
                 if r.startswith(a) and r != a]  # fmt: skip
        return (
            f"{verb} {', '.join(wider) if wider else _listed(added)} instead of {_listed(removed)}"
        )
    if added:
        return f"now {verb} {_listed(added)}"
    return f"no longer {verb} {_listed(removed)}"


def _standard(place: str) -> bool:
    """Whether an S3 place is one every Glue job is granted: in the platform's artifacts
    bucket (its script, the shared library, its temp and report prefixes), or the bucket-level
    listing of multipart uploads that Spark's S3 writes need."""
    bucket = place.removeprefix("s3://").split("/", 1)[0]
    return "-artifacts-" in bucket or place.endswith("(multipart uploads)")


def _by_kind(found: set[tuple[str, str]]) -> dict[str, set[str]]:
    """Places per kind; a place that is written is not listed again as read."""
    kinds: dict[str, set[str]] = {}
    for kind, place in found:
        kinds.setdefault(kind, set()).add(place)
    if "read" in kinds:
        kinds["read"] -= kinds.get("write", set())
        if not kinds["read"]:
            del kinds["read"]
    return kinds


def _order(kind: str) -> tuple[int, str]:
    return (list(VERBS).index(kind) if kind in VERBS else len(VERBS), kind)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _new_principal(mine: dict[str, set[str]], trusted: list[str]) -> str:
    """What a new principal may do, its standard grants summed up in one clause."""
    standard: list[str] = []
    parts: list[str] = []
    for kind in sorted(mine, key=_order):
        places = mine[kind]
        if kind in ("read", "write"):
            own = {p for p in places if not _standard(p)}
            if places - own:
                standard.append(_count(len(places - own), f"artifacts {kind}"))
            places = own
        if kind == "metrics":
            standard.append(f"metrics in {', '.join(sorted(places))}")
        elif kind in STANDARD:
            standard.append(_count(len(places), "log group" if kind == "logs" else "key"))
        elif places:
            parts.append(f"{VERBS.get(kind, kind)} {_listed(places)}")
    if standard:
        parts.append(f"and a Glue job's standard grants ({', '.join(standard)})")
    if trusted:
        parts.append(f"assumed by {', '.join(t.removeprefix('Service:') for t in trusted)}")
    return "; ".join(parts)


def describe(
    added: list[dict[str, Any]],
    removed: list[dict[str, Any]],
    before: list[dict[str, Any]],
    who: Callable[[str], str],
) -> list[str]:
    """One line per principal whose access changes: what it now may and may no longer do."""
    new, old = grants(added), grants(removed)
    gained, lost = new - old, old - new
    had = {p for p, _, _ in grants(before)}
    # A service that may assume a role that is itself new: said on the role's line.
    assumed_by: dict[str, list[str]] = {}
    told: set[str] = set()
    for principal, kind, place in sorted(gained):
        match = _ROLE_REF.fullmatch(place)
        role = f"AWS:${{{match.group(1)}}}" if match else ""
        if kind == "assume" and match and role not in had:
            assumed_by.setdefault(role, []).append(principal)
            told.add(principal)
    lines = []
    for principal in sorted({p for p, _, _ in gained | lost}):
        mine_new = _by_kind({(k, p) for q, k, p in gained if q == principal})
        mine_old = _by_kind({(k, p) for q, k, p in lost if q == principal})
        if principal not in had and not mine_old:
            if principal in told and set(mine_new) == {"assume"}:
                continue  # said on the new role's line
            trusted = assumed_by.get(principal, [])
            lines.append(f"{who(principal)} (new): {_new_principal(mine_new, trusted)}")
            continue
        kinds = sorted(set(mine_new) | set(mine_old), key=_order)
        parts = [_change(k, mine_new.get(k, set()), mine_old.get(k, set())) for k in kinds]
        lines.append(f"{who(principal)}: " + "; ".join(parts))
    return lines

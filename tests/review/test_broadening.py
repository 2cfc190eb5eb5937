"""How the review names the ways an added IAM statement widens access.

The statements are in @aws-cdk/cloudformation-diff's terms (review/cfn_diff.js): principals,
actions and resources as strings, `*` a wildcard. What a pattern covers is IAM's: `*` matches any
run of characters and `?` one, and action names are case-insensitive ("IAM JSON policy
elements: Action" and "IAM JSON policy elements: Resource", IAM User Guide).
"""

from __future__ import annotations

from typing import Any

from review.compare import broadening, describe_broadening

ROLE = "AWS:${SalesIngestRole}"
RAW = "arn:aws:s3:::raw"


def allow(actions: list[str], resources: list[str], principal: str = ROLE) -> dict[str, Any]:
    return {"allow": True, "principals": [principal], "actions": actions, "resources": resources,
            "notActions": False, "notResources": False, "condition": None}  # fmt: skip


def test_a_prefix_made_wider_is_named_with_what_it_was() -> None:
    before = [allow(["s3:GetObject"], [f"{RAW}/sales/incoming/*"])]
    after = [allow(["s3:GetObject"], [f"{RAW}/sales/*"])]
    found = broadening(after, before, before)
    assert (ROLE, "wider resource", "s3:GetObject", f"{RAW}/sales/incoming/* -> {RAW}/sales/*") in (
        found
    )
    assert (ROLE, "wildcard added", "s3:GetObject", f"{RAW}/sales/*") in found


def test_a_new_action_and_a_new_resource_are_told_apart() -> None:
    before = [allow(["s3:GetObject"], [f"{RAW}/a/*"])]
    added = [allow(["s3:PutObject"], [f"{RAW}/a/*"]), allow(["s3:GetObject"], [f"{RAW}/b.csv"])]
    found = broadening(added, [], before)
    assert (ROLE, "new action", "s3:PutObject", f"{RAW}/a/*") in found
    assert (ROLE, "new resource", "s3:GetObject", f"{RAW}/b.csv") in found


def test_a_principal_that_had_nothing_is_new() -> None:
    added = [allow(["glue:StartJobRun"], ["arn:aws:glue:eu-west-1:1:job/x"], "AWS:${NewRole}")]
    found = broadening(added, [], [allow(["s3:GetObject"], [f"{RAW}/a/*"])])
    assert found == [
        ("AWS:${NewRole}", "new principal", "glue:StartJobRun", "arn:aws:glue:eu-west-1:1:job/x")
    ]


def test_what_an_old_grant_covers_is_not_a_finding() -> None:
    """A statement split or moved, or narrowed, grants nothing new; action case is ignored."""
    before = [allow(["s3:*"], [f"{RAW}/*"])]
    added = [allow(["S3:GetObject"], [f"{RAW}/sales/x.csv"])]
    assert broadening(added, before, before) == [(ROLE, "wildcard removed", "s3:*", f"{RAW}/*")]


def test_removing_a_deny_broadens() -> None:
    deny = {**allow(["s3:DeleteObject"], [f"{RAW}/*"]), "allow": False}
    assert broadening([], [deny], [deny]) == [(ROLE, "Deny removed", "s3:DeleteObject", f"{RAW}/*")]


def test_lines_group_a_principal_s_findings() -> None:
    template = {
        "Resources": {
            "SalesIngestRole": {
                "Type": "AWS::IAM::Role",
                "Metadata": {"aws:cdk:path": "dev/Jobs001/SalesIngest/Role"},
            }
        }
    }
    found = broadening([allow(["s3:GetObject", "s3:PutObject"], [f"{RAW}/b/*"])], [],
                       [allow(["s3:ListBucket"], [RAW])])  # fmt: skip
    assert describe_broadening(found, template) == [
        f"dev/Jobs001/SalesIngest/Role: new action: s3:GetObject, s3:PutObject on {RAW}/b/*",
        f"dev/Jobs001/SalesIngest/Role: wildcard added: s3:GetObject, s3:PutObject on {RAW}/b/*",
    ]


def test_a_changed_condition_is_named() -> None:
    """ListBucket is scoped by its `s3:prefix` condition key (Amazon S3 User Guide, "Condition
    key examples"), so a wider condition is wider access to the same resource."""
    old = {**allow(["s3:ListBucket"], [RAW]), "condition": {"StringLike": {"s3:prefix": ["a/b/*"]}}}
    new = {**allow(["s3:ListBucket"], [RAW]), "condition": {"StringLike": {"s3:prefix": ["a/*"]}}}
    found = broadening([new], [old], [old])
    assert found == [(ROLE, "condition changed", "s3:ListBucket",
                      f'{RAW} when {{"StringLike": {{"s3:prefix": ["a/b/*"]}}}} -> '
                      '{"StringLike": {"s3:prefix": ["a/*"]}}')]  # fmt: skip


def test_a_question_mark_is_a_wildcard_too() -> None:
    """IAM reads `?` in a resource as any one character ("IAM JSON policy elements: Resource")."""
    get = "secretsmanager:GetSecretValue"
    found = broadening([allow([get], ["arn:secret:x-??????"])], [],
                       [allow([get], ["arn:secret:y-??????"])])  # fmt: skip
    assert (ROLE, "wildcard added", get, "arn:secret:x-??????") in found


def test_resources_match_case_sensitively_and_actions_do_not() -> None:
    """S3 object keys, and so their ARNs, are case-sensitive; action names are not."""
    before = [allow(["s3:GetObject"], [f"{RAW}/sales/*"])]
    added = [allow(["S3:GETOBJECT"], [f"{RAW}/Sales/x.csv"])]
    assert broadening(added, [], before) == [
        (ROLE, "new resource", "S3:GETOBJECT", f"{RAW}/Sales/x.csv")
    ]

"""This account's side of an external bucket, read from the synthesized templates of a project
whose job reads and is triggered by another account's prefix.

What AWS documents, and each check follows:
- the bus policy statement: "Example policy: Send events to a custom bus in a different account
  in Amazon EventBridge" (Principal the account, `events:source` under ForAllValues and
  `events:detail-type` conditions) and "Using IAM policy conditions in Amazon EventBridge";
  `aws:PrincipalArn` narrows the account to its one forwarding role ("AWS global condition
  context keys", IAM User Guide);
- a cross-account event keeps the sender's `account` ("Sending and receiving events between AWS
  accounts in Amazon EventBridge"), which the rule here matches;
- the job role's S3 read is an identity policy, which cross-account access needs beside the
  bucket's policy ("Example 2: Bucket owner granting cross-account bucket permissions",
  Amazon S3 User Guide); its key use is kms:Decrypt through S3 only ("kms:ViaService", AWS KMS
  Developer Guide).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from review.cross_account import grants
from stacks.iam_review import principal_problems, wildcard_problems
from tests.conftest import Project, valid_environment, valid_job
from tests.synth import Synthesized, synthesize_project

SOURCE = "333333333333"
KEY_ARN = f"arn:aws:kms:eu-west-1:{SOURCE}:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = tmp_path_factory.mktemp("project")
    project = Project(root)
    project.write_env("dev", {
        **valid_environment(),
        "external_buckets": {"partner": {
            "account": SOURCE, "region": "eu-west-1", "name": "partner-exports",
            "kms_key_arn": KEY_ARN, "prefixes": ["orders/"],
        }},
    })  # fmt: skip
    project.write_job("ingest", valid_job(
        "ingest",
        inputs=[{"bucket": "partner", "prefix": "orders/eu/"}],
        trigger={"s3": {"bucket": "partner", "prefix": "orders/eu/", "suffix": ".csv"}},
    ))  # fmt: skip
    project.write_job("local", valid_job("local_job"))
    return synthesize_project(project, "dev", root / "cdk.out")


def resources(synthesized: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {
        f"{stack}/{lid}": res
        for stack, template in synthesized.templates.items()
        for lid, res in template.get("Resources", {}).items()
        if res["Type"] == kind
    }


def text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def test_the_default_bus_accepts_only_the_sources_forwarding_role_and_its_s3_events(
    synthesized: Synthesized,
) -> None:
    policies = list(resources(synthesized, "AWS::Events::EventBusPolicy").values())

    assert len(policies) == 1
    props = policies[0]["Properties"]
    statement = props["Statement"]
    assert props["EventBusName"] == "default"
    assert props["StatementId"] == statement["Sid"] == "gf-dev-partner-objects"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SOURCE}:root"}
    equals = statement["Condition"]["StringEquals"]
    assert equals["aws:PrincipalArn"] == f"arn:aws:iam::{SOURCE}:role/gf-dev-partner-forward"
    assert equals["events:detail-type"] == "Object Created"
    assert statement["Condition"]["ForAllValues:StringEquals"] == {"events:source": ["aws.s3"]}
    assert "*" not in text(statement["Principal"])


def test_the_rule_matches_the_source_account_bucket_and_prefix(synthesized: Synthesized) -> None:
    patterns = {
        lid: res["Properties"]["EventPattern"]
        for lid, res in resources(synthesized, "AWS::Events::Rule").items()
        if "bucket" in text(res["Properties"].get("EventPattern", {}))
    }

    partner = [p for p in patterns.values() if p["detail"]["bucket"]["name"] == ["partner-exports"]]
    assert partner == [{
        "account": [SOURCE],
        "detail": {"bucket": {"name": ["partner-exports"]},
                   "object": {"key": [{"prefix": "orders/eu/"}]}},
        "detail-type": ["Object Created"],
        "source": ["aws.s3"],
    }]  # fmt: skip
    own = [p for p in patterns.values() if p["detail"]["bucket"]["name"] != ["partner-exports"]]
    assert own
    assert all("account" not in p for p in own)


def test_the_job_role_reads_the_declared_prefix_and_decrypts_through_s3_only(
    synthesized: Synthesized,
) -> None:
    statements = [
        s
        for lid, res in resources(synthesized, "AWS::IAM::ManagedPolicy").items()
        if "partner-exports" in text(res) or KEY_ARN in text(res)
        for s in res["Properties"]["PolicyDocument"]["Statement"]
    ]
    bucket = "arn:aws:s3:::partner-exports"

    def on(resource: str) -> list[dict[str, Any]]:
        return [s for s in statements if resource in text(s["Resource"])]

    reads = [s for s in on(f"{bucket}/orders/eu/*") if "s3:GetObject" in s["Action"]]
    assert reads
    assert all("s3:PutObject" not in s["Action"] for s in on(bucket))
    lists = [s for s in on(bucket) if s["Action"] == "s3:ListBucket"]
    assert [s["Condition"] for s in lists] == [
        {"StringLike": {"s3:prefix": ["orders/eu", "orders/eu/*"]}}
    ]
    keys = on(KEY_ARN)
    assert [(s["Action"], s["Condition"]) for s in keys] == [
        ("kms:Decrypt", {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}})
    ]


def test_the_external_bucket_is_neither_created_nor_notified_here(
    synthesized: Synthesized,
) -> None:
    buckets = resources(synthesized, "AWS::S3::Bucket").values()

    assert "partner-exports" not in text([b["Properties"].get("BucketName") for b in buckets])
    assert "partner-exports" not in text(resources(synthesized, "AWS::S3::BucketPolicy"))


def test_cdk_nag_and_the_wildcard_allowlist_pass(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
    assert wildcard_problems(synthesized.templates) == []
    assert principal_problems(synthesized.templates, {"123456789012"}) == []


def test_the_review_names_each_cross_account_grant_of_this_side(synthesized: Synthesized) -> None:
    """What `make review` lists for this account (review/cross_account.py), from the same
    templates: the bus statement, and the role's reads and key use in the source account."""
    accounts = dict.fromkeys(synthesized.templates, "123456789012")

    lines = grants(synthesized.templates, accounts, {"partner-exports": SOURCE})

    role = "gf-dev-ingest"
    assert {line.split(": ", 1)[1] for line in lines} == {
        f"the default bus accepts events:PutEvents from account {SOURCE} when "
        f"aws:PrincipalArn arn:aws:iam::{SOURCE}:role/gf-dev-partner-forward, "
        "events:detail-type Object Created, events:source aws.s3",
        f"{role} may s3:GetObject, s3:GetObjectVersion on "
        f"arn:aws:s3:::partner-exports/orders/eu/* (account {SOURCE})",
        f"{role} may s3:GetObject on arn:aws:s3:::partner-exports/orders/eu (account {SOURCE})",
        f"{role} may s3:ListBucket on arn:aws:s3:::partner-exports (account {SOURCE}) when "
        "s3:prefix orders/eu or orders/eu/*",
        f"{role} may kms:Decrypt on {KEY_ARN} (account {SOURCE}) when kms:ViaService "
        "s3.eu-west-1.amazonaws.com",
    }

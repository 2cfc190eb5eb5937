"""The source account's side of an external bucket (docs/architecture.md, decision 19), read from
the synthesized templates of a project whose jobs read and are started by another account's
prefixes, and from what `make source-policy` and `make deploy-source` give a user.

Expected values are written out here, from the project's config and AWS's documented shapes
(each named in stacks/source_side.py), not recomputed with the code under test:
- the forwarding rule and its role: "Sending and receiving events between AWS accounts in
  Amazon EventBridge"; the role's trust: "Cross-service confused deputy prevention in Amazon
  EventBridge" (aws:SourceArn is the rule's ARN);
- the bucket policy: "Example 2: Bucket owner granting cross-account bucket permissions" (Amazon
  S3 User Guide), the job roles named by `aws:PrincipalArn` ("AWS global condition context
  keys", IAM User Guide);
- the key statement: "Allowing users in other accounts to use a KMS key" and "kms:ViaService"
  (AWS KMS Developer Guide).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

import app as cdk_app
from configs.loader import Platform, load_platform
from stacks.iam_review import principal_problems, wildcard_problems
from stacks.nag import acknowledgements
from stacks.source_side import UnknownSource, documents, main, source_side
from stacks.source_stack import SourceStack
from tests.conftest import REPO_ROOT, Project, valid_environment, valid_job
from tests.synth import run_app

SOURCE = "333333333333"
HERE = "123456789012"  # the environment's account (tests/conftest.py: valid_environment)
KEY_ARN = f"arn:aws:kms:eu-west-1:{SOURCE}:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
BUS = f"arn:aws:events:eu-west-1:{HERE}:event-bus/default"
INGEST_ROLE = f"arn:aws:iam::{HERE}:role/gf-dev-ingest"
REPORT_ROLE = f"arn:aws:iam::{HERE}:role/gf-dev-report"
MAKE = shutil.which("make") or "make"


def external(name: str, **fields: Any) -> dict[str, Any]:
    return {"account": SOURCE, "region": "eu-west-1", "name": name, **fields}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """partner (managed policy, a key): `ingest` reads and is started by orders/eu/, `report`
    reads returns/ on a schedule; vendor (printed): `ingest` reads it too; idle: no job."""
    project = Project(tmp_path_factory.mktemp("project"))
    project.write_env("dev", {**valid_environment(), "external_buckets": {
        "partner": external("partner-exports", kms_key_arn=KEY_ARN,
                            prefixes=["orders/", "returns/"], bucket_policy="managed"),
        "vendor": external("vendor-drops", prefixes=["feed/"], bucket_policy="printed"),
        "idle": external("idle-exports", prefixes=["x/"]),
    }})  # fmt: skip
    project.write_job("ingest", valid_job(
        "ingest",
        inputs=[{"bucket": "partner", "prefix": "orders/eu/"},
                {"bucket": "vendor", "prefix": "feed/daily/"}],
        trigger={"s3": {"bucket": "partner", "prefix": "orders/eu/", "suffix": ".csv"}},
    ))  # fmt: skip
    project.write_job("report", valid_job(
        "report",
        inputs=[{"bucket": "raw", "prefix": "report/in/"},
                {"bucket": "partner", "prefix": "returns/"}],
        trigger={"schedule": "0 6 * * *"},
    ))  # fmt: skip
    return project


@pytest.fixture(scope="module")
def platform(project: Project) -> Platform:
    return load_platform("dev", root=project.root, **project.paths())


def synthesize(platform: Platform, key: str, outdir: Path) -> tuple[SourceStack, dict[str, Any]]:
    """As `cdk synth -c source=KEY` does: cdk.json's flags, cdk-nag registered."""
    application = cdk.App(context=cdk_app.project_context(), outdir=str(outdir))
    stack = cdk_app.add_source(application, platform, key)
    application.synth()
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return stack, template


@pytest.fixture(scope="module")
def partner(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SourceStack, dict[str, Any], Path]:
    outdir = tmp_path_factory.mktemp("partner") / "cdk.out"
    stack, template = synthesize(platform, "partner", outdir)
    return stack, template, outdir


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def logical_id(template: dict[str, Any], kind: str) -> str:
    (found,) = [lid for lid, r in template["Resources"].items() if r["Type"] == kind]
    return found


def test_the_stack_is_named_and_placed_in_the_sources_account_and_region(partner) -> None:
    stack, template, outdir = partner
    manifest = json.loads((outdir / "manifest.json").read_text())

    assert stack.stack_name == "gf-dev-source-partner"
    artifact = manifest["artifacts"]["gf-dev-source-partner"]
    assert artifact["environment"] == f"aws://{SOURCE}/eu-west-1"
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == 1  # the source's stack alone, none of the environment's
    assert template["Description"].startswith("Glueflow dev: external bucket partner-exports")


def test_the_rule_forwards_the_triggering_prefix_to_this_environments_bus(partner) -> None:
    _, template, _ = partner
    (rule,) = resources(template, "AWS::Events::Rule")
    props = rule["Properties"]

    assert props["Name"] == "gf-dev-partner-forward"
    assert "EventBusName" not in props  # the source account's default bus, where S3 sends
    assert props["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["partner-exports"]},
            "object": {"key": [{"prefix": "orders/eu/"}]},
        },
    }
    (target,) = props["Targets"]
    assert target["Arn"] == BUS
    queue = logical_id(template, "AWS::SQS::Queue")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
    (queue_res,) = resources(template, "AWS::SQS::Queue")
    assert queue_res["Properties"]["SqsManagedSseEnabled"] is True


def roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def policies_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role."""
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {
            "Ref": role_id
        } in resource["Properties"].get("Roles", []):
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_the_forward_role_is_named_trusts_the_rule_and_may_only_put_events_there(
    partner,
) -> None:
    _, template, _ = partner
    (role_id,) = [
        lid
        for lid, r in roles(template).items()
        if r["Properties"].get("RoleName") == "gf-dev-partner-forward"
    ]
    role = roles(template)[role_id]["Properties"]

    (rule,) = resources(template, "AWS::Events::Rule")
    assert rule["Properties"]["Targets"][0]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Condition": {
            "StringEquals": {"aws:SourceAccount": SOURCE},
            "ArnEquals": {"aws:SourceArn":
                          f"arn:aws:events:eu-west-1:{SOURCE}:rule/gf-dev-partner-forward"},
        },
    }]  # fmt: skip
    assert "ManagedPolicyArns" not in role
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in policies_of(template, role_id)] == [
        ("Allow", "events:PutEvents", BUS)
    ]


def bucket_policy(template: dict[str, Any]) -> dict[str, Any]:
    (policy,) = resources(template, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == "partner-exports"
    return policy["Properties"]["PolicyDocument"]


def test_the_bucket_policy_grants_this_account_only_as_the_reading_roles(partner) -> None:
    _, template, _ = partner
    allows = [s for s in bucket_policy(template)["Statement"] if s["Effect"] == "Allow"]
    bucket = "arn:aws:s3:::partner-exports"

    assert allows
    for statement in allows:
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{HERE}:root"}
        assert set(statement["Condition"]["StringEquals"]) == {"aws:PrincipalArn"}
    by_role = {
        role: sorted(
            (tuple(s["Action"]), tuple(s["Resource"]),
             json.dumps(s["Condition"].get("StringLike"), sort_keys=True))
            for s in allows if s["Condition"]["StringEquals"]["aws:PrincipalArn"] == [role]
        )
        for role in (INGEST_ROLE, REPORT_ROLE)
    }  # fmt: skip
    assert by_role[INGEST_ROLE] == [
        (("s3:GetObject",), (f"{bucket}/orders/eu",), "null"),
        (("s3:GetObject", "s3:GetObjectVersion"), (f"{bucket}/orders/eu/*",), "null"),
        (("s3:ListBucket",), (bucket,), '{"s3:prefix": ["orders/eu", "orders/eu/*"]}'),
    ]
    assert by_role[REPORT_ROLE] == [
        (("s3:GetObject",), (f"{bucket}/returns",), "null"),
        (("s3:GetObject", "s3:GetObjectVersion"), (f"{bucket}/returns/*",), "null"),
        (("s3:ListBucket",), (bucket,), '{"s3:prefix": ["returns", "returns/*"]}'),
    ]
    assert len(allows) == 6
    assert len({s["Sid"] for s in allows}) == 6


def test_the_managed_bucket_policy_is_the_whole_policy_so_it_refuses_plain_http(partner) -> None:
    _, template, _ = partner
    denies = [s for s in bucket_policy(template)["Statement"] if s["Effect"] == "Deny"]

    assert [(d["Action"], d["Resource"], d["Condition"]) for d in denies] == [(
        "s3:*",
        ["arn:aws:s3:::partner-exports", "arn:aws:s3:::partner-exports/*"],
        {"Bool": {"aws:SecureTransport": "false"}},
    )]  # fmt: skip


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every policy document in the template: bucket and queue policies,
    role trust policies, managed and inline policies."""
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for field in ("PolicyDocument", "AssumeRolePolicyDocument"):
            if field in props:
                found += props[field]["Statement"]
    return found


def test_no_statement_allows_a_wildcard_principal(partner) -> None:
    _, template, _ = partner
    allows = [s for s in statements(template) if s["Effect"] == "Allow" and "Principal" in s]

    assert allows
    for statement in allows:
        principal = statement["Principal"]
        assert principal != "*", statement
        assert "*" not in json.dumps(principal), statement


def test_the_key_grant_is_an_output_not_a_resource(partner) -> None:
    _, template, _ = partner
    output = template["Outputs"]["KeyPolicyStatement"]

    assert not resources(template, "AWS::KMS::Key")
    assert KEY_ARN in output["Description"]
    assert json.loads(output["Value"]) == {
        "Sid": "GfDevPartnerDecrypt",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{HERE}:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {
            "aws:PrincipalArn": [INGEST_ROLE, REPORT_ROLE],
            "kms:ViaService": "s3.eu-west-1.amazonaws.com",
        }},
    }  # fmt: skip


def test_the_bucket_gets_eventbridge_notifications_kept_beside_its_others(partner) -> None:
    _, template, _ = partner
    (notifications,) = resources(template, "Custom::S3BucketNotifications")
    (function,) = resources(template, "AWS::Lambda::Function")
    handler_role = function["Properties"]["Role"]["Fn::GetAtt"][0]

    assert notifications["Properties"]["BucketName"] == "partner-exports"
    assert notifications["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {}
    }
    # Unmanaged: the handler keeps the bucket's other notifications.
    assert notifications["Properties"]["Managed"] is False
    assert not resources(template, "AWS::S3::Bucket")
    assert "ManagedPolicyArns" not in roles(template)[handler_role]["Properties"]
    log_group = logical_id(template, "AWS::Logs::LogGroup")
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group}}
    assert [(s["Action"], s["Resource"]) for s in policies_of(template, handler_role)] == [
        (["s3:GetBucketNotification", "s3:PutBucketNotification"], "arn:aws:s3:::partner-exports"),
        (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": [log_group, "Arn"]}),
    ]
    policy = [
        lid
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and {"Ref": handler_role} in r["Properties"]["Roles"]
    ]
    assert notifications["DependsOn"] == policy


def test_cdk_nag_passes_with_specific_acknowledgements(partner) -> None:
    stack, template, outdir = partner

    assert cdk_app.validation_failures(outdir) == []
    assert wildcard_problems({stack.stack_name: template}) == []
    # This environment's account is let in only with its roles named (aws:PrincipalArn).
    assert principal_problems({stack.stack_name: template}, {SOURCE}) == []
    found = acknowledgements(stack)
    assert found
    for ack in found:
        assert len(ack.reason) >= 30, ack
        assert ack.path != stack.node.path, ack  # on a construct, never the whole stack


def test_an_unacknowledged_finding_in_the_source_stack_fails_synth(
    platform: Platform, tmp_path: Path
) -> None:
    application = cdk.App(context=cdk_app.project_context(), outdir=str(tmp_path / "cdk.out"))
    stack = cdk_app.add_source(application, platform, "partner")
    s3.Bucket(stack, "Careless")

    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        application.synth()
    assert "AwsSolutions-S1" in str(failure.value)


def test_a_printed_bucket_policy_is_left_to_the_owner(platform: Platform, tmp_path: Path) -> None:
    _, template = synthesize(platform, "vendor", tmp_path / "cdk.out")

    assert not resources(template, "AWS::S3::BucketPolicy")
    assert (
        "make source-policy ENV=dev SOURCE=vendor" in template["Outputs"]["BucketPolicy"]["Value"]
    )
    assert "KeyPolicyStatement" not in template["Outputs"]  # the bucket has no key
    assert not resources(template, "AWS::Events::Rule")  # no job is started by it
    assert "make source-policy ENV=dev SOURCE=vendor" in template["Description"]


def test_a_source_no_job_uses_only_turns_notifications_on(
    platform: Platform, tmp_path: Path
) -> None:
    _, template = synthesize(platform, "idle", tmp_path / "cdk.out")

    kinds = sorted(r["Type"] for r in template["Resources"].values())
    assert kinds == [
        "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::Lambda::Function",
        "AWS::Logs::LogGroup", "Custom::S3BucketNotifications",
    ]  # fmt: skip
    assert template["Outputs"]["Forwarding"]["Value"] == (
        "nothing: no job of dev is started by idle yet"
    )


def test_an_unknown_source_names_the_declared_ones(platform: Platform) -> None:
    with pytest.raises(UnknownSource) as refused:
        source_side(platform, "partnr")
    assert str(refused.value) == (
        "source: environment 'dev' has no external bucket 'partnr'; accepted: idle, partner, vendor"
    )


def cli(project: Project, *args: str) -> list[str]:
    return [
        *args,
        "--jobs-dir", str(project.jobs_dir),
        "--environments-dir", str(project.environments_dir),
        "--root", str(project.root),
    ]  # fmt: skip


def test_source_policy_prints_the_documents_the_stack_deploys(
    project: Project, partner, capsys: pytest.CaptureFixture[str]
) -> None:
    _, template, _ = partner

    assert main(cli(project, "--env", "dev", "--source", "partner")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["bucket_policy"] == bucket_policy(template)
    assert printed["key_policy_statement"] == json.loads(
        template["Outputs"]["KeyPolicyStatement"]["Value"]
    )
    (rule,) = resources(template, "AWS::Events::Rule")
    assert printed["forwarding_rule"]["event_pattern"] == rule["Properties"]["EventPattern"]
    assert printed["forwarding_rule"]["target"] == {
        "arn": BUS,
        "role_arn": f"arn:aws:iam::{SOURCE}:role/gf-dev-partner-forward",
    }
    assert printed["forward_role"]["policy"]["Statement"] == [{
        "Sid": "GfDevPartnerPutEvents", "Effect": "Allow",
        "Action": ["events:PutEvents"], "Resource": [BUS],
    }]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "source", "says"),
    [
        ("dev", "nope", "error: source: environment 'dev' has no external bucket 'nope'; "
                        "accepted: idle, partner, vendor"),
        ("qa", "partner", "env: no environment 'qa'; accepted: dev"),
    ],
)  # fmt: skip
def test_a_bad_env_or_source_is_one_line_and_exit_2(
    project: Project, env: str, source: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli(project, "--env", env, "--source", source)) == 2
    err = capsys.readouterr().err
    assert says in err
    assert len(err.strip().splitlines()) == 1


def test_the_shipped_examples_grant_agency_spend_ingest_its_prefix() -> None:
    """dev's agency is managed and prod's printed; in both, agency_spend_ingest reads and is
    started by glueflow/spend/, and nothing else is granted or forwarded."""
    for env, mode in (("dev", "managed"), ("prod", "printed")):
        side = source_side(load_platform(env), "agency")
        assert side.source.bucket.bucket_policy == mode
        printed = documents(side)
        role = f"arn:aws:iam::{ {'dev': '111111111111', 'prod': '222222222222'}[env]}:role/" \
            f"glueflow-{env}-agency_spend_ingest"  # fmt: skip
        allows = [s for s in printed["bucket_policy"]["Statement"] if s["Effect"] == "Allow"]
        assert allows
        for statement in allows:
            assert statement["Condition"]["StringEquals"]["aws:PrincipalArn"] == [role]
        assert printed["key_policy_statement"]["Action"] == "kms:Decrypt"
        assert printed["forwarding_rule"]["event_pattern"]["detail"]["object"] == {
            "key": [{"prefix": "glueflow/spend/"}]
        }


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """`make ARGS` as a user runs it, with no AWS credentials. `-o .venv/.installed`: the venv
    these tests run in is the one make would install (a fresh worktree's files are newer than
    its stamp, and make would otherwise install it again)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
    return subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow  # runs make and the cdk CLI
def test_make_deploy_source_synth_only_and_make_source_policy(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out-source"
    synth = make("deploy-source", "ENV=dev", "SOURCE=agency", "SYNTH_ONLY=1", f"SOURCE_OUT={out}")

    assert synth.returncode == 0, synth.stdout[-2000:] + synth.stderr[-2000:]
    template = json.loads((out / "glueflow-dev-source-agency.template.json").read_text())
    (notifications,) = resources(template, "Custom::S3BucketNotifications")
    assert notifications["Properties"]["BucketName"] == "adsmetrics-exports-333333333333"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"]["glueflow-dev-source-agency"]["environment"] == (
        "aws://333333333333/eu-west-1"
    )
    assert cdk_app.validation_failures(out) == []
    assert "glueflow-dev-source-agency: synthesized, not deployed" in synth.stdout
    assert "cdk deploy" not in synth.stdout + synth.stderr

    printed = make("-s", "source-policy", "ENV=dev", "SOURCE=agency")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["bucket"] == "adsmetrics-exports-333333333333"

    refused = make("-s", "source-policy", "ENV=dev", "SOURCE=agencyy")
    assert refused.returncode == 2
    assert (
        "error: source: environment 'dev' has no external bucket 'agencyy'; accepted: agency"
        in refused.stderr
    )
    assert "Traceback" not in refused.stderr


@pytest.mark.slow  # runs app.py in a new process
def test_the_app_refuses_an_unknown_source_in_one_line(tmp_path: Path) -> None:
    result = run_app(cdk_app.project_context(env="dev", source="nope"), tmp_path / "out")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "source: environment 'dev' has no external bucket 'nope'; accepted: agency"
    )

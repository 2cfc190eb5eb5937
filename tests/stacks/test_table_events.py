"""Tables other deployments depend on (docs/architecture.md, decision 20), read from the
synthesized templates of a project that both depends on other deployments' tables and gives
one of its own to another account, and from the prod example.

What AWS documents, and each check follows:
- the bus policy statement: "Example policy: Send events to a custom bus in a different account
  in Amazon EventBridge" (Principal the account, `events:source` under ForAllValues and
  `events:detail-type` conditions) and "Using IAM policy conditions in Amazon EventBridge";
  `aws:PrincipalArn` narrows the account to its one forwarding role ("AWS global condition
  context keys", IAM User Guide);
- a cross-account event keeps the sender's `account`, and a rule sends to another account's
  bus as a role allowed events:PutEvents on it ("Sending and receiving events between AWS
  accounts in Amazon EventBridge", EventBridge User Guide), which the rules here match and use;
- MWAA's PutEvents: the default bus's ARN ("Amazon EventBridge event buses": the default bus is
  `event-bus/default`), the source as a condition key of PutEvents ("Actions, resources, and
  condition keys for Amazon EventBridge", Service Authorization Reference);
- the `events` interface endpoint: EventBridge's PrivateLink service name is
  `com.amazonaws.<region>.events` ("Using Amazon EventBridge with Interface VPC endpoints").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.iam_review import wildcard_problems
from tests.conftest import Project, valid_environment, valid_job
from tests.synth import Synthesized, synthesize_project

ACCOUNT = "123456789012"
PRODUCER = "555555555555"  # another account's deployment whose table starts a job here
CONSUMER = "666666666666"  # an account that depends on a table of this environment
SOURCE = {"ForAllValues:StringEquals": {"events:source": ["glueflow"]}}
# The producer's forwarding role, named from its prefix, environment and this account.
FORWARD_ROLE = f"arn:aws:iam::{PRODUCER}:role/glueflow-prod-tables-{ACCOUNT}"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = tmp_path_factory.mktemp("project")
    project = Project(root)
    project.write_env("dev", {
        **valid_environment(),
        "external_tables": {
            "partner_fx": {"account": PRODUCER, "region": "eu-west-1", "environment": "prod",
                           "table": "fx_rates"},
            # Another environment of this very account: its events are on this bus already.
            "qa_sales": {"account": ACCOUNT, "region": "eu-west-1", "environment": "qa",
                         "name_prefix": "gf", "table": "sales"},
            "unused": {"account": PRODUCER, "region": "eu-west-1", "environment": "prod",
                       "table": "holidays"},
        },
        "table_consumers": [{"account": CONSUMER, "tables": ["convert_out"]}],
    })  # fmt: skip
    project.write_job("convert", valid_job("convert", trigger={"table": "partner_fx"}))
    project.write_job("follow", valid_job("follow_qa", trigger={"table": "qa_sales"}))
    project.write_job("ingest", valid_job("ingest"))
    return synthesize_project(project, "dev", root / "cdk.out")


def resources(synthesized: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {
        f"{stack}/{lid}": res
        for stack, template in synthesized.templates.items()
        for lid, res in template.get("Resources", {}).items()
        if res["Type"] == kind
    }


def glueflow_rules(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        lid: res["Properties"]
        for lid, res in resources(synthesized, "AWS::Events::Rule").items()
        if res["Properties"].get("EventPattern", {}).get("source") == ["glueflow"]
    }


def test_the_default_bus_accepts_only_the_producers_forwarding_role_and_its_table_events(
    synthesized: Synthesized,
) -> None:
    """One statement, for the producer in another account; none for the one in this account
    (its events are on this bus), none for a table no job is started by."""
    policies = [
        p["Properties"] for p in resources(synthesized, "AWS::Events::EventBusPolicy").values()
    ]

    assert policies == [{
        "EventBusName": "default",
        "StatementId": f"gf-dev-tables-{PRODUCER}-glueflow-prod",
        "Statement": {
            "Sid": f"gf-dev-tables-{PRODUCER}-glueflow-prod",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PRODUCER}:root"},
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default",
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalArn": FORWARD_ROLE,
                    "events:detail-type": "Table Published",
                },
                **SOURCE,
            },
        },
    }]  # fmt: skip


def test_each_table_that_starts_jobs_has_a_rule_to_the_intake_as_s3_rules_do(
    synthesized: Synthesized,
) -> None:
    rules = glueflow_rules(synthesized)
    patterns = sorted(
        (r["EventPattern"] for r in rules.values() if "Name" not in r),
        key=lambda p: p["account"],
    )

    assert patterns == [
        {"source": ["glueflow"], "detail-type": ["Table Published"], "account": [ACCOUNT],
         "detail": {"environment": ["qa"], "name_prefix": ["gf"], "table": ["sales"]}},
        {"source": ["glueflow"], "detail-type": ["Table Published"], "account": [PRODUCER],
         "detail": {"environment": ["prod"], "name_prefix": ["glueflow"],
                    "table": ["fx_rates"]}},
    ]  # fmt: skip
    s3_rule = next(
        r for r in resources(synthesized, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    )["Properties"]  # fmt: skip
    for rule in (r for r in rules.values() if "Name" not in r):
        (target,) = rule["Targets"]
        (s3_target,) = s3_rule["Targets"]
        # The same intake queue, retries and dead-letter queue as the bucket rules'.
        assert {k: target[k] for k in ("Arn", "RetryPolicy", "DeadLetterConfig")} == {
            k: s3_target[k] for k in ("Arn", "RetryPolicy", "DeadLetterConfig")
        }


def test_a_consumer_gets_only_its_tables_through_a_named_rule_and_role(
    synthesized: Synthesized,
) -> None:
    (forward,) = [r for r in glueflow_rules(synthesized).values() if "Name" in r]
    consumer_bus = f"arn:aws:events:eu-west-1:{CONSUMER}:event-bus/default"

    assert forward["Name"] == f"gf-dev-tables-{CONSUMER}"
    assert forward["EventPattern"] == {
        "source": ["glueflow"], "detail-type": ["Table Published"], "account": [ACCOUNT],
        "detail": {"environment": ["dev"], "name_prefix": ["gf"], "table": ["convert_out"]},
    }  # fmt: skip
    (target,) = forward["Targets"]
    assert target["Arn"] == consumer_bus
    assert "DeadLetterConfig" in target
    roles = {
        lid: res for lid, res in resources(synthesized, "AWS::IAM::Role").items()
        if res["Properties"].get("RoleName") == f"gf-dev-tables-{CONSUMER}"
    }  # fmt: skip
    (role_id,) = roles
    assert target["RoleArn"]["Fn::GetAtt"][0] == role_id.split("/")[1]
    trust = roles[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]
    # for this rule only: "Cross-service confused deputy prevention in Amazon EventBridge"
    rule_arn = f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{forward['Name']}"
    assert [s["Condition"] for s in trust] == [{
        "StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": rule_arn},
    }]  # fmt: skip
    # The role's only permission: PutEvents on the consumer's default bus.
    statements = [
        s
        for policy in [
            *resources(synthesized, "AWS::IAM::ManagedPolicy").values(),
            *resources(synthesized, "AWS::IAM::Policy").values(),
        ]
        if role_id.split("/")[1] in json.dumps(policy["Properties"].get("Roles", []))
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": consumer_bus}
    ]


def test_what_a_consumer_bus_refuses_is_kept_in_an_sse_queue_that_an_alarm_watches(
    synthesized: Synthesized,
) -> None:
    (forward,) = [r for r in glueflow_rules(synthesized).values() if "Name" in r]
    queue_id = forward["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queues = {lid.split("/")[1]: r for lid, r in resources(synthesized, "AWS::SQS::Queue").items()}

    assert queues[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    alarms = resources(synthesized, "AWS::CloudWatch::Alarm").values()
    assert any(queue_id in json.dumps(a["Properties"].get("Dimensions", [])) for a in alarms)


def test_mwaa_may_put_only_glueflow_events_on_its_own_default_bus(
    synthesized: Synthesized,
) -> None:
    """Every PutEvents statement of the environment: MWAA's (the publish task's events) and the
    forwarding role's, each on one bus."""
    orchestration = synthesized.stage.orchestration
    mwaa = orchestration.get_logical_id(orchestration.mwaa.policy.node.default_child)
    found = {
        (lid.split("/")[1] == mwaa, json.dumps(s, sort_keys=True))
        for lid, policy in resources(synthesized, "AWS::IAM::ManagedPolicy").items()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "events:" in json.dumps(s["Action"])
    }

    assert sorted(found) == sorted({
        (True, json.dumps({
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default",
            "Condition": SOURCE,
        }, sort_keys=True)),
        (False, json.dumps({
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:eu-west-1:{CONSUMER}:event-bus/default",
        }, sort_keys=True)),
    })  # fmt: skip


def test_the_events_endpoint_lets_mwaa_reach_eventbridge_from_its_isolated_subnets(
    synthesized: Synthesized,
) -> None:
    services = [
        json.dumps(r["Properties"]["ServiceName"])
        for r in resources(synthesized, "AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType") == "Interface"
    ]

    assert sum(s.endswith('.events"') for s in services) == 1, services


def test_the_prod_example_gives_treasury_sales_daily_and_takes_its_fx_rates(
    prod: Synthesized,
) -> None:
    """prod's table_consumers and external_tables.treasury_fx (configs/environments)."""
    rules = glueflow_rules(prod)
    (forward,) = [r for r in rules.values() if "Name" in r]
    assert forward["Name"] == "glueflow-prod-tables-555555555555"
    assert forward["EventPattern"]["detail"]["table"] == ["sales_daily"]
    assert forward["Targets"][0]["Arn"] == (
        "arn:aws:events:eu-west-1:555555555555:event-bus/default"
    )
    # The other statement takes the agency's S3 events (test_external_sources.py).
    (policy,) = [
        p for p in resources(prod, "AWS::Events::EventBusPolicy").values()
        if p["Properties"]["Statement"]["Condition"]["StringEquals"]["events:detail-type"]
        == "Table Published"
    ]  # fmt: skip
    condition = policy["Properties"]["Statement"]["Condition"]["StringEquals"]
    assert condition["aws:PrincipalArn"] == (
        "arn:aws:iam::555555555555:role/glueflow-prod-tables-222222222222"
    )


def test_cdk_nag_and_the_wildcard_allowlist_pass(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
    assert wildcard_problems(synthesized.templates) == []

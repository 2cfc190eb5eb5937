"""The notifier Lambda: outside the VPC, subscribed to the alert topic, reading only its own
webhook secrets, with dead-letter queues for what it cannot deliver."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.stacks.test_iam import reachable
from tests.stacks.test_monitoring import logical, resolve
from tests.synth import Synthesized

ACCOUNT = {"dev": "111111111111", "prod": "222222222222"}


def notifier_function(synth: Synthesized) -> dict:
    (function,) = [
        f
        for f in synth.template(synth.stage.monitoring)
        .find_resources("AWS::Lambda::Function")
        .values()
        if f["Properties"]["Handler"] == "handler.handler"
    ]
    return function["Properties"]


def test_the_notifier_runs_outside_the_vpc_on_the_newest_runtime(dev: Synthesized) -> None:
    props = notifier_function(dev)
    assert "VpcConfig" not in props
    assert props["Runtime"] == "python3.14"
    assert props["TracingConfig"] == {"Mode": "Active"}
    notifier = dev.stage.monitoring.notifier
    dead_letters = logical(dev.stage.monitoring, notifier.dead_letter_queue)
    assert resolve(
        dev, dev.stage.monitoring.stack_name, props["DeadLetterConfig"]["TargetArn"]
    ) == (f"{dead_letters}.Arn")
    # Long enough for every channel's retries: 4 attempts of 10 s and 7 s of backoff each.
    assert props["Timeout"] >= 47


def test_each_environment_posts_to_the_channels_it_lists(
    dev: Synthesized, prod: Synthesized
) -> None:
    channels = {
        name: json.loads(notifier_function(synth)["Environment"]["Variables"]["ALERT_CHANNELS"])
        for name, synth in (("dev", dev), ("prod", prod))
    }
    assert channels == {
        "dev": [{"secret_name": "glueflow/dev/slack-webhook", "type": "slack"}],
        "prod": [
            {"secret_name": "glueflow/prod/slack-webhook", "type": "slack"},
            {"secret_name": "glueflow/prod/teams-webhook", "type": "teams"},
        ],
    }


def test_the_notifier_is_subscribed_to_the_alert_topic_with_a_dead_letter_queue(
    dev: Synthesized,
) -> None:
    monitoring, storage = dev.stage.monitoring, dev.stage.storage
    (subscription,) = dev.template(monitoring).find_resources("AWS::SNS::Subscription").values()
    props = subscription["Properties"]
    assert props["Protocol"] == "lambda"
    assert resolve(dev, monitoring.stack_name, props["TopicArn"]) == logical(
        storage, storage.alert_topic
    )
    queue = logical(monitoring, monitoring.notifier.subscription_dead_letters)
    target = props["RedrivePolicy"]["deadLetterTargetArn"]
    assert resolve(dev, monitoring.stack_name, target) == f"{queue}.Arn"


def test_the_notifier_reads_only_its_own_webhook_secrets(prod: Synthesized) -> None:
    monitoring = prod.stage.monitoring
    policy = monitoring.notifier.node.find_child("Access").policy
    logical_id = monitoring.get_logical_id(policy.node.default_child)
    template = prod.template(monitoring).to_json()
    statements = template["Resources"][logical_id]["Properties"]["PolicyDocument"]["Statement"]
    secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT['prod']}:secret:"
    for name in ("glueflow/prod/slack-webhook-AbC123", "glueflow/prod/teams-webhook-xYz789"):
        assert reachable(statements, "secretsmanager:GetSecretValue", secret + name)
    for name in (
        "glueflow/prod/slack-webhook-extra-AbC123",  # a longer name is another secret
        "glueflow/dev/slack-webhook-AbC123",
        "airflow/connections/aws_default-AbC123",
    ):
        assert not reachable(statements, "secretsmanager:GetSecretValue", secret + name)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                 else s["Action"])}  # fmt: skip
    assert not any(a.startswith(("secretsmanager:Put", "secretsmanager:List")) for a in actions)


def test_the_notifiers_own_alarms_can_go_by_email_when_it_is_what_fails(
    dev: Synthesized, prod: Synthesized
) -> None:
    assert dev.stage.monitoring.fallback_topic is None  # dev lists no fallback emails
    template = prod.template(prod.stage.monitoring)
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": "glueflow-prod-alerts-fallback", "KmsMasterKeyId": Match.any_value()},
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "data-platform-oncall@example.com"},
    )
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    (publish,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "EnvironmentAlarmsPublish"
    ]
    assert publish["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:glueflow-prod-*"
    }

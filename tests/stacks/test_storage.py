"""Keys and buckets: rotation, encryption, no public access, TLS only, logging, removal policy."""

from __future__ import annotations

import fnmatch

from aws_cdk import Stack
from aws_cdk.assertions import Match

from tests.synth import Synthesized

ACCESS_LOGS = "glueflow-dev-access-logs-111111111111"


def buckets(synth: Synthesized) -> dict[str, dict]:
    """Every bucket of an environment, by physical name (the whole resource)."""
    found = {}
    for template in synth.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::S3::Bucket":
                found[resource["Properties"]["BucketName"]] = resource
    return found


def test_every_declared_and_platform_bucket_exists(dev: Synthesized) -> None:
    assert sorted(buckets(dev)) == [
        "glueflow-dev-access-logs-111111111111",
        "glueflow-dev-artifacts-111111111111",
        "glueflow-dev-curated-111111111111",
        "glueflow-dev-mwaa-111111111111",
        "glueflow-dev-raw-111111111111",
    ]


def test_every_bucket_is_encrypted_private_versioned_and_logged(dev: Synthesized) -> None:
    for name, bucket in buckets(dev).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        algorithm = sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if name == ACCESS_LOGS:
            # S3 delivers server access logs only to SSE-S3 buckets.
            assert algorithm == "AES256"
            assert "LoggingConfiguration" not in props
        else:
            assert algorithm == "aws:kms", name
            assert "KMSMasterKeyID" in sse["ServerSideEncryptionByDefault"], name
            assert sse["BucketKeyEnabled"] is True
            assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{name}/"


def test_every_bucket_denies_requests_without_tls(dev: Synthesized) -> None:
    storage = dev.template(dev.stage.storage)
    policies = storage.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == len(buckets(dev))
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert deny, policy
        old_tls = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("NumericLessThan", {}).get("s3:TlsVersion") == 1.2
        ]
        assert old_tls, policy


def test_keys_rotate_and_logs_may_use_the_platform_key(dev: Synthesized) -> None:
    storage = dev.template(dev.stage.storage)
    keys = storage.find_resources("AWS::KMS::Key")
    assert len(keys) == 2
    for key in keys.values():
        assert key["Properties"]["EnableKeyRotation"] is True
    storage.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
                                "Condition": {
                                    "ArnLike": {
                                        "kms:EncryptionContext:aws:logs:arn": (
                                            "arn:aws:logs:eu-west-1:111111111111:*"
                                        )
                                    }
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_removal_policy_follows_the_environment(dev: Synthesized, prod: Synthesized) -> None:
    for synth, policy in ((dev, "Delete"), (prod, "Retain")):
        for template in synth.templates.values():
            for resource in template["Resources"].values():
                if resource["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
                    assert resource["DeletionPolicy"] == policy, resource


def test_glue_scripts_are_deployed_to_the_artifacts_bucket_with_pruning(dev: Synthesized) -> None:
    storage = dev.template(dev.stage.storage)
    storage.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {
            "DestinationBucketName": Match.any_value(),
            "DestinationBucketKeyPrefix": "glue_scripts/",
            "Prune": True,
        },
    )


def test_glue_runs_ending_badly_reach_the_alert_topic(dev: Synthesized) -> None:
    storage = dev.template(dev.stage.storage)
    storage.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.glue"],
                "detail-type": ["Glue Job State Change"],
                "detail": {
                    "jobName": [{"prefix": "glueflow-dev-"}],
                    "state": ["FAILED", "TIMEOUT", "STOPPED"],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": "arn:aws:sns:eu-west-1:111111111111:glueflow-dev-alerts",
                        "RetryPolicy": Match.any_value(),
                        "DeadLetterConfig": Match.any_value(),
                    }
                )
            ],
        },
    )
    # EventBridge and CloudWatch may use the platform key to publish to the encrypted topic.
    storage.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ServicesPublishToEncryptedTopics",
                                "Principal": {
                                    "Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_every_alarm_of_the_environment_may_publish_to_the_alert_topic(dev: Synthesized) -> None:
    """A topic policy replaces SNS's default one: without this statement CloudWatch could not
    publish, and no alarm would reach anyone."""
    (policy,) = dev.template(dev.stage.storage).find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (alarms_publish,) = [s for s in statements if s.get("Sid") == "EnvironmentAlarmsPublish"]
    assert alarms_publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms_publish["Action"] == "sns:Publish"
    assert alarms_publish["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    allowed = alarms_publish["Condition"]["ArnLike"]["aws:SourceArn"]
    assert allowed == "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:glueflow-dev-*"
    # Each alarm's name: its own, or the one CloudFormation makes, `<stack>-<logical id>-<id>`.
    names = [
        alarm["Properties"].get("AlarmName", f"{stack.stack_name}-{logical_id}-ABC123")
        for stack in dev.stage.node.children
        if isinstance(stack, Stack)
        for logical_id, alarm in dev.template(stack)
        .find_resources("AWS::CloudWatch::Alarm")
        .items()
    ]
    assert len(names) >= 10
    for name in names:
        assert fnmatch.fnmatchcase(
            f"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:{name}", allowed
        )

"""Event-driven runs: one rule per source bucket, the trigger Lambda, its queues and alarms."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from stacks.trigger_stack import MAX_KEY_FILTER_CHARS, key_filter
from tests.stacks.test_iam import reachable
from tests.synth import Synthesized


def resources(synth: Synthesized, kind: str) -> list[dict]:
    template = synth.template(synth.stage.triggers).to_json()
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_eventbridge_is_on_for_source_buckets_only(dev: Synthesized) -> None:
    storage = dev.template(dev.stage.storage).to_json()
    enabled = sorted(
        r["Properties"]["BucketName"]
        for r in storage["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket"
        and r["Properties"]
        .get("NotificationConfiguration", {})
        .get("EventBridgeConfiguration", {})
        .get("EventBridgeEnabled")
    )
    assert enabled == ["glueflow-dev-raw-111111111111"]
    assert not resources(dev, "Custom::S3BucketNotifications")  # native, no custom resource


def test_one_rule_per_source_bucket_narrowed_to_its_prefixes(dev: Synthesized) -> None:
    """The agency's bucket is another account's: its events reach this bus forwarded by its
    own account's rule, keeping that account in the event ("Sending and receiving events
    between AWS accounts in Amazon EventBridge", EventBridge User Guide); its rule matches it."""
    rules = {
        r["Properties"]["EventPattern"]["detail"]["bucket"]["name"][0]: r
        for r in resources(dev, "AWS::Events::Rule")
        # The other rules take other deployments' Table Published events (test_table_events.py).
        if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]
    }
    assert sorted(rules) == ["adsmetrics-exports-333333333333", "glueflow-dev-raw-111111111111"]
    assert rules["adsmetrics-exports-333333333333"]["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "account": ["333333333333"],
        "detail": {
            "bucket": {"name": ["adsmetrics-exports-333333333333"]},
            "object": {"key": [{"prefix": "glueflow/spend/"}]},
        },
    }
    rule = rules["glueflow-dev-raw-111111111111"]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["glueflow-dev-raw-111111111111"]},
            "object": {"key": [{"prefix": "marketing/events/"}, {"prefix": "sales/incoming/"}]},
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [intake_id(dev), "Arn"]}  # the intake queue
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert "DeadLetterConfig" in target


def intake_id(synth: Synthesized) -> str:
    template = synth.template(synth.stage.triggers).to_json()
    (logical_id,) = [
        name for name, r in template["Resources"].items()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    ]  # fmt: skip
    return logical_id


def test_the_intake_queue_feeds_the_lambda_with_partial_batch_failures(dev: Synthesized) -> None:
    """ "Using Lambda with Amazon SQS", AWS Lambda Developer Guide: ReportBatchItemFailures is
    the only function response type; ScalingConfig.MaximumConcurrency is 2 to 1,000; the
    queue's visibility timeout at least six times the function's timeout. Amazon SQS
    Developer Guide: retention up to 14 days (1,209,600 s); maxReceiveCount moves a message
    to the dead-letter queue."""
    template = dev.template(dev.stage.triggers).to_json()["Resources"]
    intake = template[intake_id(dev)]["Properties"]
    assert intake["VisibilityTimeout"] == 6 * 60
    assert intake["MessageRetentionPeriod"] == 1_209_600
    assert "KmsMasterKeyId" in intake
    redrive = intake["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 1000
    (mapping,) = resources(dev, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [intake_id(dev), "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    assert props["ScalingConfig"] == {"MaximumConcurrency": 5}  # 10 TPS, about 0.5 s per call
    (function,) = [
        r["Properties"] for r in resources(dev, "AWS::Lambda::Function")
        if r["Properties"].get("Handler") == "handler.handler"
    ]  # fmt: skip
    variables = function["Environment"]["Variables"]
    assert variables["INTAKE_RETRY_SECONDS"] == str(24 * 3600)
    assert variables["INTAKE_QUEUE_URL"] == {"Ref": intake_id(dev)}
    policies = resources(dev, "AWS::IAM::ManagedPolicy")
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    intake_arn = {"Fn::GetAtt": [intake_id(dev), "Arn"]}
    consume = [s for s in statements if s["Resource"] == intake_arn]
    assert sorted(consume[0]["Action"]) == [
        "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]  # fmt: skip


def test_lambda_in_vpc_newest_runtime_sized_to_the_throttle(dev: Synthesized) -> None:
    (function,) = [
        r["Properties"]
        for r in resources(dev, "AWS::Lambda::Function")
        if r["Properties"].get("Handler") == "handler.handler"
    ]
    assert function["Runtime"] == "python3.14"
    assert function["ReservedConcurrentExecutions"] == 5  # the event source mapping's maximum
    assert function["Timeout"] == 60
    assert len(function["VpcConfig"]["SubnetIds"]) == 2
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Environment"]["Variables"]["MWAA_ENVIRONMENT_NAME"] == "glueflow-dev"
    assert "TargetArn" in function["DeadLetterConfig"]  # any asynchronous invocation


def test_queues_are_encrypted_and_alarms_notify_the_alert_topic(dev: Synthesized) -> None:
    queues = resources(dev, "AWS::SQS::Queue")
    assert len(queues) == 3  # the intake, its dead letters, the rules' dead letters
    assert sorted("KmsMasterKeyId" in q["Properties"] for q in queues) == [False, True, True]
    assert all(
        q["Properties"].get("SqsManagedSseEnabled") or "KmsMasterKeyId" in q["Properties"]
        for q in queues
    )
    alarms = resources(dev, "AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"].get("MetricName", "(expression)") for a in alarms)
    assert metrics == ["(expression)", *["ApproximateNumberOfMessagesVisible"] * 2, "Errors"]
    (oldest,) = [a["Properties"] for a in alarms if "Metrics" in a["Properties"]]
    assert oldest["Threshold"] == 15 * 60
    (expression,) = [m for m in oldest["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "MAX([queue, handler])"
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in oldest["Metrics"] if "MetricStat" in m}
    # SQS leaves a message received 3 times or more out of ApproximateAgeOfOldestMessage
    # ("Available CloudWatch metrics for Amazon SQS"): the handler's own WaitingSeconds too.
    assert stats["queue"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert stats["queue"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [intake_id(dev), "QueueName"]}}
    ]
    assert stats["handler"] == {
        "Namespace": "Glueflow/Trigger", "MetricName": "WaitingSeconds",
        "Dimensions": [{"Name": "Environment", "Value": "dev"}],
    }  # fmt: skip
    for alarm in alarms:
        assert len(alarm["Properties"]["AlarmActions"]) == 1
    dev.template(dev.stage.storage).has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": "glueflow-dev-alerts", "KmsMasterKeyId": Match.any_value()},
    )


def test_lambda_may_invoke_only_this_environments_user_role(dev: Synthesized) -> None:
    policies = resources(dev, "AWS::IAM::ManagedPolicy")
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    user = "arn:aws:airflow:eu-west-1:111111111111:role/glueflow-dev/User"
    assert reachable(statements, "airflow:InvokeRestApi", user)
    for other in ("role/glueflow-dev/Admin", "role/glueflow-prod/User", "role/glueflow-dev/Op"):
        assert not reachable(
            statements, "airflow:InvokeRestApi", f"arn:aws:airflow:eu-west-1:111111111111:{other}"
        )


def test_the_lambda_bundle_carries_its_modules_and_the_manifest(dev: Synthesized) -> None:
    bundle = dev.outdir / "glueflow" / "dev" / "trigger_lambda"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "handler.py",
        "manifest.json",
        "routing.py",
        "transport.py",
    ]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["jobs"]["sales_ingest"]["trigger"]["type"] == "s3"


def test_key_filter_covers_nests_and_falls_back() -> None:
    assert key_filter(["a/b/", "a/", "c/"]) == [{"prefix": "a/"}, {"prefix": "c/"}]
    assert key_filter(["a/", ""]) is None  # a suffix-only job listens to every key
    many = [f"team{i % 7}/job{i:04d}/incoming/" for i in range(400)]
    cut = key_filter(many)
    assert cut == [{"prefix": f"team{i}/"} for i in range(7)]
    assert len(json.dumps(cut)) <= MAX_KEY_FILTER_CHARS
    assert key_filter([f"t{i:05d}/" for i in range(2000)]) is None


def test_a_crashing_message_reaches_the_dead_letter_queue_within_a_week() -> None:
    """A message the function crashes on comes back after the queue's visibility timeout (6 x
    the function's); maxReceiveCount is what fits in 7 days, at most 1,000."""
    from aws_cdk import Duration

    from cdk_constructs.orchestration.dag_trigger import max_receives

    assert max_receives(Duration.seconds(60)) == 1000  # 1,000 x 6 min: 4.2 days
    assert max_receives(Duration.seconds(180)) == 560  # 560 x 18 min: 7 days
    for seconds in range(10, 181):
        assert max_receives(Duration.seconds(seconds)) * seconds * 6 <= 7 * 86_400


def test_an_archive_keeps_the_source_buckets_object_created_events(dev: Synthesized) -> None:
    """S3 sends its events to the default bus, and a replay returns to the archive's own bus
    ("Archiving and replaying events", Amazon EventBridge User Guide): the archive is on the
    default bus, kept `trigger.archive_days` (30), and the outputs name what `make replay`
    needs."""
    (archive,) = resources(dev, "AWS::Events::Archive")
    props = archive["Properties"]
    assert props["SourceArn"] == "arn:aws:events:eu-west-1:111111111111:event-bus/default"
    assert props["RetentionDays"] == 30
    assert props["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["adsmetrics-exports-333333333333", "glueflow-dev-raw-111111111111"]}
        },
    }
    outputs = dev.template(dev.stage.triggers).to_json()["Outputs"]
    assert {"ArchiveArn", "EventBusArn", "ObjectCreatedGlueflowDevRaw111111111111Arn"} <= set(
        outputs
    )

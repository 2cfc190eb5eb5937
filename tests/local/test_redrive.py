"""`make redrive`: the trigger's dead letters back through its intake, on the local cloud
(moto's server with the queues the synthesized templates declare: the intake with its
redrive policy, the trigger's dead-letter queue, the rules' dead-letter queue), found through
the triggers stack's outputs as DescribeStacks returns them ("DescribeStacks", AWS
CloudFormation API Reference: `Stacks[].Outputs[]` of `OutputKey` and `OutputValue`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from glueflow_local.cloud import LocalCloud
from glueflow_ops.redrive import INTAKE_OUTPUT, SOURCE_OUTPUTS, queue_urls, redrive, report
from tests.conftest import REPO_ROOT
from tests.lambda_trigger.test_routing import event
from tests.local.conftest import local_cloud
from tests.synth import Synthesized

# Slow, as all of tests/local (tests/test_markers.py): moto's server with the environment's
# resources, and make.
pytestmark = pytest.mark.slow

STACK = "glueflow-dev-triggers"


@pytest.fixture(scope="module")
def cloud(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The queues alone: no poller reads the intake."""
    with local_cloud(dev, tmp_path_factory.mktemp("redrive"), event_sources=False) as local:
        yield local


def waiting(sqs, url: str) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )


def test_every_dead_letter_goes_back_to_the_intake_and_is_reported(cloud: LocalCloud) -> None:
    sqs = cloud.client("sqs")
    intake = cloud.output(STACK, INTAKE_OUTPUT)
    sources = {label: cloud.output(STACK, key) for label, key in SOURCE_OUTPUTS.items()}
    landed = json.dumps(event("sales/incoming/a.csv"))
    reason = {"reason": {"DataType": "String", "StringValue": "Airflow did not accept the run"}}
    sqs.send_message(QueueUrl=sources["trigger dead letters"], MessageBody=landed,
                     MessageAttributes=reason)  # fmt: skip
    sqs.send_message(QueueUrl=sources["trigger dead letters"], MessageBody="{not json")
    sqs.send_message(QueueUrl=sources["rule dead letters"],
                     MessageBody=json.dumps(event("sales/incoming/b.csv")))  # fmt: skip

    moved = redrive(sqs, intake, sources)
    lines = report(moved, sources)

    assert lines[:2] == [
        "trigger dead letters: 2 dead letter(s), 2 sent back to the intake",
        "rule dead letters: 1 dead letter(s), 1 sent back to the intake",
    ]
    assert "trigger dead letters: s3://raw/sales/incoming/a.csv (dead-lettered: Airflow did " \
        "not accept the run) -> sent back to the intake" in lines  # fmt: skip
    assert any(line.startswith("trigger dead letters: a body that is not JSON") for line in lines)
    assert any("s3://raw/sales/incoming/b.csv (dead-lettered: no reason recorded" in line
               for line in lines)  # fmt: skip
    assert sorted(m["Body"] for m in waiting(sqs, intake)) == sorted(
        [landed, "{not json", json.dumps(event("sales/incoming/b.csv"))]
    )
    for url in sources.values():
        assert waiting(sqs, url) == []


def test_nothing_to_redrive_says_so(cloud: LocalCloud) -> None:
    sqs = cloud.client("sqs")
    sources = {label: cloud.output(STACK, key) for label, key in SOURCE_OUTPUTS.items()}
    moved = redrive(sqs, cloud.output(STACK, INTAKE_OUTPUT), sources)
    assert report(moved, sources) == [
        "trigger dead letters: 0 dead letter(s), 0 sent back to the intake",
        "rule dead letters: 0 dead letter(s), 0 sent back to the intake",
    ]


def test_the_queues_are_found_through_the_stack_outputs(dev: Synthesized) -> None:
    """The template declares the three outputs; DescribeStacks' answer gives their URLs."""
    outputs = dev.template(dev.stage.triggers).to_json()["Outputs"]
    assert {INTAKE_OUTPUT, *SOURCE_OUTPUTS.values()} <= set(outputs)
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
    with Stubber(cloudformation) as stubber:
        stubber.add_response(
            "describe_stacks",
            {"Stacks": [{
                "StackName": STACK, "CreationTime": "2026-12-05T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": f"https://sqs/{k}"}
                            for k in (INTAKE_OUTPUT, *SOURCE_OUTPUTS.values())],
            }]},
            {"StackName": STACK},
        )  # fmt: skip
        urls = queue_urls(cloudformation, STACK)
    assert urls[INTAKE_OUTPUT] == f"https://sqs/{INTAKE_OUTPUT}"


def test_make_redrive_finds_the_stack_and_reports(cloud: LocalCloud) -> None:
    """`make redrive ENV=dev` as the README gives it, against moto: a triggers stack whose
    outputs name its queues (a minimal template: moto's CloudFormation resolves a queue's Ref
    to its URL, as CloudFormation does), one dead letter in it."""
    queues = {"Intake": INTAKE_OUTPUT, **{k.title().replace(" ", ""): v
                                          for k, v in SOURCE_OUTPUTS.items()}}  # fmt: skip
    template = {
        "Resources": {name: {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"cli-{name}"}}
                      for name in queues},
        "Outputs": {output: {"Value": {"Ref": name}} for name, output in queues.items()},
    }  # fmt: skip
    cloud.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    sqs = cloud.client("sqs")
    dead = sqs.get_queue_url(QueueName="cli-TriggerDeadLetters")["QueueUrl"]
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(event("sales/incoming/c.csv")))

    done = subprocess.run(
        [shutil.which("make") or "make", "--no-print-directory", "redrive", "ENV=dev"],
        cwd=REPO_ROOT,
        env={**os.environ, **cloud.aws_env()}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert "trigger dead letters: 1 dead letter(s), 1 sent back to the intake" in done.stdout
    assert "s3://raw/sales/incoming/c.csv" in done.stdout
    intake = sqs.get_queue_url(QueueName="cli-Intake")["QueueUrl"]
    assert len(waiting(sqs, intake)) == 1

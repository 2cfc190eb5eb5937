"""The failure callback's parts: the log tail (against moto's CloudWatch Logs), the message,
secret masking."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from glueflow_runtime.callbacks import LOG_TAIL_LINES, log_tail, mask

GROUP = "/aws-glue/jobs/glueflow-dev-jobs-002-role/glueflow-dev-sales_ingest/error"


@pytest.fixture
def logs():
    with mock_aws():
        client = boto3.client("logs", region_name="eu-west-1")
        client.create_log_group(logGroupName=GROUP)
        yield client


def write(logs, stream: str, count: int) -> None:
    now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(count)],
    )


def test_exactly_the_last_20_lines_when_more_exist(logs) -> None:
    write(logs, "jr_1", 25)
    lines, note = log_tail(logs, GROUP, "jr_1")
    assert [m for _, m in lines] == [f"line {i}" for i in range(5, 25)]
    assert len(lines) == LOG_TAIL_LINES
    assert note == ""


def test_fewer_lines_when_fewer_exist(logs) -> None:
    write(logs, "jr_2", 7)
    lines, _ = log_tail(logs, GROUP, "jr_2")
    assert [m for _, m in lines] == [f"line {i}" for i in range(7)]


def test_a_missing_stream_is_a_note_not_an_error(logs) -> None:
    lines, note = log_tail(logs, GROUP, "jr_none")
    assert lines == []
    assert note == f"no log stream 'jr_none' in {GROUP}"


def test_a_throttled_call_is_a_note_not_an_error() -> None:
    client = boto3.client("logs", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_log_events", "ThrottlingException", "Rate exceeded", 400)
        lines, note = log_tail(client, GROUP, "jr_1")
    assert lines == []
    assert note == "log tail unavailable (ThrottlingException)"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("key AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP"),
        ("password=hunter2 rest", "hunter2"),
        ('{"api_key": "sk-live-123"}', "sk-live-123"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "eyJhbGciOiJIUzI1NiJ9"),
        ("postgres://etl:s3cr3t@db:5432/x", "s3cr3t"),
        ("posting to https://hooks.slack.com/services/T0/B0/XYZ", "T0/B0/XYZ"),
        (
            "https://prod-11.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sig=S1GS1G",
            "S1GS1G",
        ),
        (
            "https://default1a2b.3c.environment.api.powerplatform.com:443/powerautomate/"
            "automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=S2GS2G",
            "S2GS2G",
        ),
        ("retrying https://example.org/hook?a=1&sig=S3GS3G later", "S3GS3G"),
    ],
)
def test_secrets_are_masked(text: str, hidden: str) -> None:
    masked = mask(text)
    assert hidden not in masked
    assert "masked" in masked

"""Dead letters stay readable and within what SQS accepts.

SQS's MaximumMessageSize defaults to 262,144 bytes, counting the body and the message
attributes in bytes ("Amazon SQS message quotas" and `SendMessage`, Amazon SQS API Reference:
"The minimum size is one character. The maximum size is 256 KiB"). The trigger's dead-letter
queue keeps that default. A dead letter must be valid JSON, so that it can be read and
replayed, whatever the size or the characters of the event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_routing import event
from tests.moto_server import MotoServer

handler = trigger_module("handler")

SQS_DEFAULT_MAX_BYTES = 262_144


def oversized(char: str, count: int) -> dict:
    """An S3 event made huge by one field (a long, multi-byte 'reason' from a bad producer)."""
    payload = event("sales/incoming/a b.csv")
    payload["detail"]["request-id"] = char * count
    return payload


@pytest.mark.parametrize(
    ("char", "count"),
    [("x", 300_000), ("é", 200_000), ("€", 100_000), ("😀", 70_000)],
)
def test_an_oversized_event_is_kept_as_valid_json_within_the_byte_limit(
    char: str, count: int
) -> None:
    body = handler.dead_letter_body(oversized(char, count))

    assert len(body.encode()) <= SQS_DEFAULT_MAX_BYTES - 1_024
    kept = json.loads(body)
    # What a replay needs survives: the event's shape, bucket, key and sequencer.
    assert kept["detail"]["object"] == event("sales/incoming/a b.csv")["detail"]["object"]
    assert kept["source"] == "aws.s3"
    assert kept["glueflow-truncated"]["original_bytes"] > SQS_DEFAULT_MAX_BYTES
    (obj,) = handler.parse_event(kept)
    assert obj.key == "sales/incoming/a b.csv"


def test_an_event_that_fits_is_kept_whole_and_replays_as_it_was() -> None:
    original = event("sales/incoming/a.csv")
    assert json.loads(handler.dead_letter_body(original)) == original


def test_anything_at_all_becomes_valid_json() -> None:
    for weird in (["x" * 400_000] * 3, "é" * 300_000, {"k" * 300_000: 1}, 12, None):
        body = handler.dead_letter_body(weird)
        assert len(body.encode()) <= SQS_DEFAULT_MAX_BYTES - 1_024
        json.loads(body)


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    server = MotoServer()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.start())
    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="trigger-dlq")["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    yield sqs, url
    server.stop()


def test_the_queue_accepts_the_dead_letter_of_a_malformed_huge_event(queue) -> None:
    sqs, url = queue
    payload = oversized("é", 200_000)
    del payload["detail"]["object"]["sequencer"]  # malformed: no run id can be derived

    result = handler.Trigger(handler.RoutingTable([]), transport=None).handle(payload, lambda: 60.0)

    assert result["malformed"] == 1
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    kept = json.loads(message["Body"])
    assert kept["detail"]["object"]["key"] == "sales/incoming/a b.csv"
    assert "sequencer" in message["MessageAttributes"]["reason"]["StringValue"]


def test_without_a_queue_the_event_is_logged_not_dropped(monkeypatch, caplog) -> None:
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL", raising=False)
    handler.dead_letter({"detail": {}}, "the event names no bucket")
    (line,) = [r.getMessage() for r in caplog.records if "not_dead_lettered" in r.getMessage()]
    assert "names no bucket" in line

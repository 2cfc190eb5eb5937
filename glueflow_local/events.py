"""The events AWS services send, shaped as AWS documents them, for the local run.

- S3 -> EventBridge `Object Created`: "EventBridge event message structure", Amazon S3 User
  Guide (docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), example "Object
  created". Keys are form-encoded in the event, as S3 sends them ("red flower.jpg" is
  "red+flower.jpg").
- Glue -> EventBridge `Glue Job State Change`: "Automating AWS Glue with EventBridge", AWS
  Glue Developer Guide (docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-
  events.html): detail `jobName`, `severity`, `state`, `jobRunId`, `message`.
- A PutEvents entry -> the event a rule sees: "Amazon EventBridge events" and "PutEvents"
  (Amazon EventBridge API Reference): the entry's `Source`, `DetailType`, `Resources` and
  `Detail` (JSON text) become `source`, `detail-type`, `resources` and `detail`, in the
  envelope, with the sender's `account`, kept when another account's rule forwards it.
- SNS -> Lambda: "Invoking Lambda functions with Amazon SNS notifications", AWS Lambda
  Developer Guide (docs.aws.amazon.com/lambda/latest/dg/with-sns.html), example event: one
  record, `EventSource` "aws:sns", the notification under `Sns`.
- SQS -> Lambda (an event source mapping): "Using Lambda with Amazon SQS", AWS Lambda
  Developer Guide (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html), example standard
  queue message event: `messageId`, `receiptHandle`, `body`, `attributes` (receive count,
  sent and first-receive timestamps), `eventSource` "aws:sqs", `eventSourceARN`, `awsRegion`.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

_sequence = itertools.count(1)


def now_iso() -> str:
    """EventBridge's `time`: UTC, to the second, with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_sequencer() -> str:
    """S3's sequencer: hexadecimal, growing with each write to a key. Its value means nothing
    else ("Event message structure", Amazon S3 User Guide)."""
    return f"{int(datetime.now(UTC).timestamp() * 1e6):014X}{next(_sequence):04X}"


def object_created(
    account: str,
    region: str,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None = None,
    sequencer: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event S3 sends for a PutObject."""
    obj: dict[str, Any] = {
        "key": urllib.parse.quote_plus(key, safe="/"),
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": sequencer or next_sequencer(),
    }
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    return _envelope(
        "Object Created", "aws.s3", account, region, [f"arn:aws:s3:::{bucket}"],
        {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    )  # fmt: skip


def glue_job_state_change(
    account: str, region: str, job_name: str, run_id: str, state: str, message: str
) -> dict[str, Any]:
    """The EventBridge event Glue sends when a run reaches `state`."""
    severity = {"SUCCEEDED": "INFO", "STOPPED": "INFO"}.get(state, "ERROR")
    detail = {"jobName": job_name, "severity": severity, "state": state, "jobRunId": run_id,
              "message": message}  # fmt: skip
    return _envelope("Glue Job State Change", "aws.glue", account, region, [], detail)


def put_events_entry(entry: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """The event EventBridge makes of one PutEvents entry put by `account` in `region`."""
    return _envelope(
        entry["DetailType"], entry["Source"], account, region, list(entry.get("Resources", [])),
        json.loads(entry["Detail"]),
    )  # fmt: skip


def _envelope(
    detail_type: str, source: str, account: str, region: str, resources: list[str],
    detail: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """EventBridge's envelope around a service's event ("Amazon EventBridge events",
    EventBridge User Guide)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": now_iso(),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def sns_lambda_event(notification: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event for one SNS notification, from the JSON SNS sends to an SQS
    subscriber (same fields; Lambda's spelling of `SigningCertUrl` and `UnsubscribeUrl`)."""
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": notification.get("SignatureVersion", "1"),
                    "Timestamp": notification.get("Timestamp", now_iso()),
                    "Signature": notification.get("Signature", ""),
                    "SigningCertUrl": notification.get("SigningCertURL", ""),
                    "MessageId": notification["MessageId"],
                    "Message": notification["Message"],
                    "MessageAttributes": notification.get("MessageAttributes", {}),
                    "Type": notification.get("Type", "Notification"),
                    "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                    "TopicArn": notification["TopicArn"],
                    "Subject": notification.get("Subject"),
                },
            }
        ]
    }


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda event for a batch of SQS messages, from ReceiveMessage's answer (asked with
    every system attribute and message attribute)."""
    region = queue_arn.split(":")[3]
    kept = ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
            "ApproximateFirstReceiveTimestamp")  # fmt: skip
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: m["Attributes"][k] for k in kept if k in m.get("Attributes", {})},
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "dataType": value.get("DataType"),
                    }
                    for name, value in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }

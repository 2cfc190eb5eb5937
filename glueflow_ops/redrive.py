"""`make redrive ENV=name`: the trigger's dead letters back through its intake queue.

Two queues hold the landed files' events that started no run: the trigger's dead-letter
queue (the handler's own dead letters, with a `reason` attribute, and what SQS moved there
after too many receives) and the rules' dead-letter queue (what EventBridge could not send
to the intake). Each message's body is the EventBridge event itself, so it goes back to the
intake queue as it is; the trigger then starts its run, finds it exists (409: counted done),
or dead-letters it again with a new reason.

The queues are found through the triggers stack's outputs (CloudFormation DescribeStacks).
Each message is sent to the intake first and deleted from its dead-letter queue after, so a
failure in between leaves a copy, never none; the trigger's run ids make a copy harmless.
SQS's own StartMessageMoveTask would move them too, but says nothing per message and moto
does not implement it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The triggers stack's outputs (stacks/trigger_stack.py).
INTAKE_OUTPUT = "IntakeQueueUrl"
SOURCE_OUTPUTS = {
    "trigger dead letters": "DeadLetterQueueUrl",
    "rule dead letters": "RuleDeadLetterQueueUrl",
}
BATCH = 10  # ReceiveMessage's most
SENT = "sent back to the intake"
HIDE_S = 60  # while a message is being moved, no other redrive sees it


@dataclass(frozen=True)
class Moved:
    """One dead letter and what became of it."""

    queue: str
    message_id: str
    what: str  # the object (s3://bucket/key) or what the body is
    reason: str  # why it was dead-lettered, as recorded
    outcome: str

    def line(self) -> str:
        return f"{self.queue}: {self.what} (dead-lettered: {self.reason}) -> {self.outcome}"


def describe(body: str) -> str:
    """The object an EventBridge S3 event names, or what else the body is."""
    try:
        event = json.loads(body)
    except ValueError:
        return "a body that is not JSON"
    detail = event.get("detail") if isinstance(event, dict) else None
    if isinstance(detail, dict):
        bucket = (detail.get("bucket") or {}).get("name")
        key = (detail.get("object") or {}).get("key")
        if bucket and key:
            return f"s3://{bucket}/{key}"
    return "an event that names no S3 object"


def stack_outputs(cloudformation: Any, stack_name: str, needed: list[str]) -> dict[str, str]:
    """Output key -> value of a deployed stack (DescribeStacks), with every `needed` key."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [k for k in needed if k not in outputs]
    if missing:
        raise LookupError(f"stack {stack_name} has no output {', '.join(missing)}: deploy it first")
    return outputs


def queue_urls(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Output key -> queue URL, from the triggers stack."""
    return stack_outputs(cloudformation, stack_name, [INTAKE_OUTPUT, *SOURCE_OUTPUTS.values()])


def redrive(sqs: Any, intake_url: str, sources: dict[str, str]) -> list[Moved]:
    """Move every message waiting in `sources` (label -> queue URL) to the intake queue.
    Only what waits when it starts is moved, so a message that fails again at once is not
    moved twice."""
    moved: list[Moved] = []
    for label, url in sources.items():
        waiting = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        done: set[str] = set()
        while len(done) < waiting:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(BATCH, waiting - len(done)),
                MessageAttributeNames=["All"], VisibilityTimeout=HIDE_S, WaitTimeSeconds=1,
            ).get("Messages", [])  # fmt: skip
            if not messages:
                break
            for message in messages:
                if message["MessageId"] in done:
                    continue
                done.add(message["MessageId"])
                moved.append(_move(sqs, label, url, intake_url, message))
    return moved


def _move(sqs: Any, label: str, url: str, intake_url: str, message: dict[str, Any]) -> Moved:
    reason = (
        message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
        or "no reason recorded (moved by SQS or EventBridge after their retries)"
    )
    what = describe(message["Body"])
    try:
        sqs.send_message(QueueUrl=intake_url, MessageBody=message["Body"])
    except Exception as exc:  # kept where it was; the next redrive tries again
        return Moved(label, message["MessageId"], what, reason,
                     f"NOT moved, still dead-lettered: {exc}")  # fmt: skip
    try:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    except Exception as exc:  # sent, so the copy left behind is harmless (the run ids)
        return Moved(label, message["MessageId"], what, reason,
                     f"sent back to the intake, but still dead-lettered too: {exc}")  # fmt: skip
    return Moved(label, message["MessageId"], what, reason, SENT)


def report(moved: list[Moved], sources: dict[str, str]) -> list[str]:
    """What `make redrive` prints: how many per queue, then a line per message."""
    lines = []
    for label in sources:
        mine = [m for m in moved if m.queue == label]
        sent = sum(m.outcome.startswith(SENT) for m in mine)
        lines.append(f"{label}: {len(mine)} dead letter(s), {sent} sent back to the intake")
    lines += [m.line() for m in moved]
    if moved:
        lines.append(
            "each starts its run as a landed file does; one whose run exists counts as done, "
            "and one that fails again is dead-lettered again with its new reason"
        )
    return lines

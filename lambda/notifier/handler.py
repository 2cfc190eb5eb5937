"""Notifier Lambda: the alert topic -> Slack and Microsoft Teams (docs/architecture.md,
decisions 8 and 11).

It runs outside the VPC, which has no internet path, and posts each SNS message to every
channel the environment lists (`ALERT_CHANNELS`: type and Secrets Manager secret name). Each
channel is tried on its own, with retries; a message a channel did not take is sent to the
dead-letter queue with the channel and the reason, so a failing channel neither loses the alert
nor posts it twice to the channels that took it. Only when the dead-letter queue itself cannot
be written does the handler raise, so Lambda retries the event and finally dead-letters it.
Every decision is one JSON log line; webhook URLs are never logged.

A Glue run that ends badly reaches the topic through the Glue-failure rule, which is there for
runs started outside Airflow. A run the DAG's Glue task started (its `Arguments` name the DAG
run: `--glueflow-airflow-run-id`, read with GetJobRun) is left to Airflow: the task retries
it, and when the DAG run fails, the task's failure callback alerts, once, with the log tail.
So an attempt a retry then mends alerts nobody. When GetJobRun cannot say, the alert goes out.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from delivery import AWS_CLIENT_CONFIG, ChannelConfigError, RetryPolicy, SecretCache, post_json
from render import RENDERERS, to_alert

log = logging.getLogger("glueflow.notifier")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


# SQS takes messages up to 256 KiB, attributes included.
MAX_DEAD_LETTER_BYTES = 250_000
# The argument the DAG's Glue task passes every run it starts (dags/glueflow_runtime).
AIRFLOW_RUN_ARGUMENT = "--glueflow-airflow-run-id"
GLUE_STATE_CHANGE = "Glue Job State Change"


class NotifierError(Exception):
    """An alert could be neither delivered nor dead-lettered; Lambda retries the event."""


@dataclass(frozen=True)
class Channel:
    type: str  # slack | teams
    secret_name: str


def _say(decision: str, level: int = logging.INFO, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, json.dumps({"decision": decision, **fields}, sort_keys=True, default=str))


def channels_from(text: str) -> list[Channel]:
    """The channels of `ALERT_CHANNELS`, a JSON list of {"type", "secret_name"}."""
    channels = [Channel(str(c["type"]), str(c["secret_name"])) for c in json.loads(text or "[]")]
    unknown = sorted({c.type for c in channels} - set(RENDERERS))
    if unknown:
        raise ValueError(f"ALERT_CHANNELS: unknown type {unknown}; accepted: {sorted(RENDERERS)}")
    return channels


class Notifier:
    """Delivers SNS records to channels, and what it cannot deliver to a dead-letter queue."""

    def __init__(
        self,
        channels: list[Channel],
        secrets: SecretCache,
        dead_letter: Callable[[dict[str, Any]], None],
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        glue_run: Callable[[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.channels = channels
        self.secrets = secrets
        self.dead_letter = dead_letter
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.glue_run = glue_run  # GetJobRun's JobRun, by job name and run id

    def handle(self, event: Any, remaining_s: Callable[[], float]) -> dict[str, Any]:
        records = event.get("Records") if isinstance(event, dict) else None
        result = {"delivered": 0, "dead_lettered": 0, "left_to_airflow": 0}
        if not isinstance(records, list) or not records:
            _say("malformed_event", logging.WARNING, event=event)
            self._keep({"reason": "not an SNS event", "event": event})
            result["dead_lettered"] += 1
            return result
        for record in records:
            sns = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(sns, dict) or not isinstance(sns.get("Message"), str):
                _say("malformed_record", logging.WARNING, record=record)
                self._keep({"reason": "not an SNS record", "record": record})
                result["dead_lettered"] += 1
                continue
            for key, count in self.deliver(sns, remaining_s).items():
                result[key] += count
        return result

    def deliver(self, sns: dict[str, Any], remaining_s: Callable[[], float]) -> dict[str, int]:
        """Post one SNS message to every channel; dead-letter it for each channel that fails."""
        counts = {"delivered": 0, "dead_lettered": 0, "left_to_airflow": 0}
        message_id = sns.get("MessageId")
        airflow_run = self._airflow_run(sns["Message"])
        if airflow_run:
            _say("left_to_airflow", message_id=message_id, airflow_run=airflow_run)
            counts["left_to_airflow"] += 1
            return counts
        try:
            alert = to_alert(sns.get("Subject"), sns["Message"])
        except Exception as exc:  # a message this code cannot read is kept, not dropped
            _say("unreadable_message", logging.ERROR, message_id=message_id, error=repr(exc))
            self._keep({"reason": f"could not read the message: {exc!r}", "sns": sns})
            counts["dead_lettered"] += 1
            return counts
        if not self.channels:
            _say("no_channel", logging.WARNING, message_id=message_id, title=alert.title)
        for channel in self.channels:
            fields = {"message_id": message_id, "channel": channel.type,
                      "secret_name": channel.secret_name, "title": alert.title}  # fmt: skip
            try:
                url = self.secrets.url(channel.secret_name)
                payload = RENDERERS[channel.type](alert)
            except ChannelConfigError as exc:
                reason = str(exc)
            except Exception as exc:  # a rendering bug must not lose the alert
                reason = f"could not render it for {channel.type}: {exc!r}"
            else:
                extra = {"sleep": self.sleep} if self.sleep else {}
                outcome = post_json(url, payload, self.policy, remaining_s, **extra)
                fields.update(status=outcome.status, attempts=outcome.attempts)
                if outcome.delivered:
                    _say("delivered", **fields)
                    counts["delivered"] += 1
                    continue
                reason = outcome.detail
            _say("not_delivered", logging.ERROR, reason=reason, **fields)
            self._keep({"reason": reason, **fields, "sns": sns})
            counts["dead_lettered"] += 1
        return counts

    def _airflow_run(self, text: str) -> str | None:
        """The DAG run that started the Glue run a state-change event is about, if any."""
        if self.glue_run is None or GLUE_STATE_CHANGE not in text:
            return None
        try:
            event = json.loads(text)
            detail = event["detail"] if event.get("detail-type") == GLUE_STATE_CHANGE else None
            if not detail:
                return None
            run = self.glue_run(str(detail["jobName"]), str(detail["jobRunId"]))
            found = (run.get("Arguments") or {}).get(AIRFLOW_RUN_ARGUMENT)
            return str(found) if found else None
        except Exception as exc:  # cannot tell: the alert goes out
            _say("glue_run_unknown", logging.WARNING, error=repr(exc))
            return None

    def _keep(self, entry: dict[str, Any]) -> None:
        try:
            self.dead_letter(entry)
        except Exception as exc:
            _say("dead_letter_failed", logging.ERROR, error=repr(exc))
            raise NotifierError(f"could not dead-letter an undelivered alert: {exc!r}") from exc


def sqs_dead_letter(queue_url: str) -> Callable[[dict[str, Any]], None]:
    """Send an entry to the SQS queue at `queue_url`."""
    import boto3
    from botocore.config import Config

    sqs = boto3.client("sqs", config=Config(**AWS_CLIENT_CONFIG))

    def send(entry: dict[str, Any]) -> None:
        reason = str(entry.get("reason", ""))[:1000]
        body = json.dumps(entry, default=str)
        if len(body.encode()) > MAX_DEAD_LETTER_BYTES and isinstance(entry.get("sns"), dict):
            # SNS messages reach 256 KB; keep the entry valid JSON and say what was cut.
            message = entry["sns"].get("Message", "")
            kept = message[: MAX_DEAD_LETTER_BYTES // 8]
            entry = {**entry, "sns": {**entry["sns"], "Message": kept}, "truncated": True}
            body = json.dumps(entry, default=str)
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason or "?"}},
        )

    return send


_notifier: Notifier | None = None


def _from_environment() -> Notifier:
    policy = RetryPolicy(
        attempts=int(os.environ.get("MAX_ATTEMPTS", "4")),
        base_delay_s=float(os.environ.get("RETRY_BASE_SECONDS", "1")),
        timeout_s=float(os.environ.get("HTTP_TIMEOUT_SECONDS", "10")),
    )
    return Notifier(
        channels_from(os.environ.get("ALERT_CHANNELS", "[]")),
        SecretCache(),
        sqs_dead_letter(os.environ["DEAD_LETTER_QUEUE_URL"]),
        policy,
        glue_run=glue_job_run(),
    )


def glue_job_run() -> Callable[[str, str], dict[str, Any]]:
    """GetJobRun, with the notifier's short timeouts and one retry."""
    import boto3
    from botocore.config import Config

    glue = boto3.client("glue", config=Config(**AWS_CLIENT_CONFIG))

    def get(job_name: str, run_id: str) -> dict[str, Any]:
        return glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]

    return get


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    global _notifier  # built once per container, on the first event
    if _notifier is None:
        _notifier = _from_environment()
    return _notifier.handle(event, lambda: context.get_remaining_time_in_millis() / 1000)

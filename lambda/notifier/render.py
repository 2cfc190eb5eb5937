"""What an alert says, and how Slack and Teams show it.

The alert topic carries four kinds of message: the failure callback's `task_failed`, the cost
monitor's `budget`, EventBridge's Glue Job State Change events, and CloudWatch alarm
notifications. Anything else is shown as text, so no message goes unshown. Each becomes one
`Alert`, which renders as a Slack Block Kit message or a Teams Adaptive Card. Standard library
only.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

# Slack: header text <= 150 characters, section text <= 3,000, at most 10 fields per section.
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELDS_MAX = 10
# Adaptive Cards that Teams renders from a Workflows webhook.
ADAPTIVE_CARD_VERSION = "1.4"
LINE_MAX = 500

_SLACK_ICON = {"error": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
_TEAMS_COLOR = {"error": "Attention", "warning": "Warning", "info": "Accent"}


@dataclass
class Alert:
    """One alert, whatever its source."""

    title: str
    severity: str  # error | warning | info
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    # A failed script's Python traceback, its own frames first: shown before the log tail.
    script_frames: list[str] = field(default_factory=list)


def _console(region: str) -> str:
    """The console of the environment's partition (set by the stack), else the commercial one."""
    return os.environ.get("CONSOLE_URL") or f"https://{region}.console.aws.amazon.com"


def _glue_run_link(region: str, job_name: str, run_id: str) -> str:
    name = urllib.parse.quote(job_name, safe="")
    return f"{_console(region)}/gluestudio/home?region={region}#/job/{name}/run/{run_id}"


def _task_failed(message: dict[str, Any]) -> Alert:
    facts = [
        ("Job", message.get("job")),
        ("Environment", message.get("environment")),
        ("Task", message.get("task_id")),
        ("DAG run", message.get("run_id")),
        ("Try", message.get("try_number")),
        ("Glue run", message.get("glue_run_id")),
    ]
    labels = {"glue_run": "Glue run", "airflow_task": "Airflow task log"}
    links = message.get("links") or {}
    return Alert(
        title=f"{message.get('job')}: {message.get('task_id')} failed",
        severity="error",
        summary=str(message.get("error") or "The task failed."),
        facts=[(name, str(value)) for name, value in facts if value not in (None, "")],
        log_tail=[str(line) for line in message.get("log_tail") or []],
        script_frames=[str(line) for line in message.get("script_frames") or []],
        notes=[str(note) for note in message.get("notes") or []],
        links=[(labels.get(k, k), str(url)) for k, url in sorted(links.items()) if url],
    )


def _number(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return str(value)


def _budget(message: dict[str, Any]) -> Alert:
    facts = [
        ("Job", message.get("job")),
        ("Glue run", message.get("run_id")),
        ("State", message.get("state")),
        ("Cost", "$" + _number(message.get("cost_usd"))),
        ("DPU-hours", _number(message.get("dpu_hours"))),
        ("Duration", f"{message.get('duration_seconds')} s"),
    ]
    return Alert(
        title=f"{message.get('job')}: a run went over its budget",
        severity="warning",
        summary=str(message.get("message") or ""),
        facts=[(name, str(value)) for name, value in facts if value is not None],
    )


def _glue_state_change(event: dict[str, Any]) -> Alert:
    detail = event.get("detail") or {}
    job, run, state = detail.get("jobName", "?"), detail.get("jobRunId"), detail.get("state", "?")
    region = str(event.get("region") or "")
    links = [("Glue run", _glue_run_link(region, job, run))] if run and region else []
    return Alert(
        title=f"Glue job {job} ended {state}",
        severity="error",
        summary=str(detail.get("message") or f"The run ended {state}."),
        facts=[
            (name, str(value))
            for name, value in (("Glue run", run), ("State", state), ("Time", event.get("time")))
            if value
        ],
        links=links,
    )


def _alarm(message: dict[str, Any]) -> Alert:
    name = str(message.get("AlarmName", "?"))
    state = str(message.get("NewStateValue", "?"))
    arn = str(message.get("AlarmArn") or "")
    region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    links = []
    if region:
        alarm = urllib.parse.quote(name, safe="")
        links = [
            ("Alarm", f"{_console(region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{alarm}")
        ]
    return Alert(
        title=f"Alarm {name} is {state}",
        severity="error" if state == "ALARM" else "info",
        summary=str(message.get("AlarmDescription") or name),
        facts=[
            (label, str(message[key]))
            for label, key in (
                ("Reason", "NewStateReason"),
                ("Was", "OldStateValue"),
                ("Since", "StateChangeTime"),
            )
            if message.get(key)
        ],
        links=links,
    )


def to_alert(subject: str | None, text: str) -> Alert:
    """The alert an SNS message carries."""
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if isinstance(message, dict):
        if message.get("kind") == "task_failed":
            return _task_failed(message)
        if message.get("kind") == "budget":
            return _budget(message)
        if message.get("detail-type") == "Glue Job State Change":
            return _glue_state_change(message)
        if "AlarmName" in message and "NewStateValue" in message:
            return _alarm(message)
    return Alert(title=subject or "Glueflow alert", severity="warning", summary=text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _last_lines(lines: list[str], limit: int) -> str:
    """The newest lines that fit in `limit` characters."""
    kept: list[str] = []
    size = 0
    for line in reversed([_clip(line, LINE_MAX) for line in lines]):
        size += len(line) + 1
        if size > limit:
            break
        kept.append(line)
    return "\n".join(reversed(kept))


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_preformatted(label: str, lines: list[str]) -> dict[str, Any]:
    """A rich text block: a bold label, then the newest lines that fit, preformatted."""
    return {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section",
             "elements": [{"type": "text", "text": label, "style": {"bold": True}}]},
            {"type": "rich_text_preformatted",
             "elements": [{"type": "text", "text": _last_lines(lines, SLACK_TEXT_MAX)}]},
        ],
    }  # fmt: skip


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback `text` and Block Kit blocks."""
    icon = _SLACK_ICON.get(alert.severity, "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(alert.title, SLACK_HEADER_MAX)},
        },
        {
            "type": "section",
            # Slack refuses a section with empty text (invalid_blocks).
            "text": {
                "type": "mrkdwn",
                "text": _clip(_slack_escape(alert.summary.strip() or alert.title), SLACK_TEXT_MAX),
            },
        },
    ]
    if alert.facts:
        blocks.append({
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{name}*\n{_slack_escape(value)}", 2000)}
                for name, value in alert.facts[:SLACK_FIELDS_MAX]
            ],
        })  # fmt: skip
    # Log lines go in rich text's preformatted elements: their text is shown as sent, so a
    # `<module>` or `&` needs no escape and no fence can close the block (Slack's "Rich text
    # block" reference: rich_text_preformatted, text elements).
    if alert.script_frames:
        blocks.append(_slack_preformatted("Your script's frames", alert.script_frames))
    if alert.log_tail:
        blocks.append(_slack_preformatted("Last log lines", alert.log_tail))
    if alert.notes:
        blocks.append({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(_slack_escape(n), SLACK_TEXT_MAX)}
                         for n in alert.notes[:10]],
        })  # fmt: skip
    if alert.links:
        blocks.append({
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
                for label, url in alert.links[:5]
            ],
        })  # fmt: skip
    return {"text": _clip(f"{icon} {alert.title}".strip(), SLACK_TEXT_MAX), "blocks": blocks}


def teams_payload(alert: Alert) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card attachment."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": alert.title,
            "weight": "Bolder",
            "size": "Large",
            "color": _TEAMS_COLOR.get(alert.severity, "Default"),
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": _clip(alert.summary.strip() or alert.title, SLACK_TEXT_MAX),
            "wrap": True,
        },
    ]
    if alert.facts:
        body.append({
            "type": "FactSet",
            "facts": [{"title": name, "value": _clip(value, LINE_MAX)}
                      for name, value in alert.facts],
        })  # fmt: skip
    for label, lines in (("Your script's frames", alert.script_frames),
                         ("Last log lines", alert.log_tail)):  # fmt: skip
        if not lines:
            continue
        body.append({
            "type": "Container",
            "style": "emphasis",
            "items": [
                {"type": "TextBlock", "text": label, "weight": "Bolder"},
                # One block per line: Adaptive Card markdown would join single line breaks.
                *({"type": "TextBlock", "text": _clip(line, LINE_MAX) or " ", "wrap": True,
                   "fontType": "Monospace", "size": "Small", "spacing": "None"}
                  for line in lines),
            ],
        })  # fmt: skip
    for note in alert.notes:
        body.append({"type": "TextBlock", "text": note, "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if alert.links:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": label, "url": url} for label, url in alert.links
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


RENDERERS = {"slack": slack_payload, "teams": teams_payload}

"""Slack and Teams, received on this machine: what a channel would show, printed.

A real HTTP server on loopback. The notifier posts to it as to Slack's incoming webhooks
(answer 200 "ok") or a Teams Workflows webhook (answer 202), by the path of the URL put in
the channel's secret (`/slack/<secret>` or `/teams/<secret>`). Each message is kept (in memory
and in `alerts.jsonl`) and printed as its text: Slack's Block Kit sections and context, or the
Adaptive Card's text blocks.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glueflow_local.serving import reply, serve
from glueflow_local.timeline import Timeline


def _as_slack_shows(mrkdwn: str) -> str:
    """mrkdwn text as Slack's client shows it: its three escapes undone (Slack's "Formatting
    text for app surfaces": & < > are sent as &amp; &lt; &gt;)."""
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _rich_text(elements: list[Any]) -> list[str]:
    """A rich text block's text, as sent: its elements hold plain strings."""
    lines: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        if element.get("type") == "text":
            lines += str(element.get("text", "")).splitlines()
        else:
            lines += _rich_text(element.get("elements", []))
    return lines


def slack_text(payload: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for block in payload.get("blocks", []):
        if block.get("type") == "rich_text":
            lines += _rich_text(block.get("elements", []))
            continue
        if isinstance(block.get("text"), dict):
            lines += _as_slack_shows(block["text"].get("text", "")).splitlines()
        for item in [*block.get("fields", []), *block.get("elements", [])]:
            if isinstance(item, dict) and item.get("type") == "mrkdwn":
                lines += _as_slack_shows(item.get("text", "")).splitlines()
    return lines or [payload.get("text", "")]


def teams_text(payload: dict[str, Any]) -> list[str]:
    lines: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type") == "TextBlock":
                lines.extend(str(item.get("text", "")).splitlines())
            elif item.get("type") == "FactSet":
                lines.extend(f"{f['title']}: {f['value']}" for f in item.get("facts", []))
            walk(item.get("items", []))

    for attachment in payload.get("attachments", []):
        walk(attachment.get("content", {}).get("body", []))
    return lines


class WebhookReceiver:
    def __init__(self, timeline: Timeline, path: Path) -> None:
        self.timeline = timeline
        self.path = path
        self.received: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self.base = ""

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                channel = self.path.strip("/").split("/")[0]
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver.receive(channel, payload)
                if channel == "slack":
                    reply(self, 200, b"ok")  # Slack's incoming webhooks answer "ok"
                else:
                    reply(self, 202, b"")  # Teams Workflows accept with 202

        self._server, self.base = serve(Handler)
        return self.base

    def url(self, channel: str) -> str:
        return f"{self.base}/{channel}/local"

    def receive(self, channel: str, payload: dict[str, Any]) -> None:
        lines = slack_text(payload) if channel == "slack" else teams_text(payload)
        entry = {"channel": channel, "payload": payload, "lines": lines}
        self.received.append(entry)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
        title = payload.get("text") or (lines[0] if lines else "")
        self.timeline.say("alert", f"{channel} received: {title}")
        for line in lines[:40]:
            self.timeline.say("alert", f"  | {line}")

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

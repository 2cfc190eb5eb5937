"""Every kind of message on the alert topic becomes an alert that Slack and Teams can show."""

from __future__ import annotations

import json

import pytest

from tests.lambda_notifier.conftest import notifier_module

render = notifier_module("render")

GLUE_STATE_CHANGE = {
    "version": "0",
    "id": "a1b2",
    "detail-type": "Glue Job State Change",
    "source": "aws.glue",
    "account": "111111111111",
    "time": "2026-11-24T05:00:00Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {
        "jobName": "glueflow-dev-sales_ingest",
        "severity": "ERROR",
        "state": "TIMEOUT",
        "jobRunId": "jr_abc",
        "message": "Job run timed out",
    },
}
ALARM = {
    "AlarmName": "glueflow-dev-mwaa-scheduler-heartbeat",
    "AlarmDescription": "The MWAA scheduler stopped sending heartbeats",
    "AWSAccountId": "111111111111",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: no datapoints were received for 3 periods",
    "StateChangeTime": "2026-11-24T05:01:00.000+0000",
    "Region": "EU (Ireland)",
    "AlarmArn": "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:"
    "glueflow-dev-mwaa-scheduler-heartbeat",
    "OldStateValue": "OK",
}
BUDGET = {
    "kind": "budget",
    "message": "Glue run jr_1 of customer_ltv (dev) cost $12.40, over its budget of $10.00",
    "job": "customer_ltv",
    "run_id": "jr_1",
    "state": "SUCCEEDED",
    "dpu_hours": 28.18,
    "cost_usd": 12.4,
    "duration_seconds": 3522,
}


@pytest.mark.parametrize(
    ("subject", "message", "title", "severity", "fact", "link"),
    [
        (None, GLUE_STATE_CHANGE, "Glue job glueflow-dev-sales_ingest ended TIMEOUT", "error",
         ("Glue run", "jr_abc"),
         "https://eu-west-1.console.aws.amazon.com/gluestudio/home?region=eu-west-1"
         "#/job/glueflow-dev-sales_ingest/run/jr_abc"),
        ("ALARM: x", ALARM, "Alarm glueflow-dev-mwaa-scheduler-heartbeat is ALARM", "error",
         ("Was", "OK"),
         "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
         "#alarmsV2:alarm/glueflow-dev-mwaa-scheduler-heartbeat"),
        ("Glueflow budget", BUDGET, "customer_ltv: a run went over its budget", "warning",
         ("Cost", "$12.40"), None),
    ],
)  # fmt: skip
def test_each_kind_of_message_becomes_an_alert(
    subject: str | None, message: dict, title: str, severity: str, fact: tuple, link: str | None
) -> None:
    alert = render.to_alert(subject, json.dumps(message))
    assert (alert.title, alert.severity) == (title, severity)
    assert fact in alert.facts
    assert [url for _, url in alert.links] == ([link] if link else [])


@pytest.mark.parametrize("text", ["disk full on worker 3", '["a", "list"]', '{"unknown": 1}'])
def test_any_other_message_is_shown_as_text_under_its_subject(text: str) -> None:
    alert = render.to_alert("Something happened", text)
    assert (alert.title, alert.summary, alert.severity) == ("Something happened", text, "warning")
    slack = render.slack_payload(alert)
    assert slack["blocks"][1]["text"]["text"] == text.replace("&", "&amp;")


def test_a_long_tail_keeps_the_newest_lines_within_slacks_section_limit() -> None:
    lines = [f"{n:02d} " + "x" * 600 for n in range(20)] + ["``` not a fence <b>"]
    alert = render.Alert(title="t" * 200, severity="error", summary="s", log_tail=lines)
    slack = render.slack_payload(alert)
    assert len(slack["blocks"][0]["text"]["text"]) == render.SLACK_HEADER_MAX
    code = slack["blocks"][-1]["elements"][1]["elements"][0]["text"]
    assert len(code) <= render.SLACK_TEXT_MAX
    # Preformatted rich text is shown as sent: no fence to close, nothing to escape.
    assert code.endswith("``` not a fence <b>")
    kept = code.split("\n")
    assert kept[0].startswith("15 ")  # 5 full lines and the last fit in 3,000 characters
    assert all(len(line) <= render.LINE_MAX for line in kept)
    # Teams shows every line, each cut to LINE_MAX.
    card = render.teams_payload(alert)["attachments"][0]["content"]
    assert len(card["body"][-1]["items"]) == 1 + len(lines)


def test_notes_show_and_a_card_without_links_has_no_actions() -> None:
    alert = render.Alert(
        title="x", severity="error", summary="y", notes=["no log stream 'jr_1' in /aws-glue/x"]
    )
    slack = render.slack_payload(alert)
    assert slack["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "no log stream 'jr_1' in /aws-glue/x"}],
    }
    card = render.teams_payload(alert)["attachments"][0]["content"]
    assert "actions" not in card
    assert card["body"][-1]["isSubtle"] is True

"""The notifier against a real local HTTP server standing in for Slack and Teams webhooks,
with Secrets Manager and the dead-letter queue on moto."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.lambda_notifier.conftest import Webhooks, notifier_module

handler = notifier_module("handler")
delivery = notifier_module("delivery")

REGION = "eu-west-1"
SLACK_SECRET = "glueflow/dev/slack-webhook"  # noqa: S105 - a secret's name
TEAMS_SECRET = "glueflow/dev/teams-webhook"  # noqa: S105 - a secret's name
# A token-like path: it must never appear in a log line.
SLACK_PATH = "/services/T000/B000/XXXXsecretXXXX"
TEAMS_PATH = "/workflows/abc/triggers/manual/paths/invoke?sig=SIGsecretSIG"
TOPIC_ARN = f"arn:aws:sns:{REGION}:111111111111:glueflow-dev-alerts"

TASK_FAILED = {
    "kind": "task_failed",
    "environment": "dev",
    "job": "sales_ingest",
    "dag_id": "sales_ingest",
    "task_id": "run_glue_job",
    "run_id": "s3__5f0c2a",
    "try_number": 1,
    "glue_run_id": "jr_0123456789abcdef",
    "error": "Glue job glueflow-dev-sales_ingest run jr_0123456789abcdef ended FAILED",
    "log_tail": [
        *(
            f"26/11/24 05:00:{n:02d} INFO TaskSetManager: Finished task {n}.0 in stage 3.0"
            for n in range(1, 16)
        ),
        "26/11/24 05:00:16 WARN Validation: 12 rows with amount < 0 & no currency",
        "26/11/24 05:00:17 ERROR GlueJob: write to s3://glueflow-dev-curated/sales/ failed",
        "Traceback (most recent call last):",
        '  File "/tmp/sales_ingest.py", line 41, in <module>',
        "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does "
        "not exist: s3://glueflow-dev-raw/sales/2026-11-24/orders.csv",
    ],
    "script_frames": [
        'File "/tmp/sales_ingest.py", line 41, in <module>',
        "    main()",
        "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does "
        "not exist: s3://glueflow-dev-raw/sales/2026-11-24/orders.csv",
    ],
    "notes": [],
    "links": {
        "airflow_task": "https://example.invalid/dags/sales_ingest/runs/s3__5f0c2a",
        "glue_run": "https://eu-west-1.console.aws.amazon.com/gluestudio/home?region=eu-west-1"
        "#/job/glueflow-dev-sales_ingest/run/jr_0123456789abcdef",
    },
}


class Context:
    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def sns_event(message: Any, subject: str | None = "Glueflow dev: sales_ingest failed") -> dict:
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "6f6c1b6e-0000-4000-8000-000000000001",
                    "TopicArn": TOPIC_ARN,
                    "Subject": subject,
                    "Message": text,
                },
            }
        ]
    }


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    """One boto3 session for the module, as a warm Lambda keeps its own between invocations.
    mock_aws would start each test with a new default session, whose botocore reads the
    endpoints and the service models again: about 60 ms a test."""
    return boto3.session.Session()


@pytest.fixture
def aws(
    session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)  # put back when the test ends
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="glueflow-dev-notifier-dead-letters")["QueueUrl"]
        yield {"secrets": boto3.client("secretsmanager", region_name=REGION), "sqs": sqs,
               "queue": queue}  # fmt: skip


def dead_letters(aws: dict[str, Any]) -> list[dict[str, Any]]:
    answer = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


@pytest.fixture
def notify(
    aws: dict[str, Any], webhooks: Webhooks, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, Any]]:
    """Run the Lambda entry point, as configured by the stack's environment variables."""
    aws["secrets"].create_secret(Name=SLACK_SECRET, SecretString=webhooks.url(SLACK_PATH))
    aws["secrets"].create_secret(
        Name=TEAMS_SECRET, SecretString=json.dumps({"url": webhooks.url(TEAMS_PATH)})
    )

    def run(event: Any, channels: tuple[str, ...] = ("slack", "teams"), **env: str) -> dict:
        secrets = {"slack": SLACK_SECRET, "teams": TEAMS_SECRET}
        listed = [{"type": kind, "secret_name": secrets.get(kind, kind)} for kind in channels]
        settings = {"ALERT_CHANNELS": json.dumps(listed), "DEAD_LETTER_QUEUE_URL": aws["queue"],
                    "RETRY_BASE_SECONDS": "0.01", "HTTP_TIMEOUT_SECONDS": "2", **env}  # fmt: skip
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(handler, "_notifier", None)
        return handler.handler(event, Context())

    return run


def test_a_failed_task_posts_a_slack_message_and_a_teams_card(
    notify: Callable[..., dict], webhooks: Webhooks, aws: dict[str, Any]
) -> None:
    assert notify(sns_event(TASK_FAILED)) == {
        "delivered": 2,
        "dead_lettered": 0,
        "left_to_airflow": 0,
    }

    (slack,) = webhooks.received[SLACK_PATH]
    assert set(slack) == {"text", "blocks"}
    assert slack["text"] == ":red_circle: sales_ingest: run_glue_job failed"
    header, summary, facts, frames, tail, actions = slack["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "sales_ingest: run_glue_job failed"},
    }
    assert summary["text"]["text"] == TASK_FAILED["error"]
    assert [f["text"].split("\n")[0] for f in facts["fields"]] == [
        "*Job*", "*Environment*", "*Task*", "*DAG run*", "*Try*", "*Glue run*",
    ]  # fmt: skip
    # Log lines are rich text, preformatted: Slack shows a text element's string as sent, with
    # no mrkdwn parsing and so no escapes ("Rich text block", Slack's Block Kit reference:
    # rich_text_section, rich_text_preformatted, and their text elements). The script's
    # frames come first.
    assert [(b["type"], b["elements"][0]["elements"][0]["text"]) for b in (frames, tail)] == [
        ("rich_text", "Your script's frames"),
        ("rich_text", "Last log lines"),
    ]
    shown = frames["elements"][1]
    assert shown["type"] == "rich_text_preformatted"
    assert shown["elements"][0]["text"].split("\n") == TASK_FAILED["script_frames"]
    code = tail["elements"][1]["elements"][0]["text"]
    assert code.split("\n") == TASK_FAILED["log_tail"]
    assert "12 rows with amount < 0 & no currency" in code
    assert 'File "/tmp/sales_ingest.py", line 41, in <module>' in code
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Airflow task log", TASK_FAILED["links"]["airflow_task"]),
        ("Glue run", TASK_FAILED["links"]["glue_run"]),
    ]

    (teams,) = webhooks.received[TEAMS_PATH]
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, error, fact_set, frame_lines, lines = card["body"]
    assert [b["text"] for b in frame_lines["items"]] == [
        "Your script's frames",
        *TASK_FAILED["script_frames"],
    ]
    assert (title["text"], title["color"]) == ("sales_ingest: run_glue_job failed", "Attention")
    assert error["text"] == TASK_FAILED["error"]
    assert {f["title"]: f["value"] for f in fact_set["facts"]}["Glue run"] == "jr_0123456789abcdef"
    assert lines["items"][0]["text"] == "Last log lines"
    assert [b["text"] for b in lines["items"][1:]] == TASK_FAILED["log_tail"]
    assert {b["fontType"] for b in lines["items"][1:]} == {"Monospace"}
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl", "Action.OpenUrl"]
    assert dead_letters(aws) == []


def test_5xx_and_429_are_retried_until_accepted(
    notify: Callable[..., dict], webhooks: Webhooks
) -> None:
    webhooks.answer(
        SLACK_PATH, (503, {}, "busy"), (500, {}, "oops"), (429, {"Retry-After": "0"}, "")
    )
    assert notify(sns_event(TASK_FAILED), channels=("slack",)) == {
        "delivered": 1, "dead_lettered": 0, "left_to_airflow": 0}  # fmt: skip
    assert len(webhooks.received[SLACK_PATH]) == 4
    assert all(p == webhooks.received[SLACK_PATH][0] for p in webhooks.received[SLACK_PATH])


def test_a_4xx_is_not_retried_and_the_alert_is_dead_lettered_for_that_channel_only(
    notify: Callable[..., dict], webhooks: Webhooks, aws: dict[str, Any]
) -> None:
    webhooks.answer(SLACK_PATH, (404, {}, "no_service"))
    assert notify(sns_event(TASK_FAILED)) == {
        "delivered": 1,
        "dead_lettered": 1,
        "left_to_airflow": 0,
    }
    assert len(webhooks.received[SLACK_PATH]) == 1  # refused for good: not retried
    assert len(webhooks.received[TEAMS_PATH]) == 1  # the other channel still got it
    (kept,) = dead_letters(aws)
    assert (kept["channel"], kept["secret_name"]) == ("slack", SLACK_SECRET)
    assert kept["reason"] == "refused, not retried (HTTP 404: no_service)"
    assert json.loads(kept["sns"]["Message"]) == TASK_FAILED  # the alert itself is kept


def test_a_persistent_5xx_is_retried_then_dead_lettered(
    notify: Callable[..., dict], webhooks: Webhooks, aws: dict[str, Any]
) -> None:
    webhooks.answer(TEAMS_PATH, *[(502, {}, "bad gateway")] * 10)
    assert notify(sns_event(TASK_FAILED), channels=("teams",), MAX_ATTEMPTS="3") == {
        "delivered": 0, "dead_lettered": 1, "left_to_airflow": 0}  # fmt: skip
    assert len(webhooks.received[TEAMS_PATH]) == 3
    (kept,) = dead_letters(aws)
    assert kept["reason"] == "gave up after 3 attempts (HTTP 502: bad gateway)"


def test_an_unreachable_webhook_is_retried_then_dead_lettered(
    aws: dict[str, Any], webhooks: Webhooks
) -> None:
    aws["secrets"].create_secret(Name=SLACK_SECRET, SecretString="http://127.0.0.1:9/closed")
    sleeps: list[float] = []
    notifier = handler.Notifier(
        [handler.Channel("slack", SLACK_SECRET)],
        delivery.SecretCache(aws["secrets"]),
        handler.sqs_dead_letter(aws["queue"]),
        delivery.RetryPolicy(attempts=3, base_delay_s=1.0, timeout_s=1.0),
        sleep=sleeps.append,
    )
    assert notifier.handle(sns_event(TASK_FAILED), lambda: 60.0)["dead_lettered"] == 1
    # Exponential backoff with jitter: 1 s then 2 s, each between half and all of it.
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    (kept,) = dead_letters(aws)
    assert kept["reason"].startswith("gave up after 3 attempts (URLError")


def test_retry_after_is_honoured_and_time_left_bounds_the_retries(
    aws: dict[str, Any], webhooks: Webhooks
) -> None:
    aws["secrets"].create_secret(Name=SLACK_SECRET, SecretString=webhooks.url(SLACK_PATH))
    webhooks.answer(SLACK_PATH, (429, {"Retry-After": "7"}, "rate_limited"), (503, {}, ""))
    sleeps: list[float] = []
    notifier = handler.Notifier(
        [handler.Channel("slack", SLACK_SECRET)],
        delivery.SecretCache(aws["secrets"]),
        handler.sqs_dead_letter(aws["queue"]),
        delivery.RetryPolicy(attempts=5, timeout_s=1.0),
        sleep=sleeps.append,
    )
    assert notifier.handle(sns_event(TASK_FAILED), lambda: 60.0)["delivered"] == 1
    assert sleeps[0] == 7.0
    # With 5 s left, a 7 s Retry-After cannot be waited for: dead-lettered at once.
    webhooks.answer(SLACK_PATH, (429, {"Retry-After": "7"}, "rate_limited"))
    assert notifier.handle(sns_event(TASK_FAILED), lambda: 5.0)["dead_lettered"] == 1
    assert len(sleeps) == 2


def test_a_missing_secret_dead_letters_the_alert(aws: dict[str, Any], webhooks: Webhooks) -> None:
    notifier = handler.Notifier(
        [handler.Channel("slack", "glueflow/dev/nowhere")],
        delivery.SecretCache(aws["secrets"]),
        handler.sqs_dead_letter(aws["queue"]),
    )
    assert notifier.handle(sns_event(TASK_FAILED), lambda: 60.0)["dead_lettered"] == 1
    (kept,) = dead_letters(aws)
    assert kept["reason"] == (
        "secret glueflow/dev/nowhere could not be read (ResourceNotFoundException)"
    )
    assert webhooks.received == {}


def test_when_the_dead_letter_queue_fails_too_the_handler_raises_for_lambda_to_retry(
    notify: Callable[..., dict], webhooks: Webhooks, aws: dict[str, Any]
) -> None:
    webhooks.answer(SLACK_PATH, (410, {}, "channel_is_archived"))
    gone = aws["queue"].rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(handler.NotifierError, match="could not dead-letter"):
        notify(sns_event(TASK_FAILED), channels=("slack",), DEAD_LETTER_QUEUE_URL=gone)


def test_an_event_that_is_not_from_sns_is_dead_lettered(
    notify: Callable[..., dict], aws: dict[str, Any], webhooks: Webhooks
) -> None:
    assert notify({"hello": "world"}) == {"delivered": 0, "dead_lettered": 1, "left_to_airflow": 0}
    (kept,) = dead_letters(aws)
    assert kept == {"reason": "not an SNS event", "event": {"hello": "world"}}
    assert webhooks.received == {}


def test_webhook_urls_never_reach_the_logs(
    notify: Callable[..., dict], webhooks: Webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    webhooks.answer(SLACK_PATH, (500, {}, ""))
    webhooks.answer(TEAMS_PATH, (400, {}, "bad request"))
    with caplog.at_level(logging.INFO, logger="glueflow.notifier"):
        notify(sns_event(TASK_FAILED))
    decisions = [json.loads(r.getMessage())["decision"] for r in caplog.records]
    assert decisions == ["delivered", "not_delivered"]
    for secret in ("XXXXsecretXXXX", "SIGsecretSIG", webhooks.base_url):
        assert secret not in caplog.text


def test_unknown_channel_types_are_refused_with_what_is_accepted() -> None:
    with pytest.raises(
        ValueError, match=r"unknown type \['email'\]; accepted: \['slack', 'teams'\]"
    ):
        handler.channels_from('[{"type": "email", "secret_name": "glueflow/x"}]')


@pytest.mark.parametrize(
    ("stored", "url"),
    [
        ("https://hooks.slack.com/services/T/B/x\n", "https://hooks.slack.com/services/T/B/x"),
        ('{"url": "https://example.org/hook"}', "https://example.org/hook"),
        ('{"webhook_url": "https://example.org/hook"}', "https://example.org/hook"),
        ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"),
    ],
)
def test_a_secret_holds_the_url_or_json_with_it(stored: str, url: str) -> None:
    assert delivery.webhook_url(stored, "glueflow/x") == url


@pytest.mark.parametrize(
    ("stored", "error"),
    [
        ("", "holds no webhook URL"),
        ('{"token": "x"}', "holds no webhook URL"),
        ("{not json", "is not valid JSON"),
        ("http://hooks.example.org/x", "webhook URLs must use https"),
        ("https://hooks.example.org/T/B/SECRET x", "holds a URL with whitespace in it"),
    ],
)
def test_a_secret_without_a_usable_url_is_a_clear_error(stored: str, error: str) -> None:
    with pytest.raises(delivery.ChannelConfigError, match=error):
        delivery.webhook_url(stored, "glueflow/x")


def test_secrets_are_read_again_after_their_ttl(aws: dict[str, Any]) -> None:
    aws["secrets"].create_secret(Name=SLACK_SECRET, SecretString="https://example.org/a")
    now = [0.0]
    cache = delivery.SecretCache(aws["secrets"], clock=lambda: now[0])
    assert cache.url(SLACK_SECRET) == "https://example.org/a"
    aws["secrets"].put_secret_value(SecretId=SLACK_SECRET, SecretString="https://example.org/b")
    assert cache.url(SLACK_SECRET) == "https://example.org/a"
    now[0] = delivery.SECRET_TTL_S + 1
    assert cache.url(SLACK_SECRET) == "https://example.org/b"


def test_an_oversized_alert_is_dead_lettered_as_valid_json(aws: dict[str, Any]) -> None:
    huge = {"Message": "x" * 300_000, "MessageId": "m-1", "Subject": "big"}
    handler.sqs_dead_letter(aws["queue"])({"reason": "refused", "sns": huge})
    (kept,) = dead_letters(aws)
    assert kept["truncated"] is True
    assert kept["reason"] == "refused"
    assert kept["sns"]["MessageId"] == "m-1"
    assert 0 < len(kept["sns"]["Message"]) < 300_000


def test_a_message_slack_would_refuse_as_empty_is_still_posted(
    notify: Callable[..., dict], webhooks: Webhooks
) -> None:
    budget = {"kind": "budget", "job": "orders", "cost_usd": "n/a", "dpu_hours": None}
    assert notify(sns_event(budget), channels=("slack",)) == {
        "delivered": 1,
        "dead_lettered": 0,
        "left_to_airflow": 0,
    }
    (posted,) = webhooks.received[SLACK_PATH]
    summary = posted["blocks"][1]["text"]["text"]
    assert summary == "orders: a run went over its budget"  # the title, not an empty text
    assert "*Cost*\n$n/a" in [f["text"] for f in posted["blocks"][2]["fields"]]


def _glue_failure(job: str, run_id: str) -> dict[str, Any]:
    """The event the Glue-failure rule sends ("Glue Job State Change", AWS Glue Developer
    Guide, "Automating AWS Glue with EventBridge": detail jobName, jobRunId, state)."""
    return {
        "version": "0", "id": "a1b2", "detail-type": "Glue Job State Change",
        "source": "aws.glue", "account": "111111111111", "time": "2026-11-24T05:00:00Z",
        "region": REGION, "resources": [],
        "detail": {"jobName": job, "severity": "ERROR", "state": "FAILED", "jobRunId": run_id,
                   "message": "AnalysisException: [PATH_NOT_FOUND]"},
    }  # fmt: skip


def _glue_run(arguments: dict[str, str]) -> tuple[str, str]:
    """A Glue run in moto, started with these arguments (GetJobRun returns them)."""
    glue = boto3.client("glue", region_name=REGION)
    job = "glueflow-dev-sales_ingest"
    glue.create_job(Name=job, Role="arn:aws:iam::111111111111:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://a/b.py"})  # fmt: skip
    return job, glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]


def test_a_glue_run_airflow_started_is_left_to_its_dag_runs_alert(
    notify: Callable[..., dict], webhooks: Webhooks
) -> None:
    """The DAG's Glue task passes --glueflow-airflow-run-id to every run: a failed attempt is
    retried by the task, and the DAG run alerts (with the tail) if it fails. No second alert."""
    job, run = _glue_run({"--glueflow-airflow-run-id": "s3__5f0c2a", "--glueflow-trigger": "{}"})

    result = notify(sns_event(_glue_failure(job, run), subject=None))

    assert result == {"delivered": 0, "dead_lettered": 0, "left_to_airflow": 1}
    assert webhooks.received == {}


def test_a_glue_run_started_outside_airflow_alerts(
    notify: Callable[..., dict], webhooks: Webhooks
) -> None:
    job, run = _glue_run({"--glueflow-inputs": "s3://raw/in/"})  # from the console, say

    result = notify(sns_event(_glue_failure(job, run), subject=None), channels=("slack",))

    assert result == {"delivered": 1, "dead_lettered": 0, "left_to_airflow": 0}
    (slack,) = webhooks.received[SLACK_PATH]
    assert slack["text"] == f":red_circle: Glue job {job} ended FAILED"


def test_a_glue_run_the_notifier_cannot_look_up_still_alerts(
    notify: Callable[..., dict], webhooks: Webhooks
) -> None:
    """GetJobRun fails (no such run here, or no permission): the alert goes out."""
    result = notify(sns_event(_glue_failure("glueflow-dev-gone", "jr_x"), subject=None),
                    channels=("slack",))  # fmt: skip

    assert result == {"delivered": 1, "dead_lettered": 0, "left_to_airflow": 0}

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


class TaskInstance:
    """The fields of an Airflow task instance that the callback reads (a stand-in for Airflow's
    RuntimeTaskInstance, which needs a running task)."""

    def __init__(self, task_id: str, run_id: str, glue_run: str | None = None) -> None:
        self.dag_id, self.task_id, self.run_id = "sales_ingest", task_id, run_id
        self.try_number, self.map_index = 1, -1
        self._glue_run = glue_run

    def xcom_pull(self, task_ids: str, key: str = "return_value"):
        return {"job_run_id": self._glue_run} if key == "glue_job_run_details" else None


JOB = {"glue": {"log_groups": {"error": GROUP, "output": GROUP.replace("/error", "/output")}}}
ENVIRONMENT = {"mwaa_environment": "glueflow-dev"}


def test_the_glue_tail_comes_from_the_driver_stream_glue_5_writes(logs) -> None:
    """Glue 5 writes `<run id>-driver` and `<run id>-<executor id>` streams in the error and
    output groups ("Logging for AWS Glue jobs", AWS Glue Developer Guide); the driver's has
    the traceback."""
    from glueflow_runtime.callbacks import collect_tail

    logs.create_log_group(logGroupName=JOB["glue"]["log_groups"]["output"])
    now = int(time.time() * 1000)
    traceback = ["Traceback (most recent call last):", "ValueError: bad row in orders.csv"]
    for stream, lines in {"jr_9-driver": traceback, "jr_9-1": ["executor noise"]}.items():
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(lines)],
        )

    tail, notes, run_id, _ = collect_tail(
        logs, TaskInstance("run_glue_job", "manual__x", "jr_9"), JOB, ENVIRONMENT
    )

    assert run_id == "jr_9"
    assert tail == traceback
    output = JOB["glue"]["log_groups"]["output"]
    assert notes == [f"no log stream 'jr_9-driver' in {output} (nor the others)"]


def test_the_airflow_task_tail_comes_from_the_stream_mwaa_names() -> None:
    """MWAA replaces ':' (which CloudWatch refuses in stream names) with '_' in Airflow's
    log file name (aws/amazon-mwaa-docker-images, images/airflow/3.3.1/python/mwaa/logging/
    cloudwatch_handlers.py), and Airflow's default template names the run and attempt."""
    from glueflow_runtime.callbacks import collect_tail, mwaa_task_stream

    run_id = "scheduled__2026-11-24T06:00:00+00:00"
    ti = TaskInstance("validation_gate", run_id)
    stream = (
        "dag_id=sales_ingest/run_id=scheduled__2026-11-24T06_00_00+00_00/"
        "task_id=validation_gate/attempt=1.log"
    )
    assert mwaa_task_stream(ti) == stream
    with mock_aws():
        client = boto3.client("logs", region_name="eu-west-1")
        group = "airflow-glueflow-dev-Task"
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName=stream)
        client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "gate said no"}],
        )
        tail, notes, _, _ = collect_tail(client, ti, JOB, ENVIRONMENT)
    assert tail == ["gate said no"]
    assert notes == []


def test_lines_logged_in_the_same_millisecond_keep_their_order(logs) -> None:
    """A traceback is printed at once, so its lines share a timestamp; CloudWatch returns
    events with equal timestamps in the order they were put ("GetLogEvents", Amazon
    CloudWatch Logs API reference: events are in order of their timestamps), and the tail
    must not reorder them (sorting by message did: "  File ..." lines came first)."""
    from glueflow_runtime.callbacks import collect_tail

    traceback = [
        "Traceback (most recent call last):",
        '  File "store_returns.py", line 38, in transform',
        "    return frame.withColumn(...)",
        "AnalysisException: [UNRESOLVED_COLUMN] `amount_usd` cannot be resolved",
    ]
    now = int(time.time() * 1000)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="jr_7-driver")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="jr_7-driver",
        logEvents=[{"timestamp": now, "message": line} for line in traceback],
    )

    tail, _, _, _ = collect_tail(logs, TaskInstance("run_glue_job", "manual__x", "jr_7"), JOB,
                                 ENVIRONMENT)  # fmt: skip

    assert tail == traceback


# A PySpark script's failure on Glue, as its driver's error stream ends: Python's traceback
# (the traceback module's format: "Traceback (most recent call last):", then per frame
# `  File "<path>", line N, in <name>` and its source line, then the exception), whose last
# line is the JVM's message, then the JVM's own stack, far more than 20 lines of it.
PYSPARK_FAILURE = [
    "Traceback (most recent call last):",
    '  File "/tmp/store_returns.py", line 61, in <module>',
    "    main()",
    '  File "/tmp/store_returns.py", line 57, in main',
    "    run_glue_job(body)",
    '  File "/tmp/glueflow_glue.zip/glueflow_glue/job.py", line 283, in run_glue_job',
    "    outcome = body(glue_context.spark_session, run)",
    '  File "/tmp/store_returns.py", line 52, in body',
    "    validated = validate(transform(read_input(spark, run)))",
    '  File "/tmp/store_returns.py", line 38, in transform',
    '    return frame.withColumn("usd", F.col("amount_usd") * 1)',
    '  File "/opt/amazon/spark/python/lib/pyspark.zip/pyspark/sql/dataframe.py", line 5170, '
    "in withColumn",
    "    return DataFrame(self._jdf.withColumn(colName, col._jc), self.sparkSession)",
    "pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] "
    "A column with name `amount_usd` cannot be resolved.",
    "JVM stacktrace:",
    *[f"\tat org.apache.spark.sql.catalyst.analysis.Frame{n}.<init>(Frame{n}.scala:{n})"
      for n in range(40)],
]  # fmt: skip


def test_a_failed_scripts_own_frames_come_first_and_the_jvm_tail_after(logs) -> None:
    """The tail alone is the JVM's stack (the issue's "all Scala frames"); the frames of the
    job's script (its file name, wherever Glue copied it), each with its source line, and the
    exception come first, in `script_frames`."""
    from glueflow_runtime.callbacks import build_message, collect_tail

    now = int(time.time() * 1000)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="jr_8-driver")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="jr_8-driver",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(PYSPARK_FAILURE)],
    )
    job = {**JOB, "script": "glue_scripts/jobs/store_returns.py"}

    tail, _, _, frames = collect_tail(
        logs, TaskInstance("run_glue_job", "manual__x", "jr_8"), job, ENVIRONMENT
    )

    assert all(line.startswith("\tat ") for line in tail)
    assert frames == [
        'File "/tmp/store_returns.py", line 61, in <module>',
        "    main()",
        'File "/tmp/store_returns.py", line 57, in main',
        "    run_glue_job(body)",
        'File "/tmp/store_returns.py", line 52, in body',
        "    validated = validate(transform(read_input(spark, run)))",
        'File "/tmp/store_returns.py", line 38, in transform',
        '    return frame.withColumn("usd", F.col("amount_usd") * 1)',
        PYSPARK_FAILURE[13],  # the exception, with the JVM's message
    ]
    context = {"ti": TaskInstance("run_glue_job", "manual__x", "jr_8")}
    environment = {"name": "dev", "region": "eu-west-1", **ENVIRONMENT}
    message = build_message(
        context, {**job, "dag_id": "store_returns", "glue_job_name": "g"}, environment, tail,
        [], "jr_8", None, frames,
    )  # fmt: skip
    assert message["script_frames"] == frames


def test_a_task_try_alerts_once_however_often_its_callback_runs() -> None:
    """The callback claims the alert with S3's conditional PutObject (If-None-Match: *), which
    answers 412 Precondition Failed when the key exists ("Add preconditions to S3 operations
    with conditional requests", Amazon S3 User Guide); a second callback for the same try sends
    nothing, and another try alerts again. moto's server answers conditional writes as S3
    documents them."""
    import logging
    from types import SimpleNamespace

    from glueflow_runtime.callbacks import first_alert
    from tests.moto_server import MotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = MotoServer()
    endpoint = server.start()
    try:
        s3 = boto3.client(
            "s3", region_name="eu-west-1", endpoint_url=endpoint,
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 - moto's
        )  # fmt: skip
        bucket = "alerts-test-artifacts"
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        environment = {"artifacts_bucket": bucket}

        def context(try_number: int) -> dict:
            ti = SimpleNamespace(dag_id="sales_ingest", run_id="s3__abc", task_id="run_glue_job",
                                 map_index=-1, try_number=try_number)  # fmt: skip
            return {"ti": ti}

        assert first_alert(s3, environment, context(1)) is True
        assert first_alert(s3, environment, context(1)) is False  # the same try, again
        assert first_alert(s3, environment, context(2)) is True  # the retry's own failure
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == [
            "alerts/sales_ingest/s3__abc/run_glue_job/-1/1",
            "alerts/sales_ingest/s3__abc/run_glue_job/-1/2",
        ]
        # An S3 that cannot be reached does not stop the alert.
        assert first_alert(s3, {"artifacts_bucket": "no-such-bucket-here"}, context(1)) is True
    finally:
        server.stop()
        # moto's backends are the process's: leave no bucket behind for another module.
        from moto.backends import get_backend

        get_backend("s3").reset()

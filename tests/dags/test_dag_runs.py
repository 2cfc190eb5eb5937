"""Factory DAGs run end to end with dag.test(), every AWS call answered by a moto server.

The Glue operator and the Redshift step are deferrable: their triggers poll with aiobotocore,
which moto's in-process mock cannot patch, so moto runs as a real server on loopback and both
clients reach it through AWS_ENDPOINT_URL. Glue here is moto's: a run succeeds at once. What
the job's script would write (its validation report) and a failing run are set up on moto's
Glue backend, which is the fake AWS, not the code under test.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
from airflow.models.dagrun import DagRun
from moto.backends import get_backend

from glueflow_local.cloud import CATALOG_TYPES, create_catalog
from glueflow_runtime.validation_report import (
    PartitionWritten,
    TableWritten,
    ValidationReport,
    report_location,
)
from tests.dags.conftest import dag_folder
from tests.moto_server import MotoServer

# Slow, not in `make test-fast`: runs DAGs with Airflow's dag.test() against a moto server.
pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"  # moto's account
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    # Port 0: the server binds whatever port is free and reports it (its server_address), so
    # no other process can take the port between choosing and binding it.
    server = MotoServer()
    endpoint = server.start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    # The account the example environment names, so the manifest's ARNs exist in moto.
    os.environ["MOTO_ACCOUNT_ID"] = "111111111111"
    yield endpoint
    server.stop()
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


class FakeGlueScripts:
    """What each job's script does when moto's Glue starts a run: write a validation report
    with the given counts, or end the run FAILED with lines in its error log, as Glue 5 writes
    them: the driver's stream `<run id>-driver` in the job's error log group ("Logging for
    AWS Glue jobs", AWS Glue Developer Guide)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.started: list[tuple[str, str, dict[str, str]]] = []
        self.statements: list[str] = []

    def start_job_run(self, original, backend, *args: Any, **kwargs: Any) -> str:
        run_id = original(backend, *args, **kwargs)
        name = kwargs.get("name", args[0] if args else None)
        arguments = kwargs.get("arguments", args[1] if len(args) > 1 else None)
        self.started.append((name, run_id, dict(arguments or {})))
        job = next(j for j in self.manifest["jobs"].values() if j["glue_job_name"] == name)
        run = next(r for r in backend.get_job(name).job_runs if r.job_run_id == run_id)
        # As Glue does, the run takes its capacity from the job definition.
        run.worker_type = job["glue"]["worker_type"]
        run.number_of_workers = job["glue"]["workers"]
        outcome = self.outcomes.get(job["dag_id"], {"read": 100, "invalid": 0})
        if outcome.get("fail"):
            run.status = "FAILED"
            now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
            group = job["glue"]["log_groups"]["error"]
            logs = boto3.client("logs", region_name=REGION)
            logs.create_log_stream(logGroupName=group, logStreamName=f"{run_id}-driver")
            logs.put_log_events(
                logGroupName=group,
                logStreamName=f"{run_id}-driver",
                logEvents=[
                    {"timestamp": now + i, "message": line}
                    for i, line in enumerate(outcome["error_log"])
                ],
            )
        elif job["report_prefix"]:
            # The report the Glue entry point writes: its counts, and one partition per
            # output table written under the run's own folder (glueflow_glue.tables).
            bucket, key = report_location(job["report_prefix"], run_id)
            report = ValidationReport(
                job["dag_id"], run_id, outcome["read"], outcome["invalid"],
                tables=[self._written(out, run_id, outcome) for out in job["outputs"]],
            )  # fmt: skip
            boto3.client("s3", region_name=REGION).put_object(
                Bucket=bucket, Key=key, Body=report.to_json().encode()
            )
        return run_id

    @staticmethod
    def _written(out: dict[str, Any], run_id: str, outcome: dict[str, Any]) -> TableWritten:
        columns = [*out["partitioned_by"]]
        values = ["2026-11-24"] * len(columns)  # every example's partitions are days
        if out["replace"] == "source_object":
            columns, values = [*columns, "source_id"], [*values, "fake-source"]
        path = "".join(f"{c}={v}/" for c, v in zip(columns, values, strict=True))
        return TableWritten(
            table=out["table"],
            location=f"{out['uri']}runs/{run_id}/",
            partition_columns=columns,
            replace=out["replace"],
            partitions=[PartitionWritten(values, path, outcome["read"] - outcome["invalid"])],
            source={"uri": "s3://raw/x.csv", "version_id": f"v-{run_id}", "id": "fake-source"},
        )


@pytest.fixture
def aws(moto_endpoint: str, dev_manifest: dict, dev, monkeypatch: pytest.MonkeyPatch):
    """Buckets, Glue jobs and the catalog's tables as the platform stacks create them, and the
    fake scripts."""
    from moto.glue.models import GlueBackend

    s3 = boto3.client("s3", region_name=REGION)
    env = dev_manifest["environment"]
    for bucket in [*env["buckets"].values(), env["artifacts_bucket"]]:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    glue = boto3.client("glue", region_name=REGION)
    create_catalog(
        glue,
        [(kind, props) for kind in CATALOG_TYPES for _, _, props in dev.assembly.resources(kind)],
    )
    logs = boto3.client("logs", region_name=REGION)
    for job in dev_manifest["jobs"].values():
        glue.create_job(
            Name=job["glue_job_name"],
            Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"},
            ExecutionProperty={"MaxConcurrentRuns": 5},
        )
        for group in job["glue"]["log_groups"].values():
            logs.create_log_group(logGroupName=group)
    scripts = FakeGlueScripts(dev_manifest)
    original = GlueBackend.start_job_run
    monkeypatch.setattr(
        GlueBackend,
        "start_job_run",
        lambda backend, *a, **kw: scripts.start_job_run(original, backend, *a, **kw),
    )
    # moto's Redshift Data API never finishes a statement; the fake warehouse runs each at once.
    from moto.redshiftdata.models import RedshiftDataAPIServiceBackend

    execute = RedshiftDataAPIServiceBackend.execute_statement

    def execute_at_once(backend, *args: Any, **kwargs: Any):
        statement = execute(backend, *args, **kwargs)
        statement.status = "FINISHED"
        scripts.statements.append(statement.query_string)
        return statement

    monkeypatch.setattr(RedshiftDataAPIServiceBackend, "execute_statement", execute_at_once)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="glueflow-dev-alerts")["TopicArn"]
    assert topic == env["alert_topic_arn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    scripts.alerts_queue = queue
    yield scripts
    # A fresh account state for the next test.
    for service in (
        "s3",
        "glue",
        "redshift-data",
        "sns",
        "sqs",
        "cloudwatch",
        "logs",
        "stepfunctions",
    ):
        get_backend(service).reset()


@pytest.fixture
def deploy(airflow_db, dev_dag_folder: Path, tmp_path: Path) -> Callable[[dict], DagBag]:
    """Deploys a manifest to this test's empty database: the shipped DAG folder with that
    manifest, parsed and registered like the DAG processor does (DAGs, assets), without
    Airflow retries so a failure ends the run at once."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    def deploy_(manifest: dict) -> DagBag:
        quick = copy.deepcopy(manifest)
        for job in quick["jobs"].values():
            job["airflow"]["retries"] = 0
            job["glue"]["max_retries"] = 0  # the Glue task's own retries
        folder = dag_folder(tmp_path / "dags", quick, dev_dag_folder)
        dagbag = DagBag(dag_folder=str(folder))
        assert dagbag.import_errors == {}
        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(dagbag, "dags-folder", None)
        return dagbag

    return deploy_


def visible(manifest: dict, table: str) -> list[list[str]]:
    """The partitions a reader of the table sees (glue:GetPartitions)."""
    glue = boto3.client("glue", region_name=REGION)
    database = manifest["environment"]["catalog_database"]
    found = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return sorted(p["Values"] for p in found)


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def with_steps(manifest: dict) -> dict:
    """The dev manifest with a Redshift step after sales_ingest's validation gate."""
    changed = copy.deepcopy(manifest)
    changed["jobs"]["sales_ingest"]["downstream"] = [
        {
            "type": "redshift_sql",
            "name": "load_orders",
            "after": [],
            "sql": "CALL mart.load_orders();",
            "database": "sales",
            "workgroup": "analytics",
            "cluster_identifier": None,
            "secret_arn": None,
        },
        {
            "type": "trigger_job",
            "name": "start_aggregate",
            "after": ["load_orders"],
            "job": "sales_daily_aggregate",
            "conf": {"reason": "fresh orders"},
        },
    ]
    return changed


S3_EVENT_CONF = {
    "bucket": "glueflow-dev-raw-111111111111",
    "key": "sales/incoming/2026-11-24.csv",
    "size": 1024,
    "version_id": "3HL4kqtJvjVBH40Nrjfkd",
    "etag": "abc",
    "sequencer": "0065",
    "event_time": "2026-11-24T06:00:00Z",
}


def alerts_received(aws: Any) -> list[dict[str, Any]]:
    """The messages published to the alert topic, read through its SQS subscription."""
    answer = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=aws.alerts_queue, MaxNumberOfMessages=10
    )
    return [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]


def test_valid_run_continues_to_the_downstream_steps(deploy, aws, dev_manifest) -> None:
    """A Glue run within the invalid-record threshold passes the gate and runs the Redshift
    step and the trigger of the next job, which gets the run's provenance in its conf."""
    manifest = with_steps(dev_manifest)
    aws.manifest = manifest
    aws.outcomes["sales_ingest"] = {"read": 200, "invalid": 4}  # 2% <= 5%

    dag_run = deploy(manifest).dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)

    assert str(dag_run.state) == "success"
    assert states(dag_run) == {
        "run_glue_job": "success",
        "validation_gate": "success",
        "publish": "success",
        "load_orders": "success",
        "start_aggregate": "success",
        "record_cost": "success",
    }
    # Published before the steps: the run's partition is the table's.
    assert visible(dev_manifest, "sales_orders") == [["2026-11-24", "fake-source"]]
    ((name, _, arguments),) = aws.started
    assert name == "glueflow-dev-sales_ingest"
    assert '"key": "sales/incoming/2026-11-24.csv"' in arguments["--glueflow-trigger"]
    assert arguments["--source-format"] == "csv"
    assert aws.statements == ["CALL mart.load_orders();"]
    triggered = DagRun.find(dag_id="sales_daily_aggregate")
    assert [r.conf for r in triggered] == [
        {
            "reason": "fresh orders",
            "triggered_by": {"dag_id": "sales_ingest", "run_id": dag_run.run_id},
        }
    ]


def test_too_many_invalid_records_stop_the_pipeline(
    deploy, aws, dev_manifest, caplog: pytest.LogCaptureFixture
) -> None:
    """Over the threshold the gate fails the run before the warehouse is touched, and the
    failed task's callback alerts with the gate's message."""
    manifest = with_steps(dev_manifest)
    aws.manifest = manifest
    aws.outcomes["sales_ingest"] = {"read": 200, "invalid": 24}  # 12% > 5%

    dag_run = deploy(manifest).dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)

    assert str(dag_run.state) == "failed"
    assert states(dag_run) == {
        "run_glue_job": "success",
        "validation_gate": "failed",  # one try: AirflowFailException does not retry
        "publish": "upstream_failed",
        "load_orders": "upstream_failed",
        "start_aggregate": "upstream_failed",
        "record_cost": "success",
    }
    assert aws.statements == []  # the warehouse was never touched
    assert visible(dev_manifest, "sales_orders") == []  # nothing of the run was published
    message = "24 of 200 records invalid (ratio 0.1200, threshold 0.0500)"
    # The failed task's callback sent one alert to the topic, with the gate's message.
    (alert,) = alerts_received(aws)
    assert (alert["kind"], alert["job"], alert["task_id"]) == (
        "task_failed", "sales_ingest", "validation_gate"
    )  # fmt: skip
    assert message in alert["error"]
    assert alert["run_id"] == dag_run.run_id
    assert alert["notes"]  # no Airflow task log in moto: said, not silently empty
    assert any(
        message in record.getMessage()
        and "validation failed for sales_ingest" in record.getMessage()
        for record in caplog.records
    )


def test_a_failed_glue_run_fails_the_dag_run(
    deploy, aws, dev_manifest, failures_as_on_mwaa
) -> None:
    """A FAILED Glue run fails the DAG run, is still priced, and alerts with Glue's error log."""
    error_log = [
        "Traceback (most recent call last):",
        '  File "/tmp/sales_ingest.py", line 42, in <module>',
        "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] s3://x/in",
    ]
    aws.outcomes["sales_ingest"] = {"fail": True, "error_log": error_log}

    dag_run = deploy(dev_manifest).dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)

    assert str(dag_run.state) == "failed"
    result = states(dag_run)
    assert result["run_glue_job"] == "failed"
    assert result["record_cost"] == "success"  # a failed run is priced too, and still fails
    priced = dag_run.get_task_instance("record_cost").xcom_pull(task_ids="record_cost")
    assert (priced["state"], priced["run_id"]) == ("FAILED", aws.started[0][1])
    assert result["validation_gate"] in ("upstream_failed", "None")
    # The Glue task's callback sent one alert to the topic, with the run's error log.
    (alert,) = alerts_received(aws)
    ((_, glue_run, _),) = aws.started
    assert (alert["kind"], alert["job"], alert["task_id"]) == (
        "task_failed", "sales_ingest", "run_glue_job"
    )  # fmt: skip
    assert (alert["run_id"], alert["glue_run_id"]) == (dag_run.run_id, glue_run)
    # Glue's account of the run, not the task's "Trigger failure"
    assert alert["error"] == f"Glue run {glue_run} of glueflow-dev-sales_ingest ended FAILED"
    assert alert["log_tail"] == error_log
    output_group = dev_manifest["jobs"]["sales_ingest"]["glue"]["log_groups"]["output"]
    assert alert["notes"] == [
        f"no log stream {glue_run + '-driver'!r} in {output_group} (nor the others)"
    ]
    assert alert["links"]["glue_run"].endswith(f"/run/{glue_run}")


def test_a_failure_callback_run_again_for_the_same_try_sends_no_second_alert(
    deploy, aws, dev_manifest, failures_as_on_mwaa, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow may run a task's failure callback a second time, from the scheduler through
    the DAG processor, when the executor's report of the finished process arrives before the
    task's own state ("state mismatch", airflow/jobs/scheduler_job_runner.py). The shipped
    callback, run again for the same try, finds its alert claimed and sends nothing."""
    aws.outcomes["sales_ingest"] = {"fail": True, "error_log": ["boom"]}
    dags = deploy(dev_manifest).dags
    dag_run = dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)
    assert str(dag_run.state) == "failed"
    (ti,) = [t for t in dag_run.get_task_instances() if t.task_id == "run_glue_job"]
    callbacks = sys.modules["glueflow_runtime.callbacks"]  # the shipped copy the DAG runs
    with caplog.at_level(logging.INFO, logger="glueflow.failures"):
        callbacks.on_task_failure(
            {"ti": ti, "dag": dags["sales_ingest"], "dag_run": dag_run,
             "exception": RuntimeError("the same failure, reported again")}
        )  # fmt: skip
    (alert,) = alerts_received(aws)
    assert alert["task_id"] == "run_glue_job"
    assert any("was sent already (412)" in r.getMessage() for r in caplog.records)


def test_an_alert_whose_log_tail_is_late_is_sent_without_it(
    deploy, aws, dev_manifest, failures_as_on_mwaa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the tail took longer than the alert waits for it (the budget set to 0 s here,
    so any read is late): the alert still goes out, without the tail, saying why."""
    aws.outcomes["sales_ingest"] = {"fail": True, "error_log": ["Traceback ...", "boom"]}
    dags = deploy(dev_manifest).dags
    callbacks = sys.modules["glueflow_runtime.callbacks"]  # the shipped copy the DAG runs
    monkeypatch.setattr(callbacks, "TOTAL_BUDGET_S", 0)

    dag_run = dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)

    assert str(dag_run.state) == "failed"
    (alert,) = alerts_received(aws)
    assert alert["task_id"] == "run_glue_job"
    assert alert["log_tail"] == []
    assert any(
        note.startswith("log tail left out: reading it took ")
        and note.endswith("more than the 0 s an alert waits for it")
        for note in alert["notes"]
    ), alert["notes"]


class StepsLocal:
    """What the step types' stand-ins use of a local run (glueflow_local.cloud.LocalCloud),
    for a DAG run in this process: moto's server, and connections as Airflow reads them from
    the environment (AIRFLOW_CONN_<ID>, JSON)."""

    region, account = REGION, "111111111111"

    def __init__(self, endpoint: str, monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
        self.endpoint, self.monkeypatch, self.workdir = endpoint, monkeypatch, workdir
        self.process_env: dict[str, str] = {}
        self.stops: list[Callable[[], None]] = []

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint)

    def put_connection(self, conn_id: str, value: dict[str, Any]) -> None:
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))

    def on_stop(self, stop: Callable[[], None]) -> None:
        self.stops.append(stop)


def test_a_dependent_job_is_queued_on_its_upstream_asset(
    deploy, aws, dev_manifest, moto_endpoint, monkeypatch, tmp_path
) -> None:
    """The upstream's last step updates its asset and the dependent DAG is queued on it.

    Airflow queues only dependent DAGs that are not paused (airflow/assets/manager.py,
    `AssetManager.register_asset_change`): under MWAA's dags_are_paused_at_creation = True
    that takes the DAG's own is_paused_upon_creation=False. The aggregate's steps other than
    Redshift (which the fake warehouse runs) are answered by their types' stand-ins."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent
    from airflow.utils.session import create_session
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from configs.steps import step_type

    # the step_functions stand-in patches moto's start_execution: undone after the test
    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution",
                        StepFunctionsParserBackend.start_execution)  # fmt: skip
    local = StepsLocal(moto_endpoint, monkeypatch, tmp_path)
    steps = dev_manifest["jobs"]["sales_daily_aggregate"]["downstream"]
    for kind in sorted({s["type"] for s in steps} - {"redshift_sql"}):
        step_type(kind).standin(local, [s for s in steps if s["type"] == kind])

    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(  # what the input sensor of the scheduled aggregate waits for
        Bucket="glueflow-dev-curated-111111111111", Key="sales/orders/part-0.parquet", Body=b"x"
    )
    dagbag = deploy(dev_manifest)

    dag_run = dagbag.dags["sales_daily_aggregate"].test()

    assert str(dag_run.state) == "success"
    assert states(dag_run)["wait_for_input"] == "success"
    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_run_id=dag_run.run_id).all()
        assert [e.asset.uri for e in events] == ["glueflow://dev/sales_daily_aggregate"]
        queued = session.query(AssetDagRunQueue).filter_by(asset_id=events[0].asset_id).all()
        assert [q.target_dag_id for q in queued] == ["customer_ltv"]
    assert set(states(dag_run)) >= {"announce_daily_sales", "start_finance_close", "steps_done"}
    for stop in local.stops:
        stop()
    post = urllib.request.Request(  # noqa: S310 - the local moto server
        f"{moto_endpoint}/moto-api/config", method="POST",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(post, timeout=30).close()  # noqa: S310


def test_every_run_is_priced_and_a_run_over_budget_alerts(deploy, aws, dev_manifest) -> None:
    """Every run publishes its cost metrics; one over its budget alerts and still succeeds."""
    manifest = copy.deepcopy(dev_manifest)
    manifest["jobs"]["sales_ingest"]["cost_budget_usd"] = 0.0001  # any run is over it
    aws.manifest = manifest

    dag_run = deploy(manifest).dags["sales_ingest"].test(run_conf=S3_EVENT_CONF)

    assert str(dag_run.state) == "success"  # over budget alerts, it does not fail the run
    priced = dag_run.get_task_instance("record_cost").xcom_pull(task_ids="record_cost")
    assert priced["job"] == "sales_ingest"
    # moto reports 123 s; 4 G.1X workers (1 DPU each) at the standard $0.44 per DPU-hour.
    assert priced["dpu_hours"] == round(4 * 1 * 123 / 3600, 6)
    assert priced["cost_usd"] == round(4 * 1 * 123 / 3600 * 0.44, 6)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    published = {
        (m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"])))
        for m in cloudwatch.list_metrics(Namespace="Glueflow")["Metrics"]
    }
    per_job, per_environment = ("Environment", "Job"), ("Environment",)
    assert published == {
        ("DPUHours", per_job),
        ("CostUSD", per_job),
        ("DurationSeconds", per_job),
        ("FailedRuns", per_job),
        ("DPUHours", per_environment),
        ("CostUSD", per_environment),
        ("FailedRuns", per_environment),
    }
    (alert,) = alerts_received(aws)
    assert alert["kind"] == "budget"
    assert "over its budget of $0.00" in alert["message"]

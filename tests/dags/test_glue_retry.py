"""A failed Glue run retried by Airflow, on real Airflow processes: the output is written once.

The Glue task alone retries a failed run. The Glue job's `MaxRetries` is 0 and the task's
`retries` are the job's `glue.max_retries` (dag_builder.build_dag), because:

- The deferrable GlueJobOperator starts one run and follows that run only: `execute` calls
  StartJobRun and defers on a GlueJobCompleteTrigger for that run id, and `execute_complete`
  fails the task unless that run succeeded (apache-airflow-providers-amazon 9.12.0,
  airflow/providers/amazon/aws/operators/glue.py).
- A Glue-level retry is a new run, with its own id, `Attempt` > 0 and `PreviousRunId` the
  failed run's ("Job runs", AWS Glue API reference, `JobRun`): a run the operator never sees,
  which would process the same input again beside the Airflow retry.
- An Airflow retry re-runs the whole task: a failed try with tries left goes to
  `up_for_retry`, and after `retry_delay` the scheduler runs it again with the next
  `try_number` (Airflow's task retries: "Tasks", Airflow documentation, and
  airflow/models/taskinstance.py, `TaskInstance.handle_failure`, `is_eligible_to_retry`).
  Here that next try calls StartJobRun once more and follows the new run.

So for sales_ingest (configs/jobs/sales_ingest.yaml, `glue.max_retries: 1`): the first run
ends FAILED, the task retries once, its second run succeeds and writes its output (the
validation report), and the DAG run succeeds, with 2 StartJobRun calls and 1 report.

Airflow 3.0.6 did not do that: its retry of a task whose trigger failed resumed at the stale
`next_method` "__fail__" and failed again without calling `execute` (the execution API's
`ti_update_state` -> `TaskInstance.prepare_db_for_next_try` cleared neither `next_method` nor
`next_kwargs`; apache/airflow#56704, fixed by apache/airflow#56731), so no second run started,
and Glueflow carried a workaround operator for it. On Airflow 3.3.1 the provider's plain
GlueJobOperator retries as above, and this test is what shows it.

Why real processes: dag.test() increments `try_number` when a deferred task resumes
(airflow/sdk/definitions/dag.py, `DAG.test`), which the scheduler does not, so under dag.test()
the resumed failure has no retry left. Here Airflow runs as in
tests/lambda_trigger/test_api_server.py (`airflow api-server`, `scheduler`, `dag-processor`, on
MWAA's configuration), plus `airflow triggerer`, which follows the deferred Glue task's run.
AWS is moto's server, in a thread of this process (tests/dags/test_dag_runs.py: `moto_endpoint`,
`aws`): the Airflow processes reach it through AWS_ENDPOINT_URL, and the fake Glue scripts
patched on its backend here decide each run's outcome.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from glueflow_local.airflow import serialized, start_deployment
from glueflow_runtime.ids import COST_TASK, GATE_TASK, GLUE_TASK, PUBLISH_TASK
from glueflow_runtime.validation_report import report_location
from tests.dags import test_dag_runs
from tests.dags.conftest import dag_folder
from tests.lambda_trigger.test_api_server import (
    Airflow,
    _airflow_env,
    _get,
    _post,
)

# Slow, not in `make test-fast`: starts Airflow's scheduler, DAG processor and API server.
pytestmark = pytest.mark.slow

# The moto server and the AWS resources the dev manifest names, with fake Glue scripts.
moto_endpoint = test_dag_runs.moto_endpoint
aws = test_dag_runs.aws

JOB = "sales_ingest"
REGION = test_dag_runs.REGION
STARTUP_S = 120  # bound on starting the four processes on a busy 2-core machine
RUN_S = 150  # bound on the DAG run: two tries of the Glue task, the gate and the pricing
RETRY_DELAY_MINUTES = 0.05  # 3 s between the failed try and the retry
RUN_ID = "glue-retry-1"
FAILED_RUN = {
    "fail": True,
    "error_log": ["pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND]"],
}
SUCCEEDED_RUN = {"read": 200, "invalid": 0}


def one_job_manifest(dev_manifest: dict) -> dict:
    """The dev manifest with sales_ingest alone (no scheduled or asset-triggered DAG runs
    beside it), without its Redshift step (the retry is the point here) and a retry delay of
    seconds; its Glue settings as shipped."""
    manifest = copy.deepcopy(dev_manifest)
    manifest["jobs"] = {JOB: manifest["jobs"][JOB]}
    job = manifest["jobs"][JOB]
    assert job["glue"]["max_retries"] == 1  # configs/jobs/sales_ingest.yaml
    job["downstream"] = []
    job["airflow"]["retry_delay_minutes"] = RETRY_DELAY_MINUTES
    return manifest


@pytest.fixture(scope="module")
def retry_home(
    tmp_path_factory: pytest.TempPathFactory, dev_dag_folder: Path, dev_manifest: dict
) -> Path:
    """An Airflow home as MWAA's migrate-db step leaves it, with the shipped DAG folder and
    the one-job manifest (as test_api_server's `migrated_home`)."""
    home = tmp_path_factory.mktemp("airflow-retry")
    dag_folder(home / "dags", one_job_manifest(dev_manifest), dev_dag_folder)
    serialized(home, _airflow_env(home))
    return home


@pytest.fixture
def airflow(retry_home: Path, tmp_path: Path, moto_endpoint: str, aws: Any) -> Iterator[Airflow]:
    """API server, scheduler, DAG processor and triggerer on a copy of the home, their AWS
    calls going to moto. Stopped (process groups, SIGTERM then SIGKILL) before moto's state
    is reset, whatever the test did."""
    home = tmp_path / "airflow"
    shutil.copytree(retry_home, home)
    deployment = start_deployment(home, {"AWS_ENDPOINT_URL": moto_endpoint}, STARTUP_S,
                                  parsed=[JOB])  # fmt: skip
    try:
        yield deployment
    finally:
        deployment.stop()


def _finished(url: str) -> Callable[[], dict | None]:
    def check() -> dict | None:
        run = _get(url)
        return run if run["state"] in ("success", "failed") else None

    return check


def test_a_failed_glue_run_is_retried_once_and_its_output_written_once(
    airflow: Airflow, aws: Any, dev_manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 ends FAILED, the Airflow task retries, run 2 succeeds and writes the report: the
    DAG run succeeds with 2 StartJobRun calls and 1 report."""
    from moto.glue.models import GlueBackend

    job = dev_manifest["jobs"][JOB]
    planned = [FAILED_RUN, SUCCEEDED_RUN]  # the outcome of each StartJobRun, in order
    scripted = GlueBackend.start_job_run  # aws's fake scripts

    def start_job_run(backend: Any, *args: Any, **kwargs: Any) -> str:
        # Past the plan, a run fails: a third run must not write a report either.
        tried = len(aws.started)
        aws.outcomes[JOB] = planned[tried] if tried < len(planned) else FAILED_RUN
        return scripted(backend, *args, **kwargs)

    monkeypatch.setattr(GlueBackend, "start_job_run", start_job_run)
    run_url = f"{airflow.base}/dags/{JOB}/dagRuns/{RUN_ID}"
    _post(
        f"{airflow.base}/dags/{JOB}/dagRuns",
        {"dag_run_id": RUN_ID, "logical_date": None, "conf": test_dag_runs.S3_EVENT_CONF},
    )
    run = airflow.wait_for(f"run {RUN_ID} of {JOB} finishing", _finished(run_url), RUN_S)

    tries = {
        ti["task_id"]: (ti["state"], ti["try_number"])
        for ti in _get(f"{run_url}/taskInstances")["task_instances"]
    }
    bucket, _, prefix = job["validation"]["report_prefix"].removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    reports = [o["Key"] for o in listed]
    outcome = {"dag_run": run["state"], "start_job_runs": len(aws.started), "reports": len(reports)}
    assert outcome == {"dag_run": "success", "start_job_runs": 2, "reports": 1}, (
        f"tasks (state, try): {tries}\n{airflow.logs()}"
    )

    assert tries == {
        GLUE_TASK: ("success", 2),  # one retry, and it succeeded
        GATE_TASK: ("success", 1),
        PUBLISH_TASK: ("success", 1),
        COST_TASK: ("success", 1),
    }
    (first, first_run, first_args), (second, second_run, second_args) = aws.started
    # Published once, from the second run's folder: the failed run's never was.
    database = dev_manifest["environment"]["catalog_database"]
    glue = boto3.client("glue", region_name=REGION)
    (partition,) = glue.get_partitions(DatabaseName=database, TableName="sales_orders")[
        "Partitions"
    ]
    assert f"/runs/{second_run}/" in partition["StorageDescriptor"]["Location"]
    assert first == second == job["glue_job_name"]
    assert first_run != second_run
    assert first_args == second_args  # the same input object, retried
    glue = boto3.client("glue", region_name=REGION)
    runs = [
        glue.get_job_run(JobName=first, RunId=run_id)["JobRun"]
        for run_id in (first_run, second_run)
    ]
    assert [r["JobRunState"] for r in runs] == ["FAILED", "SUCCEEDED"]
    assert "PreviousRunId" not in runs[1]  # a run the task started, not a Glue retry of run 1
    # The one report is the second run's: the output the failed run never wrote.
    assert reports == [report_location(job["validation"]["report_prefix"], second_run)[1]]
    # The Glue task returned the second run (the gate reads that run's report), and the run
    # priced after the retry is the second one.
    xcom = f"{run_url}/taskInstances/{{}}/xcomEntries/return_value"
    assert _get(xcom.format(GLUE_TASK))["value"] == second_run
    priced = _get(xcom.format(COST_TASK))["value"]
    assert priced["run_id"] == second_run
    # Both attempts are billed ("AWS Glue pricing": per run, 1-minute minimum), so both are
    # priced, the failed one included, and the DAG run's cost is their sum.
    attempts = priced["attempts"]
    assert [(a["run_id"], a["state"]) for a in attempts] == [
        (first_run, "FAILED"), (second_run, "SUCCEEDED")
    ]  # fmt: skip
    assert all(a["cost_usd"] > 0 for a in attempts)
    assert priced["cost_usd"] == round(sum(a["cost_usd"] for a in attempts), 6)

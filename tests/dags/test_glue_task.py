"""The Glue task of every DAG: it waits as long as a run may last, and it alone retries.

- The deferrable GlueJobOperator follows its run for `waiter_delay` x `waiter_max_attempts`,
  60 s x 75 = 75 minutes by default in apache-airflow-providers-amazon 9.12.0
  (airflow/providers/amazon/aws/operators/glue.py, `GlueJobOperator.__init__`).
- A Glue job run may last its `Timeout`, at most 2,880 minutes ("Jobs", AWS Glue API:
  "Timeout ... The default is 2,880 minutes (48 hours)"), and may first wait for capacity: a
  Flex run up to 20 minutes in WAITING ("AWS Glue job run statuses").
- A Glue-level retry is a new run with a new id (`Attempt`, `PreviousRunId`, "Job runs", AWS
  Glue API) that the operator, which follows only the run it started, never sees.
"""

from __future__ import annotations

import copy

import pytest
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

from glueflow_runtime.dag_builder import build_dag
from glueflow_runtime.ids import GLUE_TASK
from tests.synth import Synthesized

GLUE_MAX_TIMEOUT_MINUTES = 2_880
FLEX_WAITING_MINUTES = 20


def glue_task(job: dict, environment: dict) -> GlueJobOperator:
    return build_dag(job, environment).get_task(GLUE_TASK)


def test_the_provider_default_would_give_up_after_75_minutes() -> None:
    default = GlueJobOperator(task_id="t", job_name="j", deferrable=True)
    assert default.waiter_delay * default.waiter_max_attempts == 75 * 60


@pytest.mark.parametrize("timeout", [30, 90, GLUE_MAX_TIMEOUT_MINUTES])
@pytest.mark.parametrize("execution_class", ["STANDARD", "FLEX"])
def test_the_wait_covers_the_longest_run_plus_a_flex_start(
    dev_manifest: dict, timeout: int, execution_class: str
) -> None:
    job = copy.deepcopy(dev_manifest["jobs"]["sales_ingest"])
    job["glue"]["timeout_minutes"] = timeout
    job["glue"]["execution_class"] = execution_class

    task = glue_task(job, dev_manifest["environment"])

    assert task.deferrable
    waited_s = task.waiter_delay * task.waiter_max_attempts
    assert waited_s >= (timeout + FLEX_WAITING_MINUTES) * 60


def test_a_90_minute_job_is_still_followed_after_75_minutes(dev_manifest: dict) -> None:
    job = copy.deepcopy(dev_manifest["jobs"]["customer_ltv"])
    assert job["glue"]["timeout_minutes"] == 90  # configs/jobs/customer_ltv.yaml
    task = glue_task(job, dev_manifest["environment"])
    assert task.waiter_delay * task.waiter_max_attempts > 90 * 60


def test_glue_never_retries_a_run_itself(dev: Synthesized, prod: Synthesized) -> None:
    for synth in (dev, prod):
        jobs = synth.assembly.glue_jobs()
        assert jobs
        assert {name: props.get("MaxRetries", 0) for name, props in jobs.items()} == dict.fromkeys(
            jobs, 0
        )


def test_the_glue_task_retries_as_often_as_the_job_says(dev_manifest: dict) -> None:
    environment = dev_manifest["environment"]
    # configs/jobs/sales_ingest.yaml and agency_spend_ingest.yaml: glue.max_retries 1; the
    # others keep the default 0.
    retries = {
        name: glue_task(job, environment).retries for name, job in dev_manifest["jobs"].items()
    }
    assert retries == {
        "agency_spend_ingest": 1,
        "customer_ltv": 0,
        "marketing_events_ingest": 0,
        "sales_daily_aggregate": 0,
        "sales_daily_eur": 0,
        "sales_ingest": 1,
    }

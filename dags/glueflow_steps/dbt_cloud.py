"""`dbt_cloud`: run a dbt Cloud job and wait for the run; a run that ends in error, is
cancelled or outlasts the step's `timeout_minutes` fails the step, and the failure names the
run's URL.

The operator is the dbt Cloud provider's DbtCloudRunJobOperator
(airflow/providers/dbt/cloud/operators/dbt.py, apache-airflow-providers-dbt-cloud 4.9.3, which
MWAA's image lacks: `packages`), deferrable:
- It triggers the job (POST /api/v2/accounts/{account}/jobs/{job}/run/, its `cause` naming
  the Glueflow job, the step and the Airflow run, with the step's `steps_override`), records
  the run's URL in XCom `job_run_url`, reads the run's status once, and defers to
  DbtCloudRunJobTrigger, which reads it every `POLL_S` seconds (60 on MWAA; GET
  /api/v2/accounts/{account}/runs/{run}/) until it is 10 (Success), 20 (Error) or 30
  (Cancelled): hooks/dbt.py DbtCloudJobRunStatus, triggers/dbt.py.
- The connection (the step's `connection`, type dbt_cloud) holds the API token (password),
  the account id (login; a step's `account_id` overrides it) and the account's access URL
  host (host; unset: cloud.getdbt.com): hooks/dbt.py, and the provider's connection guide
  (apache/airflow providers/dbt/cloud/docs/connections.rst).
- `timeout_minutes` is the task's execution_timeout: the provider then gives the trigger that
  deadline and, when it passes, cancels the run (POST .../runs/{run}/cancel/) and fails
  ("Job run N has timed out."); the trigger's own wait (`timeout`) ends a poll later, so that
  it is always the deadline that ends it and the run is never left running.
- The provider's failures say only "Job run N has failed." (or "has been cancelled.", "has
  timed out."); the run's URL is in XCom `job_run_url` and the task's "Monitor Job Run" link
  alone. The operator here is the provider's with one change: such a failure is raised again
  naming the job, the run and its URL, so that the task's error, and the failure alert built
  from it (glueflow_runtime/callbacks.py), say which run failed and where to read why (dbt
  Cloud's run page: its steps and their logs).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from glueflow_steps.base import Connection, StepModel, StepType

# The provider waits at most this long by default (DbtCloudRunJobOperator `timeout`, 7 days).
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
# A request to dbt Cloud waits at most this long (the hook's default is no timeout at all).
REQUEST_TIMEOUT_S = 60

DbtCommand = Annotated[str, Field(pattern=r"^dbt \S[^\n]*$", max_length=1000)]


class DbtCloudStep(StepModel):
    """Run a dbt Cloud job after the job succeeds, and wait for the run."""

    type: Literal["dbt_cloud"]
    connection: Connection = Field(
        description="The Airflow connection (type dbt_cloud) that holds the API token "
        "(password), the account id (login) and the account's access URL host (host, e.g. "
        "ab123.us1.dbt.com; unset: cloud.getdbt.com): the secret airflow/connections/"
        "<connection>."
    )
    job_id: int = Field(ge=1, description="The dbt Cloud job's id (in its URL: .../jobs/<id>).")
    account_id: int | None = Field(
        default=None,
        ge=1,
        description="The dbt Cloud account of the job; unset: the connection's login.",
    )
    steps_override: list[DbtCommand] | None = Field(
        default=None,
        min_length=1,
        description="dbt commands to run instead of the job's own, each one line starting "
        "'dbt ', e.g. ['dbt build --select orders+'] (Airflow renders templates in them: "
        "{{ ds }}); unset: the job's commands.",
    )
    timeout_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_TIMEOUT_MINUTES,
        description="How long the step waits for the run to succeed; then it cancels the run "
        "and fails.",
    )


def failure(job_id: int, run_id: Any, reason: str, url: str | None) -> str:
    """What a failed run's task says: the job, the run and its URL first (the alert keeps the
    start of a long error), then why the provider stopped."""
    return f"dbt Cloud job {job_id}, run {run_id} ({url or 'no run URL recorded'}): {reason}"


class DbtCloud(StepType):
    name = "dbt_cloud"
    model = DbtCloudStep
    packages = ("apache-airflow-providers-dbt-cloud",)

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from datetime import timedelta

        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException
        from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator

        from glueflow_runtime.dag_builder import POLL_S

        def named(operator: Any, context: Any, reason: str) -> DbtCloudJobRunException:
            """The failure again, naming the run by the URL the operator recorded in XCom as
            it triggered it (kept through the deferral: Airflow clears a task's XCom when a
            try starts, not when it resumes; api_fastapi/execution_api/routes/
            task_instances.py `ti_run`)."""
            url = context["ti"].xcom_pull(task_ids=operator.task_id, key="job_run_url")
            return DbtCloudJobRunException(failure(operator.job_id, operator.run_id, reason, url))

        class DbtCloudRunJobNamingRun(DbtCloudRunJobOperator):
            """DbtCloudRunJobOperator whose run failures name the run and its URL."""

            def execute(self, context: Any) -> Any:
                try:  # a run already ended when first read, or the synchronous wait
                    return super().execute(context)
                except DbtCloudJobRunException as exc:
                    raise named(self, context, str(exc)) from exc

            def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
                try:
                    return super().execute_complete(context, event)
                except DbtCloudJobRunException as exc:
                    # The trigger's message says more than the provider's exception: why a
                    # poll failed, or that its own wait ended.
                    raise named(self, context, event.get("message") or str(exc)) from exc

        return DbtCloudRunJobNamingRun(
            task_id=step["name"],
            dbt_cloud_conn_id=step["connection"],
            job_id=step["job_id"],
            account_id=step.get("account_id"),
            steps_override=step.get("steps_override"),
            trigger_reason=(
                f"Glueflow job {job['dag_id']}, step {step['name']}, Airflow run {{{{ run_id }}}}"
            ),
            wait_for_termination=True,
            deferrable=True,
            check_interval=POLL_S,
            execution_timeout=timedelta(minutes=step["timeout_minutes"]),
            timeout=step["timeout_minutes"] * 60 + POLL_S,
            hook_params={"timeout_seconds": REQUEST_TIMEOUT_S},
        )

    def connections(self, step: Any) -> dict[str, str]:
        return {"connection": step.connection}

    def internet(self, step: Any) -> str:
        return (
            f"dbt Cloud (the host of connection {step.connection!r}, cloud.getdbt.com unless "
            "it names the account's access URL)"
        )

    def target(self, step: dict[str, Any]) -> str:
        account = step.get("account_id")
        return f"job {step['job_id']}" + (f" in account {account}" if account else "")

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """dbt Cloud's API on loopback (glueflow_local/dbt_cloud.py): every run succeeds a few
        seconds after it is triggered, unless the next run of its job was asked to fail
        (POST https://<the connection's host>/glueflow/jobs/<job id>/fail-next-run); each
        connection's secret is filled with its host, a token and an account."""
        from glueflow_local import dbt_cloud

        dbt_cloud.start(local, steps)


STEP = DbtCloud()

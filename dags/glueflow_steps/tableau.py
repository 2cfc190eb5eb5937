"""`tableau`: refresh the extract of a Tableau workbook or published data source, and wait for
the refresh job; a job that fails or is cancelled fails the step.

The operator is the Tableau provider's TableauOperator (airflow/providers/tableau/operators/
tableau.py, apache-airflow-providers-tableau 5.6.0 with tableauserverclient (TSC) 0.41),
method `refresh`, blocking. The provider has no deferrable mode (no `deferrable` argument and
no trigger), so the wait holds a worker slot: TableauHook.wait_for_state asks for the job
(TSC `jobs.get_by_id`, the REST API's Query Job) every `POLL_S` seconds until it leaves
"pending", and gives up with TimeoutError after `timeout_minutes` (a soft bound: the sleep in
progress ends first). The step's connection is an Airflow connection of type `tableau`:
host (with https://, or the scheme in `schema`: TSC prefixes http:// to a bare host,
tableauserverclient/server/server.py), login and password (or extra `auth: jwt` with
`jwt_token`), and extra `site_id`, the site's contentUrl (hooks/tableau.py; personal access
tokens are not read by this provider version).

Two things the provider leaves unclear, which the operator here says plainly:
- "Already queued": Tableau refuses a refresh while one of the same content is queued (error
  409093, TSC's DUPLICATE_EXTRACT_JOB_CODE, server/endpoint/exceptions.py), TSC's refresh
  then returns None (workbooks_endpoint.py, datasources_endpoint.py), and the provider's
  `response.id` raises AttributeError. The step fails saying so, since it started no refresh
  and has none to wait for (the queued one's id is not given); its retries ask again.
- A finishCode outside the provider's enum (TableauJobFinishCode: -1 pending, 0 success,
  1 error, 2 cancelled, citing the REST API's Query Job) makes the hook raise ValueError; TSC
  knows a 3 ("Completed", models/job_item.py). The step fails naming the code rather than
  guessing what it means.

Tableau REST API reference (help.tableau.com/current/api/rest_api/en-us/REST/): Update
Workbook Now (rest_api_ref_workbooks_and_views.htm#update_workbook_now), Update Data Source
Now (rest_api_ref_data_sources.htm#update_data_source_now), Query Job
(rest_api_ref_jobs_tasks_and_schedules.htm#query_job).
"""

from __future__ import annotations

import functools
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from glueflow_steps.base import Connection, StepModel, StepType

# A content id is a LUID, a UUID such as "6d13b0ca-043d-4d42-8c9d-3f3313ea3a00" (the `id` of
# a workbook or datasource element: Query Workbooks for Site, Query Data Sources; TSC test/
# assets/workbook_get.xml).
LUID_RE = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# The wait holds a worker slot (the provider cannot defer): a day at most.
MAX_TIMEOUT_MINUTES = 24 * 60
# What the step is called in the summary and review, by the operator's resource.
WHAT = {"workbooks": "workbook", "datasources": "data source"}


class TableauStep(StepModel):
    """Refresh a Tableau workbook's or data source's extract after the job succeeds, and wait
    for the refresh."""

    type: Literal["tableau"]
    connection: Connection = Field(
        description="The Airflow connection (type tableau) that holds the server URL, the "
        "sign-in and the default site: the secret airflow/connections/<connection>."
    )
    resource: Literal["workbooks", "datasources"] = Field(
        description="What is refreshed: a workbook's extracts or a published data source's."
    )
    find: str = Field(
        min_length=1,
        max_length=255,
        description="The workbook or data source to refresh: its id (a LUID, with match_with "
        "id) or its name (with match_with name).",
    )
    match_with: Literal["id", "name"] = Field(
        default="id",
        description="How 'find' names it. By name, the first of that name on the site is "
        "refreshed (names are unique within a project only); an id is exact.",
    )
    site_id: str | None = Field(
        default=None,
        min_length=1,
        pattern=r"^[^\s/]+$",
        description="The site's contentUrl (the part after /site/ in its URL); unset: the "
        "connection's extra site_id, and the server's default site when that is empty (the "
        "hook takes an empty site_id as unset, so '' cannot name the default site here).",
    )
    timeout_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_TIMEOUT_MINUTES,
        description="How long the step waits for the refresh to finish before it fails (the "
        "refresh runs on). The wait holds an Airflow worker slot.",
    )
    internet: bool = Field(
        default=True,
        description="The Tableau server is on the internet (Tableau Cloud), so the "
        "environment needs egress; false for a Tableau Server reachable inside the VPC (a "
        "peered network, a VPN).",
    )

    @model_validator(mode="after")
    def _findable(self) -> TableauStep:
        if self.match_with == "id" and not LUID_RE.fullmatch(self.find):
            raise ValueError(
                f"find {self.find!r} is not a Tableau id (a LUID such as "
                "'6d13b0ca-043d-4d42-8c9d-3f3313ea3a00'): give the id, or set "
                "'match_with: name' to find it by name"
            )
        if "{{" in self.find or "{%" in self.find:  # the operator's `find` is templated
            raise ValueError(
                f"find {self.find!r} holds Jinja markup ('{{{{' or '{{%'), which Airflow "
                "would render: use the id instead"
            )
        return self


@functools.cache
def operator_class() -> type:
    """TableauOperator, failing plainly where the provider crashes or says nothing (the
    module's docstring). Built here, once: the provider is imported only when a DAG has a
    tableau step."""
    from airflow.providers.tableau.hooks.tableau import TableauJobFailedException
    from airflow.providers.tableau.operators.tableau import TableauOperator

    class TableauRefreshOperator(TableauOperator):
        def execute(self, context: Any) -> str:
            what = f"{WHAT[self.resource]} with {self.match_with} {self.find!r}"
            try:
                return super().execute(context)
            except AttributeError as exc:
                if exc.name == "id" and exc.obj is None:  # TSC's refresh returned None
                    raise TableauJobFailedException(
                        f"Tableau refused to refresh the {what}: a refresh of it is already "
                        "queued (Tableau error 409093), so this step started none and waits "
                        "for none (one that began before the publish may miss its data). A "
                        "retry of the step asks again."
                    ) from exc
                raise
            except ValueError as exc:
                if "TableauJobFinishCode" not in str(exc):
                    raise
                raise TableauJobFailedException(
                    f"The refresh of the {what} ended with a finishCode the Tableau provider "
                    f"does not know ({exc}): 0 is success, 1 failure, 2 cancelled (Query Job); "
                    "look at the job on the server"
                ) from exc

    return TableauRefreshOperator


class Tableau(StepType):
    name = "tableau"
    model = TableauStep
    packages: ClassVar[tuple[str, ...]] = (
        "apache-airflow-providers-tableau",
        "tableauserverclient",
        "defusedxml",
    )

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from glueflow_runtime.dag_builder import POLL_S

        return operator_class()(
            task_id=step["name"],
            resource=step["resource"],
            method="refresh",
            find=step["find"],
            match_with=step["match_with"],
            site_id=step.get("site_id"),
            blocking_refresh=True,
            check_interval=POLL_S,
            timeout=step["timeout_minutes"] * 60,
            tableau_conn_id=step["connection"],
        )

    def connections(self, step: Any) -> dict[str, str]:
        return {"connection": step.connection}

    def internet(self, step: Any) -> str:
        return f"Tableau (the server of connection {step.connection!r})" if step.internet else ""

    def target(self, step: dict[str, Any]) -> str:
        return f"{WHAT[step['resource']]} {step['find']}"

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """A Tableau REST API on loopback (glueflow_local/standin/tableau_api.py) that knows
        the sites, workbooks and data sources the steps name, and answers the calls TSC makes
        for a refresh; each connection's secret is filled to point at it, as its owner fills
        it on AWS. A refresh succeeds a few seconds after it starts."""
        from glueflow_local.standin.tableau_api import serve_steps

        serve_steps(local, steps)


STEP = Tableau()

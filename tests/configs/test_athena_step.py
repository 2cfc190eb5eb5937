"""The `athena` step type (dags/glueflow_steps/athena.py), from config to IAM, endpoint,
operator and local stand-in. The type is one module; nothing else names it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import Where, step_type
from stacks.iam_review import WILDCARD_ALLOWLIST, allow_statements, wildcard_problems
from stacks.network_stack import endpoint_services
from tests.configs.conftest import MotoLocal
from tests.conftest import Project, valid_job

ATHENA = step_type("athena")
HERE = Where("aws", "eu-west-1", "111111111111")
GLUE = "arn:aws:glue:eu-west-1:111111111111"


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def step(**fields: Any) -> dict[str, Any]:
    return {
        "type": "athena", "name": "count_orders", "workgroup": "analytics", "database": "sales",
        "sql": "SELECT count(*) FROM orders WHERE dt = '{{ ds }}'",
        "tables": ["orders"], "reads": ["s3://acme-curated/sales/orders/"],
        "output_location": "s3://acme-results/athena/", **fields,
    }  # fmt: skip


def test_a_query_is_one_read_only_statement_given_as_its_text() -> None:
    """SELECT and WITH read; the step's grants write nothing but results, so a statement that
    writes is refused. A value ending in '.sql' would be read by Airflow as a template file
    (AthenaOperator.template_ext), and Athena takes at most 262,144 bytes ("Service Quotas")."""
    for sql in (
        "select 1",
        "WITH o AS (SELECT * FROM orders) SELECT count(*) FROM o",
        "-- the day's orders\n/* by region */ (SELECT region FROM orders)",
        "SELECT * FROM orders -- see daily.sql\n",
    ):
        job_with(step(sql=sql))
    refused = {
        "INSERT INTO totals SELECT count(*) FROM orders": "not a read-only query",
        "CREATE TABLE t AS SELECT * FROM orders": "not a read-only query",
        "UNLOAD (SELECT * FROM orders) TO 's3://x/y/'": "not a read-only query",
        "queries/daily.sql": "template file",
        "SELECT * FROM orders -- see daily.sql": "template file",
        "SELECT '" + "x" * 262_144 + "'": "at most 262144",
        "": "at least 1 character",
    }
    for sql, said in refused.items():
        with pytest.raises(ValidationError, match=said):
            job_with(step(sql=sql))


def test_names_and_locations_take_the_shapes_athena_and_iam_accept() -> None:
    job_with(step(workgroup="team.etl-2_b", tables=["orders", "crm.customers"],
                  reads=["s3://acme.curated/sales/orders/dt=2026-01-01/"]))  # fmt: skip
    refused = [
        {"workgroup": "my workgroup"},
        {"workgroup": "w" * 129},
        {"database": "Sales"},
        {"tables": []},
        {"tables": ["Sales.Orders"]},
        {"tables": ["a.b.c"]},
        {"reads": []},
        {"reads": ["s3://acme-curated/"]},  # a whole bucket
        {"reads": ["s3://acme-curated/sales"]},  # no trailing '/'
        {"reads": ["s3://acme-curated/sales*/"]},  # an IAM wildcard
        {"reads": ["acme-curated/sales/"]},
        {"output_location": "s3://acme-results/"},
        {"output_location": "s3://Acme/athena/"},
        {"timeout_minutes": 0},
        {"timeout_minutes": 241},
    ]
    for fields in refused:
        with pytest.raises(ValidationError, match=next(iter(fields))):
            job_with(step(**fields))


def test_an_athena_step_validates_in_a_project(valid_project: Project) -> None:
    valid_project.write_job("ingest", valid_job("ingest", downstream=[step()]))
    assert validate_all(root=valid_project.root, **valid_project.paths()) == []


def test_mwaa_may_run_queries_in_the_named_workgroups_and_read_the_named_tables() -> None:
    """Athena's query actions on the workgroup ARN ("Example workgroup policies"; Service
    Authorization Reference: workgroup*); Glue reads on each table with its database and the
    catalog, and the default database Athena's Glue policy needs ("Fine-grained access to
    databases and tables in the AWS Glue Data Catalog")."""
    job = job_with(step(), step(name="by_customer", tables=["orders", "crm.customers"],
                                reads=["s3://acme-crm/customers/"]))  # fmt: skip
    query, database, default, tables, *_ = ATHENA.grants(list(job.downstream), HERE)
    assert query.actions == (
        "athena:GetQueryExecution", "athena:StartQueryExecution", "athena:StopQueryExecution",
    )  # fmt: skip
    assert query.resources == ("arn:aws:athena:eu-west-1:111111111111:workgroup/analytics",)
    assert database.actions == ("glue:GetDatabase",)
    assert database.resources == (
        f"{GLUE}:catalog", f"{GLUE}:database/crm", f"{GLUE}:database/default",
        f"{GLUE}:database/sales",
    )  # fmt: skip
    assert default.actions == ("glue:CreateDatabase",)
    assert default.resources == (f"{GLUE}:catalog", f"{GLUE}:database/default")
    assert tables.actions == (
        "glue:BatchGetPartition", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable",
    )  # fmt: skip
    assert tables.resources == (
        f"{GLUE}:catalog", f"{GLUE}:database/crm", f"{GLUE}:database/sales",
        f"{GLUE}:table/crm/customers", f"{GLUE}:table/sales/orders",
    )  # fmt: skip


def test_mwaa_may_read_the_named_prefixes_and_write_results_at_the_output_location_only() -> None:
    """Objects under each prefix, the bucket listed under those prefixes only (s3:prefix),
    and the result location's actions ("Setting User and Amazon S3 Bucket Permissions")."""
    job = job_with(step(), step(name="again", reads=["s3://acme-curated/crm/", "s3://x-1/y/"]))
    grants = ATHENA.grants(list(job.downstream), HERE)
    by_actions = {grant.actions: grant for grant in grants if grant.actions[0].startswith("s3:")}
    results = by_actions["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts",
                         "s3:PutObject"]  # fmt: skip
    assert results.resources == ("arn:aws:s3:::acme-results/athena/*",)
    assert by_actions["s3:GetObject",].resources == (
        "arn:aws:s3:::acme-curated/crm/*", "arn:aws:s3:::acme-curated/sales/orders/*",
        "arn:aws:s3:::x-1/y/*",
    )  # fmt: skip
    lists = {g.resources: g.conditions for g in grants if g.actions == ("s3:ListBucket",)}
    assert lists == {
        ("arn:aws:s3:::acme-curated",): {"StringLike": {"s3:prefix": ["crm/*", "sales/orders/*"]}},
        ("arn:aws:s3:::acme-results",): {"StringLike": {"s3:prefix": ["athena/*"]}},
        ("arn:aws:s3:::x-1",): {"StringLike": {"s3:prefix": ["y/*"]}},
    }
    assert by_actions["s3:GetBucketLocation",].resources == (
        "arn:aws:s3:::acme-curated", "arn:aws:s3:::acme-results", "arn:aws:s3:::x-1",
    )  # fmt: skip
    assert by_actions["s3:ListBucketMultipartUploads",].resources == ("arn:aws:s3:::acme-results",)


def test_its_only_wildcards_are_objects_under_a_prefix_each_with_its_reason() -> None:
    """No action on "*"; the scoped wildcards are the allowlist's objects under a key prefix
    (stacks/iam_review.py), and cdk-nag's acknowledgement of each is its grant's `why`."""
    job = job_with(step(reads=["s3://acme-curated/sales/orders/", "s3://acme-crm/customers/"]))
    assert ATHENA.wildcard_actions == {}
    prefixes = next(e for e in WILDCARD_ALLOWLIST if e.name == "objects under a key prefix")
    for grant in ATHENA.grants(list(job.downstream), HERE):
        assert not any("*" in action for action in grant.actions)
        for resource in grant.resources:
            if "*" in resource or "?" in resource:
                assert prefixes.pattern.fullmatch(resource), resource
                assert grant.why


@pytest.mark.slow  # a whole environment synthesized with cdk-nag (about 10 s)
def test_an_environment_with_an_athena_step_synthesizes_with_its_wildcards_acknowledged(
    valid_project: Project, tmp_path: Path
) -> None:
    """cdk-nag (AwsSolutions-IAM5) fails the synth on an unacknowledged wildcard resource:
    the orchestration stack acknowledges each of a step grant's with its `why`."""
    from tests.synth import synthesize_project

    valid_project.write_job("ingest", valid_job("ingest", downstream=[step()]))
    templates = synthesize_project(valid_project, "dev", tmp_path / "cdk.out").templates
    assert wildcard_problems(templates) == []
    resources = {
        resource
        for statement in allow_statements(templates)
        if statement.logical_id.startswith("MwaaExecutionPolicy")
        for resource in statement.resources
        if isinstance(resource, str)
    }
    assert "arn:aws:s3:::acme-curated/sales/orders/*" in resources
    assert "arn:aws:athena:eu-west-1:123456789012:workgroup/analytics" in resources


def test_an_athena_step_brings_the_athena_endpoint() -> None:
    """Athena's interface endpoint (com.amazonaws.<region>.athena, "Connect to Amazon Athena
    using an interface VPC endpoint"); Athena itself reaches Glue and S3, not the VPC."""
    assert "athena" not in endpoint_services({"a": job_with()})
    assert "athena" in endpoint_services({"a": job_with(step())})


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_operator_runs_the_query_deferred_in_its_workgroup() -> None:
    entry = job_with(step(timeout_minutes=5)).downstream[0].model_dump()
    operator = ATHENA.operator(entry, {"dag_id": "crm_sync"}, "eu-west-1")
    assert type(operator).__name__ == "AthenaOperator"
    assert operator.task_id == "count_orders"
    assert operator.query == entry["sql"]
    assert "query" in operator.template_fields  # '{{ ds }}' is rendered at run time
    assert (operator.workgroup, operator.database, operator.catalog) == (
        "analytics", "sales", "AwsDataCatalog",
    )  # fmt: skip
    assert operator.output_location == "s3://acme-results/athena/"
    assert operator.deferrable is True
    assert (operator.aws_conn_id, operator.region_name) == ("aws_default", "eu-west-1")
    # 5 minutes: a poll at once, then one every 10 s
    assert (operator.sleep_time, operator.max_polling_attempts) == (10, 31)
    assert ATHENA.target(entry) == "sales in analytics"


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_local_stand_in_runs_queries_to_succeeded(
    monkeypatch: pytest.MonkeyPatch, moto_local: MotoLocal
) -> None:
    """moto's Athena refuses a query in a workgroup it does not have; after the stand-in,
    StartQueryExecution as AthenaHook.run_query sends it, then GetQueryExecution, reads
    QueryExecution.Status.State SUCCEEDED (one of QUEUED, RUNNING, SUCCEEDED, FAILED,
    CANCELLED: Athena API Reference, QueryStatus), and so do the provider's own poll and the
    trigger a deferred step waits with (waiter query_complete)."""
    import asyncio

    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

    local = moto_local
    entry = job_with(step()).downstream[0].model_dump()
    start = {
        "QueryString": entry["sql"],
        "QueryExecutionContext": {"Database": "sales", "Catalog": "AwsDataCatalog"},
        "ResultConfiguration": {"OutputLocation": entry["output_location"]},
        "WorkGroup": "analytics",
    }
    try:
        athena = local.client("athena")
        with pytest.raises(athena.exceptions.ClientError, match="WorkGroup does not exist"):
            athena.start_query_execution(**start)
        ATHENA.standin(local, [entry, {**entry, "workgroup": "primary"}])
        query_id = athena.start_query_execution(**start)["QueryExecutionId"]
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        assert status["State"] == "SUCCEEDED"

        for name, value in {"AWS_ENDPOINT_URL": local.endpoint, "AWS_ACCESS_KEY_ID": "x",
                            "AWS_SECRET_ACCESS_KEY": "x"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        hook = AthenaHook(aws_conn_id=None, region_name=local.region)
        query_id = hook.run_query(
            entry["sql"], dict(start["QueryExecutionContext"]),
            dict(start["ResultConfiguration"]), workgroup="analytics",
        )  # fmt: skip
        assert hook.poll_query_status(query_id, max_polling_attempts=1, sleep_time=0) == (
            "SUCCEEDED"
        )
        trigger = AthenaTrigger(query_execution_id=query_id, waiter_delay=1,
                                waiter_max_attempts=2, aws_conn_id=None,
                                region_name=local.region)  # fmt: skip

        async def first_event() -> Any:
            async for event in trigger.run():
                return event.payload

        assert asyncio.run(first_event()) == {"status": "success", "value": query_id}
    finally:
        # moto's state manager is this process's (moto_local empties its backends).
        request = urllib.request.Request(  # noqa: S310 - loopback http
            f"{local.endpoint}/moto-api/state-manager/unset-transition", method="POST",
            data=json.dumps({"model_name": "athena::execution"}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310

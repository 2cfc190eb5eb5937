"""The manifest: what the runtime gets, per environment, built deterministically."""

from __future__ import annotations

import pytest

from configs import glue_limits
from configs.loader import load_platform
from configs.manifest import compile_manifest, manifest_json
from tests.conftest import Project, valid_environment, valid_job


@pytest.fixture(scope="module")
def dev() -> dict:
    return compile_manifest(load_platform("dev"))


@pytest.fixture(scope="module")
def prod() -> dict:
    return compile_manifest(load_platform("prod"))


def test_examples_cover_every_trigger_kind(dev: dict) -> None:
    triggers = {name: job["trigger"]["type"] for name, job in dev["jobs"].items()}
    assert triggers == {
        "agency_spend_ingest": "s3",
        "customer_ltv": "manual",
        "marketing_events_ingest": "s3",
        "sales_daily_aggregate": "schedule",
        "sales_daily_eur": "table",
        "sales_ingest": "s3",
    }
    assert dev["jobs"]["customer_ltv"]["depends_on"] == ["sales_daily_aggregate"]


def test_event_ingest_entry(dev: dict) -> None:
    job = dev["jobs"]["sales_ingest"]
    assert job["dag_id"] == "sales_ingest"
    assert job["glue_job_name"] == "glueflow-dev-sales_ingest"
    assert job["trigger"] == {
        "type": "s3",
        "bucket": "glueflow-dev-raw-111111111111",
        "prefix": "sales/incoming/",
        "suffix": ".csv",
    }
    assert job["validation"] == {
        "max_invalid_ratio": 0.05,
        "report_prefix": "s3://glueflow-dev-artifacts-111111111111/validation/sales_ingest/",
    }
    assert job["outputs"] == [
        {
            "bucket": "glueflow-dev-curated-111111111111",
            "prefix": "sales/orders/",
            "uri": "s3://glueflow-dev-curated-111111111111/sales/orders/",
            "table": "sales_orders",
            "partitioned_by": ["sale_date"],
            "replace": "source_object",
            "quarantine_table": "sales_orders_quarantine",
        }
    ]
    assert job["report_prefix"] == job["validation"]["report_prefix"]
    assert dev["environment"]["catalog_database"] == "glueflow_dev"
    # The aggregate reads the orders table as the table sales_ingest publishes.
    assert [i["table"] for i in dev["jobs"]["sales_daily_aggregate"]["inputs"]] == ["sales_orders"]
    assert job["glue"]["dpu_per_worker"] == 1
    assert job["glue"]["dpu_hour_usd"] == 0.44
    assert job["tags"] == {"cost-center": "data-platform", "domain": "sales", "environment": "dev"}


def test_downstream_steps(dev: dict) -> None:
    assert dev["jobs"]["sales_daily_aggregate"]["downstream"] == [
        {
            "type": "redshift_sql",
            "name": "refresh_sales_mart",
            "after": [],  # the first step: after the publish
            "sql": "REFRESH MATERIALIZED VIEW mart.daily_sales;",
            "database": "sales",
            "workgroup": "analytics",
            "workgroup_arn": "arn:aws:redshift-serverless:eu-west-1:111111111111:workgroup/"
            "4a2f9c1e-8b7d-4c3a-9e61-0d5b2f7a8c14",
            "cluster_identifier": None,
            "secret_arn": None,
        },
        {
            "type": "http",
            "name": "announce_daily_sales",
            "after": [],  # beside the Redshift step, as its config says
            "connection": "finance_reporting_api",
            "method": "POST",
            "endpoint": "/v1/datasets/daily_sales/refresh",
            "body": {"dataset": "daily_sales"},
            "headers": {},
            "success_statuses": [200, 202],
            "internet": False,
            "timeout_seconds": 60,
        },
        {
            "type": "step_functions",
            "name": "start_finance_close",
            "after": ["refresh_sales_mart"],
            "state_machine_arn": "arn:aws:states:eu-west-1:111111111111:stateMachine:"
            "finance-daily-close",
            "input": {"dataset": "daily_sales"},
            "timeout_minutes": 30,
        },
    ]
    step = dev["jobs"]["marketing_events_ingest"]["downstream"][0]
    assert step["type"] == "trigger_job"
    assert step["job"] == "customer_ltv"


def test_environment_overrides_apply_per_environment(dev: dict, prod: dict) -> None:
    assert dev["jobs"]["customer_ltv"]["glue"]["execution_class"] == "FLEX"
    assert dev["jobs"]["customer_ltv"]["glue"]["dpu_hour_usd"] == 0.29
    assert prod["jobs"]["customer_ltv"]["glue"]["execution_class"] == "STANDARD"
    assert prod["jobs"]["sales_daily_aggregate"]["glue"]["worker_type"] == "G.2X"
    assert prod["jobs"]["sales_daily_aggregate"]["cost_budget_usd"] == 25.0
    assert prod["environment"]["alert_channels"] == ["slack", "teams"]


def test_manifest_is_byte_identical_whatever_the_file_order(project: Project) -> None:
    project.write_env("dev", valid_environment())
    names = [f"job_{i:02d}" for i in range(12)]
    texts = []
    for order in (names, names[5:] + names[:5]):
        for stale in project.jobs_dir.glob("*.yaml"):
            stale.unlink()
        for i, name in enumerate(order):  # file names differ from job names, in another order
            project.write_job(f"f{i}", valid_job(name))
        platform = load_platform("dev", root=project.root, **project.paths())
        texts.append(manifest_json(compile_manifest(platform)))
    assert texts[0] == texts[1]
    assert list(compile_manifest(platform)["jobs"]) == sorted(names)


def test_glue_log_groups_are_the_job_roles_own(dev: dict) -> None:
    """The failure callback reads these; they follow the security configuration's naming."""
    glue = dev["jobs"]["sales_ingest"]["glue"]
    base = glue["log_groups"]["output"].rsplit("/", 1)[0]
    assert base.startswith("/aws-glue/jobs/glueflow-dev-jobs-")
    assert base.endswith("-role/glueflow-dev-sales_ingest")
    assert glue["log_groups"] == {"output": f"{base}/output", "error": f"{base}/error"}
    assert glue["temp_dir"] == "s3://glueflow-dev-artifacts-111111111111/temp/sales_ingest/"


def test_a_glue_6_1_job_without_a_worker_type_gets_glues_default(project: Project) -> None:
    """Glue 6.1 runs a Spark job created without a WorkerType on G.1X.GRAVITON ("Migrating AWS
    Glue for Spark jobs to AWS Glue version 6.1", AWS Glue developer guide); earlier versions
    keep G.1X. Glueflow always sends a WorkerType, so the manifest must name that default, and
    the DAG's cost task prices the run with its DPUs and the environment's standard price."""
    project.write_env("dev", valid_environment())
    project.write_job("new", valid_job("new_job", glue={"version": "6.1", "workers": 3}))
    project.write_job("old", valid_job("old_job", glue={"version": "5.1"}))
    project.write_job("bare", valid_job("bare_job"))  # no glue: at all
    platform = load_platform("dev", root=project.root, **project.paths())
    manifest = compile_manifest(platform)

    new = manifest["jobs"]["new_job"]["glue"]
    assert (new["version"], new["worker_type"], new["dpu_per_worker"]) == (
        "6.1",
        "G.1X.GRAVITON",
        1,
    )
    assert new["dpu_hour_usd"] == 0.44  # the standard price: no Graviton price is documented
    assert manifest["jobs"]["old_job"]["glue"]["worker_type"] == "G.1X"
    assert manifest["jobs"]["bare_job"]["glue"]["version"] == glue_limits.DEFAULT_GLUE_VERSION
    # The cost task looks a run's WorkerType up here: every type a config accepts is priced.
    accepted = {t for types in glue_limits.WORKER_TYPES_BY_VERSION.values() for t in types}
    assert accepted <= set(manifest["environment"]["dpu_per_worker"])
    assert manifest["environment"]["dpu_per_worker"]["R.4X.GRAVITON"] == 4

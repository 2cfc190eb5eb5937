"""The shared helpers Glue gets with --extra-py-files: packaging, run arguments, the report."""

from __future__ import annotations

import zipfile
from pathlib import Path

import boto3
from moto import mock_aws

from glueflow_glue.job import parse_run
from glueflow_glue.validation import Validated, write_report
from glueflow_runtime.validation_report import ValidationReport
from stacks.glue_library import build_glue_library


def test_library_zip_holds_the_helpers_and_the_report_definition(tmp_path: Path) -> None:
    first = build_glue_library(tmp_path / "a")
    second = build_glue_library(tmp_path / "b")

    assert first.read_bytes() == second.read_bytes()  # same sources, same bytes
    names = zipfile.ZipFile(first).namelist()
    assert "glueflow_glue/job.py" in names
    assert "glueflow_glue/validation.py" in names
    assert "glueflow_runtime/validation_report.py" in names
    assert "glueflow_runtime/dag_builder.py" not in names  # nothing of Airflow's side


def test_run_arguments_prefer_the_triggering_object() -> None:
    resolved = {
        "JOB_NAME": "glueflow-dev-sales_ingest",
        "JOB_RUN_ID": "jr_1",
        "glueflow_job": "sales_ingest",
        "glueflow_inputs": "s3://raw/sales/incoming/",
        "glueflow_outputs": "s3://curated/sales/orders/",
        "validation_report_uri": "s3://artifacts/validation/sales_ingest/",
        "glueflow_trigger": '{"bucket": "raw", "key": "sales/incoming/a b.csv", "size": 3}',
    }
    run = parse_run(resolved)
    assert run.source_uris == ["s3://raw/sales/incoming/a b.csv"]
    assert run.outputs == ["s3://curated/sales/orders/"]

    scheduled = parse_run({**resolved, "glueflow_trigger": "{}"})
    assert scheduled.source_uris == ["s3://raw/sales/incoming/"]


@mock_aws
def test_report_is_written_where_the_gate_reads_it(spark) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    validated = Validated(spark.range(0).toDF("id"), records_read=50, records_invalid=3)

    uri = write_report("s3://artifacts/validation/sales_ingest/", "sales_ingest", "jr_5", validated)

    assert uri == "s3://artifacts/validation/sales_ingest/jr_5.json"
    body = s3.get_object(Bucket="artifacts", Key="validation/sales_ingest/jr_5.json")["Body"].read()
    report = ValidationReport.from_json(body.decode())
    assert (report.records_read, report.records_invalid, report.run_id) == (50, 3, "jr_5")

"""The shared helpers Glue gets with --extra-py-files: packaging, run arguments, the report."""

from __future__ import annotations

import zipfile

import boto3
import pytest
from moto import mock_aws

from glueflow_glue.job import (
    GLUE_RESERVED_ARGUMENTS,
    RunRefused,
    ValidationReportMissing,
    parse_run,
    report_outcome,
    requested_arguments,
    stage_version,
)
from glueflow_glue.validation import (
    INVALID_FLAG,
    RECORD,
    Validated,
    reasons,
    split_invalid,
    with_record,
    write_report,
)
from glueflow_runtime.validation_report import ValidationReport


def test_library_zip_holds_the_helpers_and_the_report_definition(dev_deployed) -> None:
    """The zip as the scripts deployment ships it (its determinism: tests/stacks/
    test_glue_library.py)."""
    names = zipfile.ZipFile(dev_deployed.glue_scripts / "glueflow_glue.zip").namelist()
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


S3_JOB = {
    "JOB_NAME": "glueflow-dev-sales_ingest",
    "JOB_RUN_ID": "jr_7",
    "glueflow_job": "sales_ingest",
    "glueflow_inputs": "s3://raw/sales/",
    "glueflow_outputs": "s3://curated/sales/orders/",
    "glueflow_s3_trigger": "s3://raw/sales/incoming/",
    "TempDir": "s3://artifacts/glue-temp/sales_ingest/",
}


def test_a_job_started_by_files_refuses_a_run_without_its_object() -> None:
    """No fallback to the whole input: a manual run with no object is refused, saying how to
    name one or how to reprocess a prefix by name."""
    with pytest.raises(RunRefused, match=r"names no object.*reprocess_prefix"):
        parse_run({**S3_JOB, "glueflow_trigger": "{}"})
    with pytest.raises(RunRefused, match="names no object"):
        parse_run(S3_JOB)


def test_reprocessing_a_prefix_is_asked_for_by_name_within_the_trigger_prefix() -> None:
    named = '{"bucket": "raw", "key": "sales/incoming/2026-11/", "reprocess_prefix": true}'
    run = parse_run({**S3_JOB, "glueflow_trigger": named})
    assert run.source_uris == ["s3://raw/sales/incoming/2026-11/"]
    assert run.version_id is None
    outside = '{"bucket": "raw", "key": "sales/archive/", "reprocess_prefix": true}'
    with pytest.raises(RunRefused, match="within the job's trigger prefix"):
        parse_run({**S3_JOB, "glueflow_trigger": outside})


@mock_aws
def test_the_run_reads_exactly_its_object_version() -> None:
    """Two writes to one key: the run for the first reads the first, though the key holds the
    second by then. Its version is copied (CopyObject with VersionId) under --TempDir."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("raw", "artifacts"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
    key = "sales/incoming/a.csv"
    first = s3.put_object(Bucket="raw", Key=key, Body=b"first\n")["VersionId"]
    s3.put_object(Bucket="raw", Key=key, Body=b"second\n")
    conf = f'{{"bucket": "raw", "key": "{key}", "version_id": "{first}"}}'

    run, staged = stage_version(parse_run({**S3_JOB, "glueflow_trigger": conf}), s3)

    assert staged == "s3://artifacts/glue-temp/sales_ingest/glueflow-sources/jr_7/a.csv"
    assert run.source_uris == [staged]
    body = s3.get_object(Bucket="artifacts", Key=staged.removeprefix("s3://artifacts/"))["Body"]
    assert body.read() == b"first\n"


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


def test_the_report_counts_each_reason_and_carries_a_sample_of_rejected_rows(spark) -> None:
    """A row with two reasons counts under both; the sample keeps the row as it was read
    (with_record), not the null its typing made of a bad value."""
    from pyspark.sql import functions as F

    raw = spark.createDataFrame(
        [("1", "10"), ("", "abc"), ("3", "abc"), ("4", "-1"), ("5", "7")], "id string, n string"
    )
    typed = with_record(raw).select(RECORD, "id", F.expr("try_cast(n as int)").alias("n"))
    flagged = typed.withColumn(
        INVALID_FLAG,
        reasons(
            ("missing_id", F.col("id") == ""), ("bad_n", F.col("n").isNull() | (F.col("n") < 0))
        ),
    )

    validated = split_invalid(flagged)

    assert (validated.records_read, validated.records_invalid) == (5, 3)
    assert validated.invalid_by_reason == {"bad_n": 3, "missing_id": 1}
    assert len(validated.rejected_sample) == 3
    assert {row.record for row in validated.rejected_sample} >= {'{"id":"","n":"abc"}'}
    assert str(validated) == "3 of 5 records invalid (bad_n 3, missing_id 1)"
    report = ValidationReport.from_json(
        ValidationReport(
            "j", "jr_1", 5, 3,
            invalid_by_reason=validated.invalid_by_reason,
            rejected_sample=validated.rejected_sample,
        ).to_json()
    )  # fmt: skip
    assert report.reasons_text() == "bad_n 3, missing_id 1"
    assert report.rejected_sample == validated.rejected_sample


def test_entry_point_never_asks_for_what_glue_registers() -> None:
    argv = ["job.py", "--JOB_RUN_ID", "jr_1", "--glueflow-trigger", "{}", "--TempDir", "s3://t/"]
    names = requested_arguments(argv)
    assert not GLUE_RESERVED_ARGUMENTS.intersection(names)
    assert "glueflow-trigger" in names
    assert "validation-report-uri" not in names  # optional, and not passed
    with pytest.raises(ValueError, match="JOB_RUN_ID: set by Glue"):
        requested_arguments(argv, extra=["JOB_RUN_ID"])


def test_report_is_owed_only_with_a_report_location() -> None:
    resolved = {
        "JOB_RUN_ID": "jr_1",
        "glueflow_job": "j",
        "glueflow_inputs": "s3://raw/in/",
        "glueflow_outputs": "s3://curated/out/",
    }
    assert report_outcome(parse_run(resolved), None) is None  # no location: nothing owed
    with_location = parse_run({**resolved, "validation_report_uri": "s3://artifacts/v/j/"})
    with pytest.raises(ValidationReportMissing, match="returned nothing to report"):
        report_outcome(with_location, None)
    with pytest.raises(TypeError, match="returned int"):
        report_outcome(with_location, 3)

"""Glue jobs: security configuration, logging and metrics, queuing, their own log groups."""

from __future__ import annotations

from configs import naming
from tests.synth import Synthesized


def shard_of(synth: Synthesized, job: str):
    for shard in synth.stage.job_shards.values():
        if job in shard.glue_jobs:
            return shard
    raise KeyError(job)


def test_each_shard_has_a_security_configuration_that_encrypts_everything(
    dev: Synthesized,
) -> None:
    for number, shard in dev.stage.job_shards.items():
        template = dev.template(shard)
        (config,) = template.find_resources("AWS::Glue::SecurityConfiguration").values()
        props = config["Properties"]
        assert props["Name"] == f"glueflow-dev-jobs-{number:03d}"
        encryption = props["EncryptionConfiguration"]
        assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
        assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
        assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
        for key in ("KmsKeyArn",):
            assert key in encryption["S3Encryptions"][0]
            assert key in encryption["CloudWatchEncryption"]
            assert key in encryption["JobBookmarksEncryption"]


def test_job_runs_with_logging_metrics_queuing_and_tags(dev: Synthesized) -> None:
    shard = shard_of(dev, "sales_ingest")
    template = dev.template(shard).to_json()
    (job,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Glue::Job" and r["Properties"]["Name"] == "glueflow-dev-sales_ingest"
    ]
    security = dev.template(shard).find_resources("AWS::Glue::SecurityConfiguration")
    assert job["SecurityConfiguration"] == {"Ref": next(iter(security))}
    assert job["JobRunQueuingEnabled"] is True
    assert job["MaxRetries"] == 0  # the DAG's Glue task owns retries (tests/dags/test_glue_task.py)
    assert job["Timeout"] == 30
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    args = job["DefaultArguments"]
    assert args["--enable-metrics"] == "true"
    assert args["--enable-observability-metrics"] == "true"
    assert args["--enable-continuous-cloudwatch-log"] == "true"
    assert args["--TempDir"] == "s3://glueflow-dev-artifacts-111111111111/temp/sales_ingest/"
    assert args["--validation-report-uri"] == (
        "s3://glueflow-dev-artifacts-111111111111/validation/sales_ingest/"
    )
    assert args["--source-format"] == "csv"  # the job's own argument
    assert args["--glueflow-inputs"] == "s3://glueflow-dev-raw-111111111111/sales/incoming/"
    assert args["--glueflow-outputs"] == "s3://glueflow-dev-curated-111111111111/sales/orders/"
    assert args["--extra-py-files"] == (
        "s3://glueflow-dev-artifacts-111111111111/glue_scripts/glueflow_glue.zip"
    )
    assert job["Tags"] == {
        "domain": "sales",  # the job's
        "glueflow:job": "sales_ingest",
        "glueflow:owner": "sales-data@example.com",
        "cost-center": "data-platform",  # the environment's
        "environment": "dev",
        "glueflow:env": "dev",
    }


def test_job_log_groups_are_created_encrypted_with_retention(dev: Synthesized) -> None:
    shard = shard_of(dev, "sales_ingest")
    names = naming.glue_log_group_names("glueflow", "dev", "sales_ingest", shard.shard)
    groups = {
        r["Properties"]["LogGroupName"]: r["Properties"]
        for r in dev.template(shard).find_resources("AWS::Logs::LogGroup").values()
    }
    for name in names.values():
        assert name in groups
        assert "KmsKeyId" in groups[name]
        assert groups[name]["RetentionInDays"] == 365
    # The role Glue writes them with is named as the log groups say.
    roles = dev.template(shard).find_resources("AWS::IAM::Role")
    assert "glueflow-dev-sales_ingest" in {r["Properties"]["RoleName"] for r in roles.values()}


def test_long_job_names_still_give_valid_role_names() -> None:
    name = naming.glue_job_role_name("platformprefix16", "environment1", "j" * 64)
    assert len(name) == 64
    assert name != naming.glue_job_role_name("platformprefix16", "environment1", "j" * 63 + "k")


def test_glue_5_1_and_later_jobs_tell_s3a_their_region(dev: Synthesized) -> None:
    """Glue 5.1 replaced EMRFS with S3A, which uses us-east-2 unless
    `spark.hadoop.fs.s3a.endpoint.region` is set, and AWS warns of "S3 upload timeout errors,
    especially for VPC jobs" ("Migrating AWS Glue for Spark jobs to AWS Glue version 5.1",
    AWS Glue Developer Guide, "Breaking changes"). Every example job is on 5.1 or 6.1."""
    jobs = dev.assembly.glue_jobs()
    assert jobs
    for name, job in jobs.items():
        assert float(job["GlueVersion"]) >= 5.1, name
        conf = job["DefaultArguments"]["--conf"]
        assert conf == "spark.hadoop.fs.s3a.endpoint.region=eu-west-1", name


def test_a_jobs_own_conf_is_kept_beside_the_s3a_region() -> None:
    from configs.glue_arguments import s3a_region as _s3a_region

    assert _s3a_region("4.0", None, "eu-west-1") == {}
    assert _s3a_region("5.0", "spark.x=1", "eu-west-1") == {"--conf": "spark.x=1"}
    assert _s3a_region("6.1", "spark.x=1", "eu-west-1") == {
        "--conf": "spark.x=1 --conf spark.hadoop.fs.s3a.endpoint.region=eu-west-1"
    }
    own = "spark.hadoop.fs.s3a.endpoint.region=us-west-2"
    assert _s3a_region("5.1", own, "eu-west-1") == {"--conf": own}

"""A local SparkSession (PySpark 3.5.6, as Glue 4.0 to 5.1 run Spark 3.x), the job scripts loaded
by path, and a harness that runs a script's `main()` the way Glue starts it, on the Spark line of
the job's Glue version: a Glue 6.x job runs in a child process on PySpark 4.1.3 (`harness.py`).

The harness (`run_as_glue`) takes everything from what ships, not from the sources:

- the Glue job definition (`AWS::Glue::Job` Properties: ScriptLocation, DefaultArguments) from
  the synthesized cloud assembly;
- the run arguments the DAG adds (`GlueJobOperator.script_args`), from a DAG built with
  `glueflow_runtime.dag_builder.build_dag` from the shipped manifest, its two Jinja templates
  rendered by the operator with the values Airflow gives (`dag_run.conf`, `run_id`);
- the script and the `glueflow_glue.zip` library from what the `glue_scripts/` bucket
  deployment writes to the artifacts bucket (Glue downloads ScriptLocation and puts each
  `--extra-py-files` entry on sys.path).

Glue's argv is `[script, --JOB_ID j_.., --JOB_RUN_ID jr_.., --JOB_NAME <name>, ...]` followed
by the job's arguments, a run's Arguments overriding the job's DefaultArguments (AWS Glue
developer guide, "Using job parameters in AWS Glue jobs"). `awsglue` is the stand-in under
`glueflow_local/standin/` (see its modules for the aws-glue-libs files they follow).

S3: the script sees `s3://` URIs. Spark reads and writes them through the stand-in
GlueContext's local staging (`glueflow_local/standin/awsglue/context.py`): one local folder
per bucket.
The validation report goes through boto3, as on Glue, and lands in a moto server; the test
reads it back from there, as the DAG's gate reads it from S3.

A test marked `glue_job(name)` runs that example job's script, so it runs on the Spark line of
the job's Glue version: in a process whose pyspark is another line it is skipped, and
`test_transforms.py: test_glue_6_transforms_on_spark_4` runs it in a child on PySpark 4.1.3.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from pyspark.sql import SparkSession

from glueflow_local.cloud import CATALOG_TYPES, create_catalog
from glueflow_local.spark import local_spark
from stacks.storage_stack import GLUE_SCRIPTS_PREFIX
from tests.conftest import REPO_ROOT
from tests.glue_scripts.harness import (  # noqa: F401 - re-exported for the test modules
    STANDIN,
    GlueRun,
    LocalS3,
    glue_process,
    pyspark_version,
    run_script,
    run_script_in_child,
    spark_session,
    split_uri,
)
from tests.synth import Synthesized


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "glue_job(name): runs that example job's script, on the Spark line of its Glue version",
    )


def job_spark_major(job: str) -> str:
    """The Spark major line the example job's Glue version runs, as installed here."""
    from configs.loader import load_platform

    return local_spark(load_platform("dev").jobs[job].glue.version).major


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    running = pyspark_version().split(".")[0]
    for item in items:
        marker = item.get_closest_marker("glue_job")
        if marker is not None and job_spark_major(marker.args[0]) != running:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{marker.args[0]} runs on Spark {job_spark_major(marker.args[0])}, "
                    f"not {running}: test_glue_6_transforms_on_spark_4 runs it there"
                )
            )


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def job_spark() -> Iterator[SparkSession]:
    """The same local SparkSession as `spark`, for the tests `make new-job` writes
    (tests/glue_scripts/jobs): they are not marked slow, so `make test-fast` runs them and a
    job's author sees its checks fail there. The JVM starts once, for all of them."""
    session = spark_session()
    yield session
    session.stop()


def read_declared(spark: SparkSession, job: str, paths: list[str], schema: Any = None,
                  index: int = 0) -> Any:  # fmt: skip
    """Files read as the job config's input `index` declares (`format:`), with the reader the
    shared entry point uses (glueflow_glue.inputs.read_files)."""
    from configs.loader import load_jobs
    from glueflow_glue.inputs import InputSpec, read_files

    jobs, _, problems = load_jobs()
    assert not problems, problems
    declared = jobs[job].config.inputs[index].format
    assert declared is not None, f"{job}'s input {index} declares no format"
    spec = InputSpec("", declared.type, declared.reader_options(), declared.null_values)
    return read_files(spark, spec, paths, schema)


def load_script(name: str) -> ModuleType:
    """A job script as a module (glue_scripts/jobs is a folder of scripts, not a package)."""
    path = REPO_ROOT / "glue_scripts" / "jobs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"glue_job_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- What ships ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    """One synthesized environment, as Glue and MWAA get it."""

    glue_jobs: dict[str, dict[str, Any]]  # Glue job name -> AWS::Glue::Job Properties
    manifest: dict[str, Any]  # the manifest beside the DAG factory
    glue_scripts: Path  # what the deployment writes under s3://<artifacts>/glue_scripts/
    catalog: list[tuple[str, dict[str, Any]]]  # AWS::Glue::Database and ::Table properties

    @property
    def database(self) -> str:
        return self.manifest["environment"]["catalog_database"]

    def install_catalog(self) -> None:
        """Create the templates' catalog in (moto's) Glue, as CloudFormation would; what
        exists already (another test's same environment) is kept."""
        import boto3

        glue = boto3.client("glue", region_name=self.manifest["environment"]["region"])
        for resource in self.catalog:
            with contextlib.suppress(glue.exceptions.AlreadyExistsException):
                create_catalog(glue, [resource])


def deployed(synth: Synthesized, folder: Path) -> Deployed:
    """Read an environment's Glue jobs, manifest and scripts from its cloud assembly."""
    dags = synth.assembly.deployed_folder("dags/", folder / "dags")
    return Deployed(
        glue_jobs=synth.assembly.glue_jobs(),
        manifest=json.loads((dags / "manifest.json").read_text(encoding="utf-8")),
        glue_scripts=synth.assembly.deployed_folder(GLUE_SCRIPTS_PREFIX, folder / "scripts"),
        catalog=[
            (kind, props)
            for kind in CATALOG_TYPES
            for _, _, props in synth.assembly.resources(kind)
        ],
    )


@pytest.fixture(scope="session")
def dev_deployed(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    return deployed(dev, tmp_path_factory.mktemp("dev-deployed"))


# --- One Glue run -------------------------------------------------------------------------


def dag_script_args(
    manifest: dict[str, Any], job: str, conf: dict[str, Any], airflow_run_id: str
) -> dict[str, str]:
    """The GlueJobOperator's script_args of the job's DAG, rendered for one DAG run."""
    from glueflow_runtime.dag_builder import build_dag
    from glueflow_runtime.ids import GLUE_TASK

    task = build_dag(manifest["jobs"][job], manifest["environment"]).get_task(GLUE_TASK)
    context = {"dag_run": SimpleNamespace(conf=conf), "run_id": airflow_run_id}
    return task.render_template(task.script_args, context)


def glue_argv(
    script: Path,
    job_name: str,
    default_arguments: dict[str, str],
    run_arguments: dict[str, str],
    job_run_id: str,
    job_id: str = "j_0123456789abcdef",
) -> list[str]:
    """sys.argv as Glue builds it: its ids and job name, then the resolved arguments."""
    arguments = {**default_arguments, **run_arguments}  # a run's Arguments win
    argv = [str(script), "--JOB_ID", job_id, "--JOB_RUN_ID", job_run_id, "--JOB_NAME", job_name]
    for name, value in arguments.items():
        argv += [name, value]
    return argv


def run_as_glue(
    env: Deployed,
    job: str,
    s3: LocalS3,
    spark: SparkSession,
    *,
    conf: dict[str, Any],
    airflow_run_id: str,
    job_run_id: str,
    script: Path | None = None,
) -> GlueRun:
    """Start `job` as its DAG starts it (GlueJobOperator with the DAG run's conf and run id), on
    the Spark line of its Glue version: in this process, or in a child (`harness.py`).

    The artifacts bucket gets the deployed `glue_scripts/` folder; every bucket the job's
    arguments name is created (locally and in moto, which must be active). `script` replaces
    the deployed one (for a scaffolded job the deployment does not ship). The buckets are
    created in the moto server the test started (AWS_ENDPOINT_URL), which a child reaches too.
    """
    import boto3

    entry = env.manifest["jobs"][job]
    props = env.glue_jobs[entry["glue_job_name"]]
    defaults = props["DefaultArguments"]
    run_arguments = dag_script_args(env.manifest, job, conf, airflow_run_id)

    script_location = props["Command"]["ScriptLocation"]
    artifacts, _ = split_uri(script_location)
    s3.create_bucket(artifacts)
    shutil.copytree(
        env.glue_scripts, s3.path(f"s3://{artifacts}/{GLUE_SCRIPTS_PREFIX}"), dirs_exist_ok=True
    )
    uris = [v for value in {**defaults, **run_arguments}.values() for v in value.split(",")]
    buckets = {split_uri(uri)[0] for uri in uris if uri.startswith("s3://")}
    client = boto3.client("s3")
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for bucket in sorted(buckets):
        s3.create_bucket(bucket)
        if bucket not in existing:
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": client.meta.region_name},
            )
    local_script = script or s3.path(script_location)
    argv = glue_argv(local_script, props["Name"], defaults, run_arguments, job_run_id)
    extra = [s3.path(uri) for uri in defaults.get("--extra-py-files", "").split(",") if uri]
    local = local_spark(entry["glue"]["version"])
    if local.major == pyspark_version().split(".")[0]:
        return run_script(local_script, argv, extra, s3, spark)
    return run_script_in_child(local.pythonpath, local_script, argv, extra, s3)


def read_report(report_prefix: str, run_id: str) -> dict[str, Any] | None:
    """The run's validation report from (moto's) S3, parsed as the gate parses it, or None."""
    import boto3

    from glueflow_runtime.validation_report import ValidationReport, report_location

    bucket, key = report_location(report_prefix, run_id)
    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except boto3.client("s3").exceptions.NoSuchKey:
        return None
    report = ValidationReport.from_json(body.decode())
    return {
        "job": report.job,
        "run_id": report.run_id,
        "read": report.records_read,
        "invalid": report.records_invalid,
    }


def publish_run(deployed: Deployed, report_prefix: str, run_id: str) -> list[Any]:
    """What the DAG does after a run whose gate passed: its rejected rows to the quarantine
    tables, then its tables (glueflow_runtime.publish, the code the gate and publish tasks
    run on MWAA), from the run's report in (moto's) S3."""
    import boto3

    from glueflow_runtime.publish import publish_all
    from glueflow_runtime.validation_report import ValidationReport, report_location

    bucket, key = report_location(report_prefix, run_id)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    report = ValidationReport.from_json(body.decode())
    tables = sorted(report.tables, key=lambda t: not t.quarantine)
    region = deployed.manifest["environment"]["region"]
    return publish_all(boto3.client("glue", region_name=region), deployed.database, tables, run_id)


def published(
    deployed: Deployed, s3: LocalS3, spark: SparkSession, table: str
) -> list[dict[str, Any]]:
    """A table's rows as a catalog reader sees them: the files of the partitions the catalog
    lists (glue:GetPartitions), with their partition columns; [] when none is published."""
    import boto3

    glue = boto3.client("glue", region_name=deployed.manifest["environment"]["region"])
    keys = glue.get_table(DatabaseName=deployed.database, Name=table)["Table"]["PartitionKeys"]
    pages = glue.get_paginator("get_partitions").paginate(
        DatabaseName=deployed.database, TableName=table
    )
    rows = []
    for partition in (p for page in pages for p in page["Partitions"]):
        folder = s3.path(partition["StorageDescriptor"]["Location"])
        # Each partition's files, with its values as the catalog holds them.
        for row in spark.read.parquet(str(folder)).collect():
            values = {
                k["Name"]: dt.date.fromisoformat(v) if k["Type"] == "date" else v
                for k, v in zip(keys, partition["Values"], strict=True)
            }
            rows.append({**row.asDict(), **values})
    return rows

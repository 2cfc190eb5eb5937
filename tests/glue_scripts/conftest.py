"""A local SparkSession (PySpark 3.5.6, as Glue 5.1 runs), the job scripts loaded by path, and
a harness that runs a script's `main()` the way Glue starts it.

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
The validation report goes through boto3, as on Glue, and lands in moto (`mock_aws`); the
test reads it back from there, as the DAG's gate reads it from S3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from pyspark.sql import SparkSession

from stacks.storage_stack import GLUE_SCRIPTS_PREFIX
from tests.conftest import REPO_ROOT
from tests.synth import Synthesized

STANDIN = REPO_ROOT / "glueflow_local" / "standin"
# Packages a run imports from its own sys.path (the stand-in, the shipped zip), not the test's.
RUN_PACKAGES = ("awsglue", "glueflow_glue", "glueflow_runtime")
S3_ROOT_VARIABLE = "AWSGLUE_STANDIN_S3_ROOT"  # glueflow_local/standin/awsglue/context.py


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[1]")
        .appName("glueflow-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


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


def deployed(synth: Synthesized, folder: Path) -> Deployed:
    """Read an environment's Glue jobs, manifest and scripts from its cloud assembly."""
    dags = synth.assembly.deployed_folder("dags/", folder / "dags")
    return Deployed(
        glue_jobs=synth.assembly.glue_jobs(),
        manifest=json.loads((dags / "manifest.json").read_text(encoding="utf-8")),
        glue_scripts=synth.assembly.deployed_folder(GLUE_SCRIPTS_PREFIX, folder / "scripts"),
    )


@pytest.fixture(scope="session")
def dev_deployed(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    return deployed(dev, tmp_path_factory.mktemp("dev-deployed"))


# --- S3, staged locally -------------------------------------------------------------------


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class LocalS3:
    """The test-only staging of S3 the stand-in GlueContext mounts: `<root>/<bucket>/<key>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self.root / bucket / key

    def create_bucket(self, name: str) -> None:
        (self.root / name).mkdir(exist_ok=True)

    def put(self, uri: str, text: str) -> Path:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def folders(self, uri: str) -> list[str]:
        """The sub-folders (partitions) under a prefix."""
        return sorted(p.name for p in self.path(uri).iterdir() if p.is_dir())


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


@contextmanager
def glue_process(argv: list[str], extra_py_files: list[Path], s3_root: Path) -> Iterator[None]:
    """sys.argv, sys.path and sys.modules as in Glue's driver, restored afterwards: the
    stand-in awsglue and each --extra-py-files entry come first on the path, and the packages
    they hold are imported from there, not from the test's own path."""
    saved_modules = {
        name: module for name, module in sys.modules.items() if name.split(".")[0] in RUN_PACKAGES
    }
    for name in saved_modules:
        del sys.modules[name]
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.path[:0] = [str(STANDIN), *map(str, extra_py_files)]
    sys.argv = list(argv)
    previous_root = _environ_swap(S3_ROOT_VARIABLE, str(s3_root))
    try:
        yield
    finally:
        _environ_swap(S3_ROOT_VARIABLE, previous_root)
        sys.argv, sys.path[:] = saved_argv, saved_path
        for name in [n for n in sys.modules if n.split(".")[0] in RUN_PACKAGES]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _environ_swap(name: str, value: str | None) -> str | None:
    previous = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    return previous


@dataclass
class GlueRun:
    """What a run left behind: its argv, the stand-in Job(s) it created, the error it raised."""

    argv: list[str]
    job_run_id: str
    jobs: list[Any]
    error: BaseException | None
    imported_from: dict[str, str]  # package -> the file the run imported it from

    @property
    def committed(self) -> bool:
        return any(job.committed for job in self.jobs)

    def arguments(self) -> dict[str, str]:
        return dict(zip(self.argv[1::2], self.argv[2::2], strict=True))


def run_script(
    script: Path, argv: list[str], extra_py_files: list[Path], s3: LocalS3, spark: SparkSession
) -> GlueRun:
    """Run `script` as Glue runs it (as __main__), under the stand-in awsglue."""
    error: BaseException | None = None
    with glue_process(argv, extra_py_files, s3.root):
        from awsglue.context import unstage_s3
        from awsglue.job import Job

        Job.created.clear()
        try:
            runpy.run_path(str(script), run_name="__main__")
        except Exception as exc:  # the run failed: the test decides whether it should have
            error = exc
        finally:
            unstage_s3(spark)
        jobs = list(Job.created)
        imported_from = {
            name: str(getattr(sys.modules.get(name), "__file__", None)) for name in RUN_PACKAGES
        }
    job_run_id = dict(zip(argv[1::2], argv[2::2], strict=True))["--JOB_RUN_ID"]
    return GlueRun(argv, job_run_id, jobs, error, imported_from)


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
    """Start `job` as its DAG starts it (GlueJobOperator with the DAG run's conf and run id).

    The artifacts bucket gets the deployed `glue_scripts/` folder; every bucket the job's
    arguments name is created (locally and in moto, which must be active). `script` replaces
    the deployed one (for a scaffolded job the deployment does not ship).
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
    return run_script(local_script, argv, extra, s3, spark)


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

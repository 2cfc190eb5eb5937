"""`make try JOB=name FILE=path`: the job's script on one file, in seconds.

The script runs as Glue would start it (glueflow_local/standin/run_script.py): Glue's argv
with the job's DefaultArguments, computed from its config by the same function the stacks
deploy (configs/glue_arguments.py), the run arguments an S3-started run gets, the
`glueflow_glue` library zipped as it ships (stacks/glue_library.py), and the pyspark line of
the job's Glue version. There is no synth, no Airflow and no moto: S3 is a folder per bucket
(the stand-in's staging), and the script's boto3 S3 writes (its report) land there too.

It prints the rows the run would publish (a sample and the count per table), the report's
counts per reason, a sample of the rejected rows with their reasons, and the gate's verdict
at the job's threshold. Every try keeps its folder under build/local/<env>/try/<job>/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from configs import naming
from configs.glue_arguments import glue_default_arguments, table_index
from configs.loader import REPO_ROOT, Platform, load_platform
from configs.models import JobConfig
from configs.problems import ConfigError
from glueflow_local.errors import LocalRunError
from glueflow_local.spark import local_spark

STANDIN = Path(__file__).with_name("standin")
RUN_SCRIPT = STANDIN / "run_script.py"
TRY_VARIABLE = "GLUEFLOW_TRY"  # standin/run_script.py
SAMPLE_ROWS = 5
REGION_FOR_BOTO = "us-east-1"  # any: no call leaves the machine


@dataclass(frozen=True)
class Try:
    """One prepared try: the command, its environment, and where it writes."""

    job: str
    folder: Path
    argv: list[str]  # the whole command
    env: dict[str, str]
    script: Path
    library: Path
    glue_argv: list[str]  # what Glue gives the script after its name
    report: Path
    tables: list[dict[str, str]]
    threshold: float | None
    quarantine: dict[str, str]


def _local(root: Path, uri: str) -> Path:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return root.joinpath(bucket, *[p for p in key.split("/") if p])


def _landing_key(job: JobConfig, file: Path) -> tuple[str, str]:
    """(bucket key, object key) where the file lands: under the S3 trigger's prefix, or the
    first input's; refuses what the job could not read."""
    s3 = job.trigger.s3
    if s3 is not None:
        if s3.suffix and not file.name.endswith(s3.suffix):
            raise LocalRunError(
                f"FILE {file.name}: job {job.name} starts on keys under {s3.bucket}:"
                f"{s3.prefix or ''} ending in {s3.suffix}; name the file *{s3.suffix}"
            )
        return s3.bucket, f"{s3.prefix or ''}{file.name}"
    files = list(job.inputs)
    if not files:
        raise LocalRunError(f"JOB {job.name} reads no input, so no file can be tried on it")
    return files[0].bucket, f"{files[0].prefix}{file.name}"


def check_arguments(job_name: str, file: Path, env_name: str) -> tuple[Platform, JobConfig]:
    """JOB and FILE, checked against the configs before anything starts (make try, and make
    run-local before its synth): the job exists in the environment, the file exists and is
    named as the job's S3 trigger starts on."""
    if not file.is_file():
        raise LocalRunError(f"FILE {file}: no such file")
    try:
        platform = load_platform(env_name)
    except ConfigError as exc:
        raise LocalRunError(f"the configs do not validate:\n{exc}") from exc
    job = platform.jobs.get(job_name)
    if job is None:
        raise LocalRunError(
            f"JOB {job_name}: no such job in {env_name}; jobs: {', '.join(sorted(platform.jobs))}"
        )
    _landing_key(job, file)
    return platform, job


def prepare(job_name: str, file: Path, env_name: str, workdir: Path) -> Try:
    """Everything checked and staged; nothing started."""
    platform, job = check_arguments(job_name, file, env_name)
    tables = table_index(platform.jobs)
    read_tables = [tables[(i.bucket, i.prefix)][0] for i in job.inputs
                   if (i.bucket, i.prefix) in tables]  # fmt: skip
    if read_tables and job.trigger.s3 is None:
        raise LocalRunError(
            f"JOB {job_name} reads published tables ({', '.join(read_tables)}), which need the "
            "Glue Data Catalog: try it with make run-local"
        )
    env = platform.environment.config
    spark = local_spark(job.glue.version)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = workdir / "try" / job_name / stamp
    root = folder / "s3"
    bucket_key, key = _landing_key(job, file)
    bucket = naming.data_bucket_name(env, env_name, bucket_key)
    landed = root / bucket / key
    landed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, landed)
    arguments = glue_default_arguments(job_name, job, env, env_name, tables)
    artifacts = naming.platform_bucket_name(env, env_name, "artifacts")
    # Every job's report is shown, gate or not: a location like the stacks' for one.
    arguments.setdefault(
        "--validation-report-uri", f"s3://{artifacts}/{naming.validation_report_prefix(job_name)}"
    )
    for uri in [*arguments["--glueflow-outputs"].split(","), f"s3://{artifacts}/"]:
        if uri:
            _local(root, uri).mkdir(parents=True, exist_ok=True)
    from stacks.glue_library import build_glue_library

    library = build_glue_library(folder / "library")
    run_id = f"jr_try_{stamp}"
    argv = [
        "--JOB_ID", f"j_try_{job_name}",
        "--JOB_RUN_ID", run_id,
        "--JOB_NAME", naming.glue_job_name(env.name_prefix, env_name, job_name),
        "--TempDir", f"s3://{artifacts}/{naming.glue_temp_prefix(job_name)}",
    ]  # fmt: skip
    for name, value in arguments.items():
        if name != "--extra-py-files":
            argv += [name, value]
    argv += ["--glueflow-trigger", json.dumps({"bucket": bucket, "key": key})]
    table_specs = json.loads(arguments.get("--glueflow-tables") or "{}").get("outputs", [])
    shown = [
        {"table": t["table"], "path": str(_local(root, t["uri"] + f"runs/{run_id}/"))}
        for t in table_specs
    ]
    child_env = {
        **os.environ,
        "AWSGLUE_STANDIN_S3_ROOT": str(root),
        TRY_VARIABLE: json.dumps({"tables": shown, "rows": SAMPLE_ROWS}),
        "AWS_DEFAULT_REGION": env.region or REGION_FOR_BOTO,
        "PYTHONPATH": os.pathsep.join(filter(None, [spark.pythonpath])),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",  # no warning about the host name resolving to loopback
    }
    command = [
        sys.executable, str(RUN_SCRIPT), str(STANDIN), str(library),
        str(REPO_ROOT / job.script), *argv,
    ]  # fmt: skip
    report_prefix = arguments["--validation-report-uri"]
    database = naming.catalog_database_name(env.name_prefix, env_name)
    return Try(
        job=job_name,
        folder=folder,
        argv=command,
        env=child_env,
        script=REPO_ROOT / job.script,
        library=library,
        glue_argv=argv,
        report=_local(root, report_prefix) / f"{run_id}.json",
        tables=shown,
        threshold=job.validation.max_invalid_ratio if job.validation else None,
        quarantine={
            t["table"]: f"{database}.{t['quarantine_table']}"
            for t in table_specs
            if t.get("quarantine_table")
        },
    )


def describe(attempt: Try) -> list[str]:
    """What needs no Spark: the report's counts per reason, the rejected rows, the verdict."""
    sys.path.insert(0, str(REPO_ROOT / "dags"))
    from glueflow_runtime.gate import decide
    from glueflow_runtime.validation_report import ValidationReport

    report = ValidationReport.from_json(attempt.report.read_text(encoding="utf-8"))
    lines = [""]
    for table in report.tables:
        kind = "rejected rows" if table.quarantine else "rows"
        lines.append(f"{table.table}: {table.rows} {kind} in {len(table.partitions)} partition(s)")
    lines.append(
        f"report: {report.records_invalid} of {report.records_read} records invalid"
        + (f" ({report.reasons_text()})" if report.invalid_by_reason else "")
    )
    if report.rejected_sample:
        where = (
            f"all of them are kept in {', '.join(attempt.quarantine.values())}"
            if attempt.quarantine
            else "not kept: with an output table, its quarantine table keeps them all"
        )
        lines.append(
            f"rejected, the first {len(report.rejected_sample)} of {report.records_invalid} "
            f"({where}):"
        )
        lines += [f"  {row}" for row in report.rejected_sample]
    if attempt.threshold is None:
        lines.append("gate: none (the job config has no validation:), so every run publishes")
    else:
        decision = decide(report, attempt.threshold)
        verdict = (
            "passes, so it would publish"
            if decision.passed
            else "fails, so nothing would be published"
        )
        lines.append(f"gate: {verdict}: {decision.message}")
    return lines


def run_try(job: str, file: Path, env_name: str, workdir: Path) -> int:
    started = time.monotonic()
    attempt = prepare(job, file, env_name, workdir)
    print(f"trying {job} on {file} (local Spark; outputs under {attempt.folder})", flush=True)
    done = subprocess.run(attempt.argv, env=attempt.env, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        print(f"\nFAILED: the script exited with status {done.returncode} (its traceback is above)")
        return 1
    for line in describe(attempt):
        print(line)
    print(f"done in {time.monotonic() - started:.1f} s; outputs under {attempt.folder}")
    return 0

"""A Glue job's DefaultArguments, from its config: one definition for what the stacks deploy
(stacks/job_shard_stack.py) and what `make try` gives the script on this machine
(glueflow_local/try_job.py). Strings only, no CDK: the names come from configs/naming.py.

The contract these arguments make with the script is glue_scripts/README.md's; the shared
entry point reads them (glue_scripts/lib/glueflow_glue/job.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from configs import naming
from configs.models import EnvironmentConfig, JobConfig

# Where the scripts' shared library is shipped, under the artifacts bucket (stacks/glue_library
# and stacks/storage_stack name the same key).
GLUE_SCRIPTS_PREFIX = "glue_scripts/"
LIBRARY_ZIP = "glueflow_glue.zip"
S3A_FROM_GLUE = "5.1"  # the first Glue version whose s3:// is Hadoop S3A, not EMRFS

# Each table by location (bucket key, prefix): its name and the job that writes it.
TableIndex = Mapping[tuple[str, str], tuple[str, str]]


def table_index(jobs: Mapping[str, JobConfig]) -> dict[tuple[str, str], tuple[str, str]]:
    """Each output location's table and the first job (by name) that writes it; a job reading
    that location reads the table."""
    tables: dict[tuple[str, str], tuple[str, str]] = {}
    for name, job in sorted(jobs.items()):
        for out in job.outputs:
            tables.setdefault((out.bucket, out.prefix), (out.table, name))
    return tables


def s3a_region(version: str, conf: str | None, region: str) -> dict[str, str]:
    """`--conf` with S3A's region for a Glue 5.1+ job, after the job's own `--conf` (Glue
    takes several as `k=v --conf k2=v2` in the one argument); the job's own otherwise."""
    if float(version) < float(S3A_FROM_GLUE):
        return {"--conf": conf} if conf else {}
    ours = f"spark.hadoop.fs.s3a.endpoint.region={region}"
    if conf and "fs.s3a.endpoint.region" in conf:
        return {"--conf": conf}  # the job chose its own
    return {"--conf": f"{conf} --conf {ours}" if conf else ours}


def input_formats(job: JobConfig, env: EnvironmentConfig, env_name: str) -> str | None:
    """`--glueflow-formats`: how each input that declares a format is read; None if none do."""
    declared = [
        {
            "uri": _uri(env, env_name, loc.bucket, loc.prefix),
            "type": loc.format.type,
            "options": loc.format.reader_options(),
            "null_values": loc.format.null_values,
        }
        for loc in job.inputs
        if loc.format is not None
    ]
    return json.dumps(declared, separators=(",", ":")) if declared else None


def _uri(env: EnvironmentConfig, env_name: str, bucket: str, prefix: str) -> str:
    return f"s3://{naming.data_bucket_name(env, env_name, bucket)}/{prefix}"


def glue_default_arguments(
    name: str, job: JobConfig, env: EnvironmentConfig, env_name: str, tables: TableIndex
) -> dict[str, str]:
    """The job's DefaultArguments, as its Glue job definition holds them."""
    artifacts = naming.platform_bucket_name(env, env_name, "artifacts")
    database = naming.catalog_database_name(env.name_prefix, env_name)
    glue_cfg = job.glue
    reads = [_uri(env, env_name, loc.bucket, loc.prefix) for loc in job.inputs]
    writes = [_uri(env, env_name, loc.bucket, loc.prefix) for loc in job.outputs]
    input_tables = [
        (uri, tables[(loc.bucket, loc.prefix)][0])
        for loc, uri in zip(job.inputs, reads, strict=True)
        if (loc.bucket, loc.prefix) in tables
    ]
    tables_argument = json.dumps(
        {
            "database": database,
            "outputs": [
                {
                    "uri": uri,
                    "table": out.table,
                    "columns": out.columns,
                    "partitioned_by": out.partitioned_by,
                    "replace": out.replace,
                    "quarantine_table": (
                        naming.quarantine_table_name(out.table) if job.validation else None
                    ),
                }
                for out, uri in zip(job.outputs, writes, strict=True)
            ],
            "inputs": [{"uri": uri, "table": table} for uri, table in input_tables],
        },
        separators=(",", ":"),
    )
    s3 = job.trigger.s3
    formats = input_formats(job, env, env_name)
    return {
        **glue_cfg.arguments,
        "--glueflow-job": name,
        "--glueflow-env": env_name,
        # A job with a validation gate or an output gets a report location: the shared Glue
        # entry point then must write the report (its counts, and what it wrote for the
        # publish task), and fails the run if the script gives it nothing to report.
        **(
            {"--validation-report-uri": f"s3://{artifacts}/{naming.validation_report_prefix(name)}"}
            if job.validation or job.outputs
            else {}
        ),
        "--glueflow-inputs": ",".join(reads),
        **({"--glueflow-formats": formats} if formats else {}),
        # A job started by files refuses a run that names no object (glueflow_glue).
        **(
            {"--glueflow-s3-trigger": _uri(env, env_name, s3.bucket, s3.prefix or "")}
            if s3 is not None
            else {}
        ),
        "--glueflow-outputs": ",".join(writes),
        **({"--glueflow-tables": tables_argument} if job.outputs or input_tables else {}),
        "--extra-py-files": f"s3://{artifacts}/{GLUE_SCRIPTS_PREFIX}{LIBRARY_ZIP}",
        # Glue 5.1's S3A uses us-east-2 unless told the region, which can time out
        # uploads from a VPC ("set the spark.hadoop.fs.s3a.endpoint.region Spark
        # configuration", "Migrating AWS Glue for Spark jobs to AWS Glue version 5.1").
        **s3a_region(glue_cfg.version, glue_cfg.arguments.get("--conf"), env.region),
        "--job-bookmark-option": (
            "job-bookmark-enable" if glue_cfg.job_bookmarks else "job-bookmark-disable"
        ),
    }

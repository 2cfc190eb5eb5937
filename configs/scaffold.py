"""`python -m configs new-job NAME`: a valid job file and a script stub to start from."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from configs.loader import JOBS_DIR, REPO_ROOT, display_path
from configs.models import JOB_NAME_RE
from configs.problems import ConfigError, ConfigProblem

JOB_TEMPLATE = """\
# yaml-language-server: $schema=../job.schema.json
# Field reference: configs/job.schema.json (generated from configs/models.py).
name: {name}
description: {description}
owner: {owner}
script: {script}
glue:
  version: "6.1"  # Spark 4.1: ANSI SQL on, so cast with try_cast (glue_scripts/README.md)
  # G.1X.GRAVITON is Glue 6.1's default, but CDK's CloudFormation schema does not list it yet
  worker_type: G.1X
  workers: 2
  timeout_minutes: 60
  # typical_minutes: 15  # how long a run usually takes; `make review` prices it
# Buckets are the keys an environment declares under `buckets:` (see configs/environments/).
# inputs:
#   - bucket: raw
#     prefix: {name}/incoming/
# Each output is a table in the environment's Glue Data Catalog database. A run writes it
# where no reader looks; it is published (made visible) only after the gate passes.
# outputs:
#   - bucket: curated
#     prefix: {name}/
#     table: {name}
#     columns: {{id: string, amount: "decimal(12,2)", day: date}}
#     partitioned_by: [day]
#     # partitions: each partition a run wrote replaces the published one. For a job
#     # started by files, source_object: a new version of a file replaces its rows.
#     replace: partitions
# Start on a file landing, on a schedule, or (no trigger) manually. Choose one of:
# trigger:
#   s3: {{bucket: raw, prefix: {name}/incoming/, suffix: .csv}}
# trigger:
#   schedule: "0 6 * * *"
# The gate reads the run's validation report: the counts main() returns (glue_scripts/README.md).
# validation:
#   max_invalid_ratio: 0.05
# cost_budget_usd: 5.0
"""

SCRIPT_TEMPLATE = '''\
"""{name}.

{wrapped_description}

checks(), validate() and transform() are plain functions on DataFrames, so tests run them on a
local SparkSession. Only main() touches Glue, through glueflow_glue (shipped with
--extra-py-files): it reads the inputs, writes the first output table with write_table (where
no reader looks until the DAG publishes it), and returns the Validated counts, which
glueflow_glue writes as the run's report (read by the DAG's gate when the job config has
`validation:`; the rejected rows go to the output's quarantine table). See
glue_scripts/README.md.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession

from glueflow_glue.validation import INVALID_FLAG, Validated, reasons, split_invalid


def checks() -> list[tuple[str, Column]]:
    """(reason, condition) pairs: a row for which a condition is true is invalid, and counted.

    For example ("missing_id", F.col("id").isNull()), with pyspark.sql.functions as F.
    """
    return []


def validate(frame: DataFrame) -> Validated:
    """The rows that pass every check, and how many rows were read and rejected."""
    return split_invalid(frame.withColumn(INVALID_FLAG, reasons(*checks())))


def transform(frame: DataFrame) -> DataFrame:
    """The job's transformation of the valid rows. Replace the pass-through with real logic."""
    return frame


def main() -> None:
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import write_table

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        # run.source_uris: the object that started an S3-triggered run, else the inputs.
        # Another job's output is read as its published table: read_table(spark, run, i).
        validated = validate(spark.read.parquet(*run.source_uris))
        # The declared columns, with their types; published after the gate passes.
        write_table(run, transform(validated.valid))
        return validated  # glueflow_glue writes it as the run's report

    run_glue_job(body)


if __name__ == "__main__":
    main()
'''


def script_docstring(description: str) -> str:
    """The job's description, wrapped for the script's docstring."""
    # The description lands inside the stub's docstring: keep it from closing it early.
    return textwrap.fill(description.replace('"""', "'''"), width=96)


def new_job(
    name: str,
    *,
    owner: str = "data-platform@example.com",
    description: str | None = None,
    jobs_dir: Path = JOBS_DIR,
    root: Path = REPO_ROOT,
) -> tuple[Path, Path]:
    """Write `<jobs_dir>/<name>.yaml` and `glue_scripts/jobs/<name>.py`; never overwrite."""
    job_file = jobs_dir / f"{name}.yaml"
    script_rel = f"glue_scripts/jobs/{name}.py"
    script_file = root / script_rel
    problems = []
    if not JOB_NAME_RE.fullmatch(name):
        problems.append(
            ConfigProblem(
                display_path(job_file),
                "name",
                f"{name!r} is not a valid job name: use 3-64 characters of lowercase letters, "
                "digits and '_', starting with a letter",
            )
        )
    for path in (job_file, script_file):
        if path.exists():
            problems.append(
                ConfigProblem(display_path(path), "(file)", "exists already; not overwritten")
            )
    if problems:
        raise ConfigError(problems)
    summary = description or f"TODO: what {name} does"
    text = {
        "name": name,
        "script": script_rel,
        # JSON strings are valid YAML scalars, so any text survives quoting.
        "owner": json.dumps(owner),
        "description": json.dumps(summary),
        "wrapped_description": script_docstring(summary),
    }
    jobs_dir.mkdir(parents=True, exist_ok=True)
    script_file.parent.mkdir(parents=True, exist_ok=True)
    job_file.write_text(JOB_TEMPLATE.format(**text), encoding="utf-8")
    script_file.write_text(SCRIPT_TEMPLATE.format(**text), encoding="utf-8")
    return job_file, script_file

"""`python -m configs new-job NAME`: a valid job file and a script stub to start from."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from configs.loader import JOBS_DIR, REPO_ROOT, display_path
from configs.problems import ConfigError, ConfigProblem
from glueflow_steps.base import JOB_NAME_RE

# Where new-job writes a job's test: beside the example jobs' (tests/glue_scripts), whose
# conftest gives it the `spark` fixture.
TESTS_DIR = Path("tests") / "glue_scripts" / "jobs"

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
inputs:
  - bucket: raw
    prefix: {name}/incoming/
    # How its files are read; the entry point reads with this (read_input in the script), and
    # it must agree with the trigger's suffix. type: csv, json (JSON lines) or parquet.
    format:
      type: csv
      header: true
      # delimiter: ","
      # quote: '"'
      # encoding: UTF-8
      # Strings that mean a missing value. Exports often write NA or NULL, which Spark would
      # read as text and your checks would pass; an empty field is null already.
      null_values: ["NA", "NULL"]
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
# Start on a file landing (below), on a schedule, or (no trigger) manually.
trigger:
  s3: {{bucket: raw, prefix: {name}/incoming/, suffix: .csv}}
# trigger:
#   schedule: "0 6 * * *"
# The gate reads the run's validation report: the counts main() returns (glue_scripts/README.md).
validation:
  max_invalid_ratio: 0.05
# cost_budget_usd: 5.0
"""

SCRIPT_TEMPLATE = '''\
"""{name}.

{wrapped_description}

checks(), validate() and transform() are plain functions on DataFrames, so a test runs them on
a local SparkSession (tests/glue_scripts/jobs/test_{name}.py) and `make try JOB={name}
FILE=path` runs the whole script on a file in seconds. Only main() touches Glue, through
glueflow_glue (shipped with --extra-py-files): it reads the run's file as the config's input
declares, writes the output table with write_table (where no reader looks until the DAG
publishes it), and returns the Validated counts, which glueflow_glue writes as the run's report
(read by the DAG's gate; the rejected rows go to the output's quarantine table). See
glue_scripts/README.md.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession

from glueflow_glue.validation import INVALID_FLAG, Validated, reasons, split_invalid


def checks() -> list[tuple[str, Column]]:
    """(reason, condition) pairs: a row for which a condition is true is invalid, counted under
    that reason, and kept with it in the quarantine table.

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
    from glueflow_glue.inputs import read_input
    from glueflow_glue.job import GlueRun, run_glue_job
    from glueflow_glue.tables import write_table

    def body(spark: SparkSession, run: GlueRun) -> Validated:
        # The file that started the run, read as the job config's input declares (format:).
        # Another job's output is read as its published table: read_table(spark, run, i).
        validated = validate(read_input(spark, run))
        if run.tables:  # once the config declares an output table (outputs:)
            # The declared columns, with their types; published after the gate passes.
            write_table(run, transform(validated.valid))
        return validated  # glueflow_glue writes it as the run's report

    run_glue_job(body)


if __name__ == "__main__":
    main()
'''

TEST_TEMPLATE = '''\
"""{name}'s checks and transform on a small sample, on a local SparkSession.

Written by `make new-job`; `make test-fast` runs it. Make SAMPLE look like your files (a good
row, and one row of each kind you reject), read as the job config declares its input, and
assert what the job does with them. To run the whole script on a real file, as Glue starts
it: make try JOB={name} FILE=path.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from tests.glue_scripts.conftest import load_script, read_declared

SAMPLE = """\\
id,amount
1,10.50
2,NA
"""


def test_{name}_on_a_sample(job_spark: SparkSession, tmp_path: Path) -> None:
    job = load_script("{name}")
    source = tmp_path / "sample.csv"
    source.write_text(SAMPLE)
    frame = read_declared(job_spark, "{name}", [str(source)])

    validated = job.validate(frame)
    published = job.transform(validated.valid)

    # NA is read as missing (the config's null_values). With no checks yet every row is
    # valid: add one (say, amount missing), then expect its rejections here.
    assert frame.filter("amount is null").count() == 1
    assert (validated.records_read, validated.records_invalid) == (2, 0)
    assert published.count() == 2
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
) -> tuple[Path, ...]:
    """Write `<jobs_dir>/<name>.yaml`, `glue_scripts/jobs/<name>.py` and its test,
    `tests/glue_scripts/jobs/test_<name>.py`; never overwrite."""
    job_file = jobs_dir / f"{name}.yaml"
    script_rel = f"glue_scripts/jobs/{name}.py"
    script_file = root / script_rel
    test_file = root / TESTS_DIR / f"test_{name}.py"
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
    # A config whose script is missing gets the script and its test; the config is kept.
    keep_config = job_file.exists() and not script_file.exists()
    for path in (script_file, test_file) if keep_config else (job_file, script_file, test_file):
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
    if not keep_config:
        job_file.write_text(JOB_TEMPLATE.format(**text), encoding="utf-8")
    script_file.write_text(SCRIPT_TEMPLATE.format(**text), encoding="utf-8")
    test_file.parent.mkdir(parents=True, exist_ok=True)
    # A package, as every folder of tests is (their modules import each other by name).
    (test_file.parent / "__init__.py").touch()
    test_file.write_text(TEST_TEMPLATE.format(**text), encoding="utf-8")
    return (script_file, test_file) if keep_config else (job_file, script_file, test_file)

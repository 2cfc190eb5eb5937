"""The thin Glue entry point every script shares: arguments, GlueContext, report, commit.

The contract (glue_scripts/README.md):

- Glue passes `--JOB_ID`, `--JOB_RUN_ID` and `--JOB_NAME` to every run ("Using job parameters
  in AWS Glue jobs", AWS Glue developer guide). awsglue's `getResolvedOptions` registers
  `--JOB_ID`, `--JOB_RUN_ID`, `--SECURITY_CONFIGURATION`, the bookmark options, `--TempDir`,
  `--RedshiftTempDir`, `--encryption-type` and `--enable-data-lineage` itself and returns
  them without being asked; asking again fails (an argparse "conflicting option string" on
  Glue 5.x; aws-glue-libs `awsglue/utils.py`, branches glue-5.0 and glue-5.1). So this module
  asks for none of them and reads the run id from the result.
- `body(spark, run)` does the work and returns what it read and rejected: the `Validated`
  from `split_invalid`, or `RecordCounts`. When the job has a validation report location
  (`--validation-report-uri`), this module writes the report from that, before the commit;
  a job with a report location whose body returns nothing fails here, with a message
  saying so, instead of at the DAG's validation gate.
- The Glue job is committed (saving the bookmark) only after the body and the report
  succeeded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from glueflow_glue.validation import RecordCounts, Validated, write_report

# Set on every job by the stacks (DefaultArguments); JOB_NAME by Glue itself.
REQUIRED_ARGUMENTS = ("JOB_NAME", "glueflow-job", "glueflow-inputs", "glueflow-outputs")
# Asked for only when passed: the report location (jobs with validation), and what the DAG
# adds to a run (absent when a run is started outside Airflow).
OPTIONAL_ARGUMENTS = (
    "validation-report-uri",
    "glueflow-env",
    "glueflow-trigger",
    "glueflow-airflow-run-id",
)
# What awsglue's getResolvedOptions registers itself; requesting one again fails the run.
GLUE_RESERVED_ARGUMENTS = frozenset(
    {
        "JOB_ID",
        "JOB_RUN_ID",
        "SECURITY_CONFIGURATION",
        "job-bookmark-option",
        "continuation-option",
        "job-bookmark-from",
        "job-bookmark-to",
        "encryption-type",
        "enable-data-lineage",
        "TempDir",
        "RedshiftTempDir",
    }
)

# What a body may return: counts for the validation report, or None (no validation).
Outcome = Validated | RecordCounts | None


class ValidationReportMissing(RuntimeError):
    """A job with a validation report location finished without counts to report."""


@dataclass(frozen=True)
class GlueRun:
    """What a script needs to know about its run."""

    job: str
    run_id: str
    inputs: list[str]
    outputs: list[str]
    report_prefix: str | None  # None: the job has no validation report location
    trigger: dict[str, Any]
    arguments: dict[str, Any]

    @property
    def source_uris(self) -> list[str]:
        """The object that started an S3-triggered run, else every declared input."""
        if self.trigger.get("bucket") and self.trigger.get("key"):
            return [f"s3://{self.trigger['bucket']}/{self.trigger['key']}"]
        return self.inputs


def requested_arguments(argv: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """The names to ask getResolvedOptions for: never one Glue registers itself."""
    reserved = sorted(GLUE_RESERVED_ARGUMENTS.intersection(extra))
    if reserved:
        raise ValueError(
            f"{', '.join(reserved)}: set by Glue and returned by getResolvedOptions without "
            "being asked for; asking again fails the run. Read them from run.arguments."
        )
    optional = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv]
    return list(dict.fromkeys([*REQUIRED_ARGUMENTS, *optional, *extra]))


def parse_run(resolved: dict[str, Any]) -> GlueRun:
    """A GlueRun from getResolvedOptions' result (Glue's own JOB_RUN_ID included)."""
    run_id = resolved.get("JOB_RUN_ID")
    if not run_id:
        raise ValueError("no --JOB_RUN_ID: Glue passes it to every run; is this running on Glue?")
    trigger_text = resolved.get("glueflow_trigger") or "{}"
    return GlueRun(
        job=resolved["glueflow_job"],
        run_id=run_id,
        inputs=[u for u in resolved["glueflow_inputs"].split(",") if u],
        outputs=[u for u in resolved["glueflow_outputs"].split(",") if u],
        report_prefix=resolved.get("validation_report_uri") or None,
        trigger=json.loads(trigger_text) if trigger_text.strip() else {},
        arguments=resolved,
    )


def report_outcome(run: GlueRun, outcome: Outcome) -> str | None:
    """Write the run's validation report from what the body returned; its URI, or None for a
    job without a report location. Raises ValidationReportMissing when one is owed."""
    if outcome is not None and not isinstance(outcome, Validated | RecordCounts):
        raise TypeError(
            f"{run.job}: the job body returned {type(outcome).__name__}; return the Validated "
            "from split_invalid(), RecordCounts(records_read, records_invalid), or None"
        )
    if run.report_prefix is None:
        return None
    if outcome is None:
        raise ValidationReportMissing(
            f"{run.job}: the job has a validation report location ({run.report_prefix}) but "
            "its body returned nothing to report. Return the Validated from split_invalid() "
            "(or RecordCounts(records_read, records_invalid)) from the body; glueflow_glue "
            f"writes it as {run.report_prefix}{run.run_id}.json, which the DAG's validation "
            "gate reads. The run stops here, uncommitted."
        )
    uri = write_report(run.report_prefix, run.job, run.run_id, outcome)
    # On stdout, so the run's output log says it (and a gate failure's alert shows it).
    print(f"glueflow: validation report {uri}: {outcome}", flush=True)
    return uri


def run_glue_job(body: Callable[[Any, GlueRun], Outcome], extra: Sequence[str] = ()) -> None:
    """Start the Glue job, run `body(spark, run)`, write its validation report, commit.

    `extra`: more of the script's own argument names (without `--`), required.
    """
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    resolved = getResolvedOptions(sys.argv, requested_arguments(sys.argv, extra))
    run = parse_run(resolved)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    outcome = body(glue_context.spark_session, run)
    report_outcome(run, outcome)
    job.commit()

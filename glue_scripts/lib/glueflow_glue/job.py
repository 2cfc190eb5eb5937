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
- An S3-triggered run reads exactly the object version that started it. The run's conf (in
  `--glueflow-trigger`) names bucket, key and version id; before the body runs, that version
  is copied (CopyObject with the source's VersionId) to
  `<--TempDir>glueflow-sources/<JOB_RUN_ID>/<file name>`, the body reads the copy, and the
  copy is deleted when the run ends. A later write to the key cannot change what the run
  reads. A bucket without versioning sends no version id: the key is read as it is then.
- A job started by files (`--glueflow-s3-trigger`) refuses a run without an object: it never
  falls back to reading its whole input. Reprocessing a prefix is asked for by name:
  `{"bucket": ..., "key": "<prefix>/", "reprocess_prefix": true}`, within the trigger prefix.
- The Glue job is committed (saving the bookmark) only after the body and the report
  succeeded.
"""

from __future__ import annotations

import json
import posixpath
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from glueflow_glue.inputs import InputSpec, parse_formats
from glueflow_glue.tables import Ledger, TableSpec, parse_tables, source_id, write_quarantine
from glueflow_glue.validation import RecordCounts, Validated, write_report

# Set on every job by the stacks (DefaultArguments); JOB_NAME by Glue itself.
REQUIRED_ARGUMENTS = ("JOB_NAME", "glueflow-job", "glueflow-inputs", "glueflow-outputs")
# Asked for only when passed: the report location (jobs with validation), and what the DAG
# adds to a run (absent when a run is started outside Airflow).
OPTIONAL_ARGUMENTS = (
    "validation-report-uri",
    "glueflow-env",
    "glueflow-trigger",
    "glueflow-s3-trigger",
    "glueflow-airflow-run-id",
    "glueflow-tables",
    "glueflow-formats",
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


class RunRefused(ValueError):
    """The run does not say what to read: an S3-triggered job's run without an object."""


# Where a run's copy of its object version goes, under the job's --TempDir.
SOURCES_FOLDER = "glueflow-sources"


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

    sources: tuple[str, ...] = ()  # what the body reads (see source_uris)
    version_id: str | None = None  # the object version an S3-triggered run is for
    # The output tables (in outputs' order), the catalog database, and the inputs that are
    # tables of the environment (by location): glueflow_glue.tables.
    tables: tuple[TableSpec, ...] = ()
    database: str | None = None
    input_tables: dict[str, str] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    # Per output index, what read_changed found (glueflow_glue.tables.Changed).
    changed: dict[int, Any] = field(default_factory=dict)
    # How the inputs that declare a format are read (glueflow_glue.inputs.read_input).
    formats: tuple[InputSpec, ...] = ()

    @property
    def source(self) -> dict[str, Any] | None:
        """The object an S3-triggered run is for (uri and version id, as the trigger named
        it), or None for a run that reads its inputs or a reprocessed prefix."""
        bucket, key = self.trigger.get("bucket"), self.trigger.get("key")
        if not bucket or not key or self.trigger.get("reprocess_prefix") is True:
            return None
        return {"uri": f"s3://{bucket}/{key}", "version_id": self.version_id}

    @property
    def source_id(self) -> str:
        """The source_id partition value: the object's, the same for each version of a key; a
        run without one (scheduled, or a reprocessed prefix) is its job's own source."""
        source = self.source
        return source_id(source["uri"] if source else f"glueflow-job:{self.job}")

    @property
    def source_uris(self) -> list[str]:
        """What the body reads: the object that started an S3-triggered run (once staged,
        the run's copy of exactly its version), the prefix a named reprocess asks for, or
        else, for a scheduled or manual run of a job not started by files, every declared
        input."""
        return list(self.sources)


def _sources(trigger: dict[str, Any], inputs: list[str], s3_trigger: str | None) -> list[str]:
    bucket, key = trigger.get("bucket"), trigger.get("key")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        if s3_trigger:
            raise RunRefused(
                f"this job starts on files under {s3_trigger} and the run names no object: "
                "its conf needs bucket and key (and version_id), as the trigger sends them. It "
                "does not read the whole prefix; to reprocess a prefix, ask for it by name: "
                '{"bucket": "<bucket>", "key": "<prefix>/", "reprocess_prefix": true}'
            )
        return inputs
    uri = f"s3://{bucket}/{key}"
    outside = not key.endswith("/") or (s3_trigger and not uri.startswith(s3_trigger))
    if trigger.get("reprocess_prefix") is True and outside:
        raise RunRefused(
            f"reprocess_prefix: {uri} must be a prefix ending in '/' within the job's "
            f"trigger prefix {s3_trigger or '(none)'}"
        )
    return [uri]


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
    trigger = json.loads(trigger_text) if trigger_text.strip() else {}
    if not isinstance(trigger, dict):
        raise RunRefused(f"--glueflow-trigger is not a JSON object: {trigger_text[:200]}")
    inputs = [u for u in resolved["glueflow_inputs"].split(",") if u]
    reprocess = trigger.get("reprocess_prefix") is True
    version = trigger.get("version_id") if not reprocess else None
    database, tables, input_tables = parse_tables(resolved.get("glueflow_tables"))
    return GlueRun(
        job=resolved["glueflow_job"],
        run_id=run_id,
        inputs=inputs,
        outputs=[u for u in resolved["glueflow_outputs"].split(",") if u],
        report_prefix=resolved.get("validation_report_uri") or None,
        trigger=trigger,
        arguments=resolved,
        sources=tuple(_sources(trigger, inputs, resolved.get("glueflow_s3_trigger") or None)),
        version_id=version if isinstance(version, str) and version else None,
        tables=tuple(tables),
        database=database,
        input_tables=input_tables,
        formats=parse_formats(resolved.get("glueflow_formats")),
    )


def stage_version(run: GlueRun, s3: Any) -> tuple[GlueRun, str | None]:
    """The run reading its own copy of exactly its object version, and that copy's URI (to
    delete when the run ends); the run unchanged when it names no version.

    CopyObject with the source's VersionId ("CopyObject", Amazon S3 API Reference: "To copy
    a specific version of an object, append ?versionId=<version-id>"), through boto3's
    managed copy, which copies in parts past 5 GB. TaggingDirective REPLACE: the copy needs
    no s3:GetObjectVersionTagging, and the staging copy needs no tags."""
    if run.version_id is None:
        return run, None
    temp = run.arguments.get("TempDir")
    if not temp:
        raise RunRefused("no --TempDir: Glue sets it on every Glueflow job; is this on Glue?")
    (source,) = run.sources
    bucket, _, key = source.removeprefix("s3://").partition("/")
    temp_bucket, _, temp_prefix = temp.removeprefix("s3://").partition("/")
    if temp_prefix and not temp_prefix.endswith("/"):
        temp_prefix += "/"
    staged_key = f"{temp_prefix}{SOURCES_FOLDER}/{run.run_id}/{posixpath.basename(key)}"
    s3.copy(
        {"Bucket": bucket, "Key": key, "VersionId": run.version_id},
        temp_bucket,
        staged_key,
        ExtraArgs={"TaggingDirective": "REPLACE"},
    )
    staged = f"s3://{temp_bucket}/{staged_key}"
    # On stdout, so the run's output log says what it read.
    print(f"glueflow: reading {source} version {run.version_id} (copied to {staged})", flush=True)
    return replace(run, sources=(staged,)), staged


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
    done = {w.table for w in run.ledger.written}
    unwritten = [t.table for t in run.tables if t.table not in done]
    if unwritten:
        raise ValidationReportMissing(
            f"{run.job}: the body wrote nothing for table(s) {', '.join(unwritten)}; write each "
            "output with glueflow_glue.tables.write_table(run, df, index), which writes where "
            "the publish step finds it (an empty DataFrame publishes no rows). The run stops "
            "here, uncommitted."
        )
    rejected = getattr(outcome, "rejected", None)
    if rejected is not None:
        write_quarantine(run, rejected)
    uri = write_report(run.report_prefix, run.job, run.run_id, outcome, run.ledger.written)
    # On stdout, so the run's output log says it (and a gate failure's alert shows it).
    print(f"glueflow: validation report {uri}: {outcome}", flush=True)
    return uri


def run_glue_job(body: Callable[[Any, GlueRun], Outcome], extra: Sequence[str] = ()) -> None:
    """Start the Glue job, run `body(spark, run)`, write its validation report, commit.

    `extra`: more of the script's own argument names (without `--`), required.
    """
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    resolved = getResolvedOptions(sys.argv, requested_arguments(sys.argv, extra))
    run = parse_run(resolved)
    s3 = boto3.client("s3")
    run, staged = stage_version(run, s3)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    try:
        outcome = body(glue_context.spark_session, run)
        report_outcome(run, outcome)
        job.commit()
    finally:
        if staged:
            bucket, _, key = staged.removeprefix("s3://").partition("/")
            s3.delete_object(Bucket=bucket, Key=key)

"""The thin Glue entry point every script shares: arguments, GlueContext, bookmarks, commit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Set on every job by Glueflow (the stacks) or by the DAG at run time.
GLUEFLOW_ARGUMENTS = (
    "JOB_NAME",
    "JOB_RUN_ID",
    "glueflow-job",
    "glueflow-inputs",
    "glueflow-outputs",
    "validation-report-uri",
)
OPTIONAL_ARGUMENTS = ("glueflow-trigger",)


@dataclass(frozen=True)
class GlueRun:
    """What a script needs to know about its run."""

    job: str
    run_id: str
    inputs: list[str]
    outputs: list[str]
    report_prefix: str
    trigger: dict[str, Any]
    arguments: dict[str, str]

    @property
    def source_uris(self) -> list[str]:
        """The object that started an S3-triggered run, else every declared input."""
        if self.trigger.get("bucket") and self.trigger.get("key"):
            return [f"s3://{self.trigger['bucket']}/{self.trigger['key']}"]
        return self.inputs


def parse_run(resolved: dict[str, str]) -> GlueRun:
    """A GlueRun from getResolvedOptions' result."""
    trigger_text = resolved.get("glueflow_trigger") or "{}"
    return GlueRun(
        job=resolved["glueflow_job"],
        run_id=resolved["JOB_RUN_ID"],
        inputs=[u for u in resolved["glueflow_inputs"].split(",") if u],
        outputs=[u for u in resolved["glueflow_outputs"].split(",") if u],
        report_prefix=resolved["validation_report_uri"],
        trigger=json.loads(trigger_text) if trigger_text.strip() else {},
        arguments=resolved,
    )


def run_glue_job(body: Callable[[Any, GlueRun], None], extra: Sequence[str] = ()) -> None:
    """Start the Glue job, run `body(spark, run)`, and commit (which saves the bookmark)."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    optional = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in sys.argv]
    resolved = getResolvedOptions(sys.argv, [*GLUEFLOW_ARGUMENTS, *optional, *extra])
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    body(glue_context.spark_session, parse_run(resolved))
    job.commit()

"""The Glue jobs of an environment, one GlueEtlJob per job config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from cdk_constructs.processing.glue_job import GlueEtlJob
from configs import naming
from configs.models import JobConfig


class JobsStack(Stack):
    """Glue job definitions for the jobs it is given."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        name_prefix: str,
        artifacts_bucket: str,
        jobs: Mapping[str, JobConfig],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.glue_jobs: dict[str, GlueEtlJob] = {}
        for name, job in sorted(jobs.items()):
            glue = job.glue
            self.glue_jobs[name] = GlueEtlJob(
                self,
                _construct_id(name),
                job_name=naming.glue_job_name(name_prefix, env_name, name),
                description=job.description,
                script_location=f"s3://{artifacts_bucket}/{job.script}",
                glue_version=glue.version,
                worker_type=glue.worker_type,
                number_of_workers=glue.workers,
                timeout_minutes=glue.timeout_minutes,
                max_retries=glue.max_retries,
                execution_class=glue.execution_class,
                max_concurrent_runs=glue.max_concurrent_runs,
                default_arguments={
                    **glue.arguments,
                    "--glueflow-job": name,
                    "--glueflow-env": env_name,
                    "--job-bookmark-option": (
                        "job-bookmark-enable" if glue.job_bookmarks else "job-bookmark-disable"
                    ),
                },
                tags={**job.tags, "glueflow:job": name, "glueflow:owner": job.owner},
            )


def _construct_id(job_name: str) -> str:
    """A stable construct id per job: its logical ids never change while its name does not."""
    return "".join(part.capitalize() for part in job_name.split("_"))

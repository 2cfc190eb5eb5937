"""GlueEtlJob: one Spark batch Glue job with a role of its own."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct


class GlueEtlJob(Construct):
    """A Glue Spark ETL job (command `glueetl`, Python 3) and the role it alone assumes.

    The role starts with no permissions, so no job can reach another job's data; grants of
    the job's declared prefixes, script and logs are made where the stack wires them.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        job_name: str,
        description: str,
        script_location: str,
        glue_version: str,
        worker_type: str,
        number_of_workers: int,
        timeout_minutes: int,
        max_retries: int,
        execution_class: str,
        max_concurrent_runs: int,
        default_arguments: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id_)
        self.job_name = job_name
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Runs Glue job {job_name}; scoped to its declared data only",
        )
        self.job = glue.CfnJob(
            self,
            "Job",
            name=job_name,
            description=description,
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script_location
            ),
            glue_version=glue_version,
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=timeout_minutes,
            max_retries=max_retries,
            execution_class=execution_class,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(
                max_concurrent_runs=max_concurrent_runs
            ),
            default_arguments=dict(default_arguments),
            tags=dict(tags),
        )

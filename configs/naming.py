"""Deterministic physical names, known at synth (DESIGN.md decision 2).

The stacks and the manifest both take names from here, so the DAGs and the trigger Lambda
address exactly what CloudFormation creates.
"""

from __future__ import annotations

from configs.models import EnvironmentConfig


def glue_job_name(prefix: str, env: str, job: str) -> str:
    """`<prefix>-<env>-<job>`: the Glue job a DAG starts."""
    return f"{prefix}-{env}-{job}"


def data_bucket_name(environment: EnvironmentConfig, env: str, key: str) -> str:
    """The physical name of a declared data bucket (account id keeps it globally unique)."""
    bucket = environment.buckets[key]
    if bucket.name:
        return bucket.name
    return f"{environment.name_prefix}-{env}-{key}-{environment.account}"


def platform_bucket_name(environment: EnvironmentConfig, env: str, purpose: str) -> str:
    """Buckets Glueflow owns: 'artifacts', 'mwaa' (DAG source) and 'access-logs'."""
    return f"{environment.name_prefix}-{env}-{purpose}-{environment.account}"


def mwaa_environment_name(prefix: str, env: str) -> str:
    """The MWAA environment of an environment."""
    return f"{prefix}-{env}"


def stack_name(prefix: str, env: str, part: str) -> str:
    """CloudFormation stack names: `<prefix>-<env>-<part>`."""
    return f"{prefix}-{env}-{part}"

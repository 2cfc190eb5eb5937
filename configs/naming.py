"""Deterministic physical names, known at synth (docs/architecture.md, decision 2).

The stacks and the manifest both take names from here, so the DAGs and the trigger Lambda
address exactly what CloudFormation creates.
"""

from __future__ import annotations

import hashlib

from configs.models import EnvironmentConfig

# The partition of a region, by its prefix, as ARNs spell it ("Identify AWS resources with
# Amazon Resource Names (ARNs)", IAM User Guide: aws, aws-cn, aws-us-gov, and the ISO ones),
# and the host of its console.
PARTITIONS = (
    ("cn-", "aws-cn", "console.amazonaws.cn"),
    ("us-gov-", "aws-us-gov", "console.amazonaws-us-gov.com"),
    ("us-isob-", "aws-iso-b", "console.sc2s.sgov.gov"),
    ("us-iso-", "aws-iso", "console.c2s.ic.gov"),
)


def partition_for(region: str) -> str:
    """`aws`, `aws-cn`, `aws-us-gov`, ...: what an ARN in `region` starts with."""
    return next((p for prefix, p, _ in PARTITIONS if region.startswith(prefix)), "aws")


def console_url(region: str) -> str:
    """The AWS console of `region`'s partition (links in alerts)."""
    host = next((h for prefix, _, h in PARTITIONS if region.startswith(prefix)), None)
    return f"https://{host}" if host else f"https://{region}.console.aws.amazon.com"


def glue_job_name(prefix: str, env: str, job: str) -> str:
    """`<prefix>-<env>-<job>`: the Glue job a DAG starts."""
    return f"{prefix}-{env}-{job}"


def data_bucket_name(environment: EnvironmentConfig, env: str, key: str) -> str:
    """The physical name of a declared data bucket (account id keeps it globally unique), or
    of an external one (another account's, named as its owner named it)."""
    if key in environment.external_buckets:
        return environment.external_buckets[key].name
    bucket = environment.buckets[key]
    if bucket.name:
        return bucket.name
    return f"{environment.name_prefix}-{env}-{key}-{environment.account}"


def platform_bucket_name(environment: EnvironmentConfig, env: str, purpose: str) -> str:
    """Buckets Glueflow owns: 'artifacts', 'mwaa' (DAG source) and 'access-logs'."""
    return f"{environment.name_prefix}-{env}-{purpose}-{environment.account}"


def catalog_database_name(prefix: str, env: str) -> str:
    """`<prefix>_<env>`: the environment's Glue Data Catalog database, which holds every job's
    output tables (lowercase, as Athena and the catalog store names)."""
    return f"{prefix}_{env}"


def quarantine_table_name(table: str) -> str:
    """The table of the rows a job rejected from `table`'s input, with their reasons."""
    return f"{table}_quarantine"


# Under a table's location: each run's own folder, and the rejected rows' table.
RUNS_FOLDER = "runs/"
QUARANTINE_FOLDER = "quarantine/"


def mwaa_environment_name(prefix: str, env: str) -> str:
    """The MWAA environment of an environment."""
    return f"{prefix}-{env}"


def alert_topic_name(prefix: str, env: str) -> str:
    """The SNS topic alarms and failure alerts go to."""
    return f"{prefix}-{env}-alerts"


def dashboard_name(prefix: str, env: str) -> str:
    """The environment's CloudWatch dashboard."""
    return f"{prefix}-{env}"


def alarm_name(prefix: str, env: str, what: str) -> str:
    """`<prefix>-<env>-<what>`: an alarm's name says which environment it is about, in every
    notification."""
    return f"{prefix}-{env}-{what}"


def stack_name(prefix: str, env: str, part: str) -> str:
    """CloudFormation stack names: `<prefix>-<env>-<part>`."""
    return f"{prefix}-{env}-{part}"


def _bounded(name: str, limit: int) -> str:
    """`name`, or when too long, its head plus a short hash of the whole (still unique)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


def glue_job_role_name(prefix: str, env: str, job: str) -> str:
    """The IAM role one Glue job runs as (64 characters at most, as IAM requires)."""
    return _bounded(f"{prefix}-{env}-{job}", 64)


def job_shard_for(job: str, shards: int) -> int:
    """The job-shard stack a job belongs to: a hash of its name alone, so that adding or
    removing another job never moves it (a move would delete and recreate the Glue job)."""
    return int.from_bytes(hashlib.sha256(job.encode()).digest()[:8], "big") % shards


def job_shard_part(shard: int) -> str:
    """The stack-name part of a job shard, fixed-width so names sort and never change."""
    return f"jobs-{shard:03d}"


def catalog_shard_part(shard: int) -> str:
    """The stack-name part of the catalog tables of a job shard."""
    return f"tables-{shard:03d}"


def glue_security_configuration_name(prefix: str, env: str, shard: int) -> str:
    """The Glue security configuration of one job shard (one per stack, beside its jobs)."""
    return f"{prefix}-{env}-{job_shard_part(shard)}"


def glue_log_group_names(prefix: str, env: str, job: str, shard: int) -> dict[str, str]:
    """The log groups Glue writes a job's runs to.

    With a security configuration that encrypts CloudWatch logs, Glue writes to
    `/aws-glue/jobs/<security configuration>-role/<role name>/{output,error}`; the role is the
    job's own, so the groups are too.
    """
    base = (
        f"/aws-glue/jobs/{glue_security_configuration_name(prefix, env, shard)}-role/"
        f"{glue_job_role_name(prefix, env, job)}"
    )
    return {"output": f"{base}/output", "error": f"{base}/error"}


def glue_continuous_log_group_name(prefix: str, env: str, shard: int) -> str:
    """Glue 4.0's continuous-logging group under a security configuration (shared per shard)."""
    return f"/aws-glue/jobs/logs-v2-{glue_security_configuration_name(prefix, env, shard)}"


def glue_temp_prefix(job: str) -> str:
    """The job's `--TempDir` prefix in the artifacts bucket."""
    return f"temp/{job}/"


def validation_report_prefix(job: str) -> str:
    """Where the job's validation reports go in the artifacts bucket."""
    return f"validation/{job}/"


def airflow_log_group_prefix(prefix: str, env: str) -> str:
    """MWAA names its log groups `airflow-<environment name>-<module>`."""
    return f"airflow-{mwaa_environment_name(prefix, env)}-"


def object_created_rule_id(bucket: str) -> str:
    """The construct id of a source bucket's `Object Created` rule (stacks/trigger_stack.py),
    named by bucket so that adding a bucket never replaces another's rule."""
    return "ObjectCreated" + "".join(p.title() for p in bucket.replace(".", "-").split("-"))


def object_created_rule_output(bucket: str) -> str:
    """The triggers stack's output that holds the ARN of that rule (for `make replay`)."""
    return object_created_rule_id(bucket) + "Arn"


# --- external sources (docs/architecture.md, decision 19) ---------------------------------------
# The source account's side of an external bucket: a rule on that account's default bus that
# forwards the declared prefixes' Object Created events to this environment's default bus, as
# a role allowed only events:PutEvents on it. Named here, so that this environment's bus
# policy can name the role before the source's owner has deployed it.


def source_stack_name(prefix: str, env: str, key: str) -> str:
    """The stack its owner deploys in the external bucket's account (`make deploy-source`)."""
    return stack_name(prefix, env, f"source-{key}")


def source_forward_rule_name(prefix: str, env: str, key: str) -> str:
    """The rule, on the source account's default bus, that forwards to this environment."""
    return _bounded(f"{prefix}-{env}-{key}-forward", 64)


def source_forward_role_name(prefix: str, env: str, key: str) -> str:
    """The role that rule sends as (IAM: 64 characters at most)."""
    return _bounded(f"{prefix}-{env}-{key}-forward", 64)


def bus_statement_id(prefix: str, env: str, key: str) -> str:
    """The statement of this environment's default bus policy that accepts one source's
    forwarded events (EventBridge: 1-64 of [a-zA-Z0-9-_])."""
    return _bounded(f"{prefix}-{env}-{key}-objects", 64)


def default_bus_arn(partition: str, region: str, account: str) -> str:
    """An account's default event bus in a region, where S3 sends its events."""
    return f"arn:{partition}:events:{region}:{account}:event-bus/default"


def role_arn(partition: str, account: str, name: str) -> str:
    """A role by name (IAM roles here have no path)."""
    return f"arn:{partition}:iam::{account}:role/{name}"


# --- tables other deployments depend on (docs/architecture.md, decision 20) ---------------------
# A producer environment forwards its Table Published events to each consumer account's default
# bus with a rule and a role named here, so that the consumer's bus policy can name the role
# from the producer's name_prefix, environment and its own account alone.

TABLE_EVENT_SOURCE = "glueflow"
TABLE_PUBLISHED = "Table Published"


def table_forward_rule_name(prefix: str, env: str, consumer_account: str) -> str:
    """The producer's rule, on its default bus, that forwards to one consumer account."""
    return _bounded(f"{prefix}-{env}-tables-{consumer_account}", 64)


def table_forward_role_name(prefix: str, env: str, consumer_account: str) -> str:
    """The role that rule sends as (IAM: 64 characters at most)."""
    return _bounded(f"{prefix}-{env}-tables-{consumer_account}", 64)


def table_bus_statement_id(
    prefix: str, env: str, producer_account: str, producer_prefix: str, producer_env: str
) -> str:
    """The statement of this environment's default bus policy that accepts one producer
    deployment's Table Published events (EventBridge: 1-64 of [a-zA-Z0-9-_])."""
    return _bounded(
        f"{prefix}-{env}-tables-{producer_account}-{producer_prefix}-{producer_env}", 64
    )


def table_rule_id(key: str) -> str:
    """The construct id of the rule that takes an external table's Table Published events to
    the intake queue, named by the environment's key for the table."""
    return "TablePublished" + "".join(p.title() for p in key.split("_"))


def table_forward_id(consumer_account: str) -> str:
    """The construct id of the forwarding rule (and role) to one consumer account."""
    return f"ForwardTables{consumer_account}"

"""Compile validated configs into `manifest.json`: what the DAGs and the trigger Lambda need.

The runtime reads this JSON with the standard library only (docs/architecture.md, decision 1),
so every name, ARN-free address and price it needs is resolved here, at synth. The output is
deterministic: same configs, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from configs import glue_limits, naming
from configs.loader import Platform
from configs.models import JobConfig, S3Location, TableOutput

MANIFEST_SCHEMA_VERSION = 1


def compile_manifest(platform: Platform) -> dict[str, Any]:
    """The manifest for one environment."""
    env = platform.environment
    cfg = env.config
    artifacts = naming.platform_bucket_name(cfg, env.name, "artifacts")
    tables = {
        (out.bucket, out.prefix): out.table for job in platform.jobs.values() for out in job.outputs
    }
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "environment": {
            "name": env.name,
            "account": cfg.account,
            "region": cfg.region,
            "name_prefix": cfg.name_prefix,
            "mwaa_environment": naming.mwaa_environment_name(cfg.name_prefix, env.name),
            "artifacts_bucket": artifacts,
            "buckets": {
                key: naming.data_bucket_name(cfg, env.name, key) for key in sorted(cfg.buckets)
            },
            # Another account's buckets, by key: what the local run and `make review` tell
            # apart from the environment's own (docs/architecture.md, decision 19).
            "external_buckets": {
                key: {"bucket": source.name, "account": source.account}
                for key, source in sorted(cfg.external_buckets.items())
            },
            "glue_dpu_hour_usd": cfg.pricing.glue_dpu_hour_usd.model_dump(),
            "dpu_per_worker": dict(sorted(glue_limits.DPU_PER_WORKER.items())),
            "partition": naming.partition_for(cfg.region),
            "console_url": naming.console_url(cfg.region),
            "alert_topic_arn": (
                f"arn:{naming.partition_for(cfg.region)}:sns:{cfg.region}:{cfg.account}:"
                f"{naming.alert_topic_name(cfg.name_prefix, env.name)}"
            ),
            "alert_channels": sorted({channel.type for channel in cfg.alerts}),
            "catalog_database": naming.catalog_database_name(cfg.name_prefix, env.name),
        },
        "jobs": {
            name: _job_entry(platform, job, artifacts, tables)
            for name, job in sorted(platform.jobs.items())
        },
    }


def _location(platform: Platform, location: S3Location) -> dict[str, str]:
    env = platform.environment
    bucket = naming.data_bucket_name(env.config, env.name, location.bucket)
    return {"bucket": bucket, "prefix": location.prefix, "uri": f"s3://{bucket}/{location.prefix}"}


def _output(platform: Platform, out: TableOutput, job: JobConfig) -> dict[str, Any]:
    """A table the job writes: where, how it is partitioned, what a run replaces, and (for a
    job with a validation gate) the table of its rejected rows."""
    return {
        **_location(platform, out),
        "table": out.table,
        "partitioned_by": list(out.partitioned_by),
        "replace": out.replace,
        "quarantine_table": (
            naming.quarantine_table_name(out.table) if job.validation is not None else None
        ),
    }


def _input(platform: Platform, location: S3Location, tables: dict[Any, str]) -> dict[str, Any]:
    """An input, with the table it is when a job of the environment publishes there: a job
    reads another job's output as its published table, never its folder."""
    return {
        **_location(platform, location),
        "table": tables.get((location.bucket, location.prefix)),
    }


def _trigger(platform: Platform, job: JobConfig) -> dict[str, Any]:
    trigger = job.trigger
    if trigger.s3 is not None:
        env = platform.environment
        return {
            "type": "s3",
            "bucket": naming.data_bucket_name(env.config, env.name, trigger.s3.bucket),
            "prefix": trigger.s3.prefix or "",
            "suffix": trigger.s3.suffix or "",
        }
    if trigger.schedule is not None:
        return {"type": "schedule", "cron": trigger.schedule}
    if trigger.table is not None:
        return _table_trigger(platform, trigger.table)
    return {"type": "manual"}


def _table_trigger(platform: Platform, key: str) -> dict[str, Any]:
    """A job started by another deployment's table (docs/architecture.md, decision 20): the
    trigger Lambda routes a Table Published event by its account, name_prefix, environment
    and table."""
    table = platform.environment.config.external_tables[key]
    return {
        "type": "table",
        "key": key,
        "account": table.account,
        "region": table.region,
        "name_prefix": table.name_prefix,
        "environment": table.environment,
        "table": table.table,
    }


def _job_entry(
    platform: Platform, job: JobConfig, artifacts_bucket: str, tables: dict[Any, str]
) -> dict[str, Any]:
    env = platform.environment
    prefix = env.config.name_prefix
    glue = job.glue
    price = env.config.pricing.glue_dpu_hour_usd
    shard = naming.job_shard_for(job.name, env.config.job_shards)
    return {
        "dag_id": job.name,
        "glue_job_name": naming.glue_job_name(prefix, env.name, job.name),
        "description": job.description,
        "owner": job.owner,
        "tags": dict(sorted({**env.config.tags, **job.tags}.items())),
        "script": job.script,
        "glue": {
            "version": glue.version,
            "worker_type": glue.worker_type,
            "workers": glue.workers,
            "dpu_per_worker": glue_limits.DPU_PER_WORKER[glue.worker_type],
            "execution_class": glue.execution_class,
            "dpu_hour_usd": price.flex if glue.execution_class == "FLEX" else price.standard,
            "timeout_minutes": glue.timeout_minutes,
            "typical_minutes": glue.typical_minutes,
            "max_retries": glue.max_retries,
            "max_concurrent_runs": glue.max_concurrent_runs,
            "arguments": dict(sorted(glue.arguments.items())),
            "log_groups": naming.glue_log_group_names(prefix, env.name, job.name, shard),
            "temp_dir": f"s3://{artifacts_bucket}/{naming.glue_temp_prefix(job.name)}",
        },
        "inputs": [_input(platform, loc, tables) for loc in job.inputs],
        "outputs": [_output(platform, out, job) for out in job.outputs],
        "trigger": _trigger(platform, job),
        "depends_on": sorted(job.depends_on),
        # The run's report (counts, and what it wrote, for the publish task); the Glue entry
        # point writes it for every job with an output or a gate.
        "report_prefix": (
            f"s3://{artifacts_bucket}/{naming.validation_report_prefix(job.name)}"
            if job.validation or job.outputs
            else None
        ),
        "validation": (
            {
                "max_invalid_ratio": job.validation.max_invalid_ratio,
                "report_prefix": (
                    f"s3://{artifacts_bucket}/{naming.validation_report_prefix(job.name)}"
                ),
            }
            if job.validation
            else None
        ),
        "cost_budget_usd": job.cost_budget_usd,
        "airflow": job.airflow.model_dump(),
        "downstream": downstream_graph(job),
    }


def manifest_json(manifest: dict[str, Any]) -> str:
    """Canonical text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def build_dir(assembly_dir: Path, env: str) -> Path:
    """Where synth puts what it builds for an environment beside the templates: the manifest,
    the Glue library zip and the trigger Lambda's bundle, each in a folder of its own."""
    return assembly_dir / "glueflow" / env


def manifest_path(assembly_dir: Path, env: str) -> Path:
    """Where synth puts an environment's manifest: inside the cloud assembly directory, in a
    folder of its own, because that folder is what the DAG deployment ships beside the DAGs."""
    return build_dir(assembly_dir, env) / "manifest" / "manifest.json"


def write_manifest(manifest: dict[str, Any], path: Path) -> Path:
    """Write the manifest where the DAG and Lambda bundles pick it up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest_json(manifest), encoding="utf-8")
    return path


def downstream_graph(job: JobConfig) -> list[dict[str, Any]]:
    """The job's steps for the DAG factory, each with the steps it runs `after` spelled out:
    unset, the step before it (none for the first, which runs after the publish)."""
    steps = []
    for i, step in enumerate(job.downstream):
        entry = step.model_dump()
        if entry["after"] is None:
            entry["after"] = [job.downstream[i - 1].name] if i else []
        steps.append(entry)
    return steps

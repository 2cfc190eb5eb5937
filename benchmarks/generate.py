"""Realistic generated job configs, for scale tests and benchmarks (`-c jobs_dir=PATH`)."""

from __future__ import annotations

import json
from pathlib import Path

WORKER_TYPES = ("G.1X", "G.2X", "G.4X")
# The job every generated trigger_job step starts: it exists at any size and starts no other
# job itself, so the steps make no cycle.
TRIGGERED_JOB = "gen_job_00000"
WORKGROUP_ARN = (
    "arn:aws:redshift-serverless:eu-west-1:111111111111:workgroup/"
    "4a2f9c1e-8b7d-4c3a-9e61-0d5b2f7a8c14"
)
# The ARN of a credentials secret, not a secret.
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:warehouse-AbCdEf"  # noqa: S105


def generated_job(i: int, *, downstream: bool = False) -> dict:
    """Job number `i`: a mix of event, scheduled and dependent jobs, as a real fleet has.

    With `downstream`, every DAG part the factory can build is in the mix: Redshift and
    trigger_job steps after the gate, cost budgets, jobs without failure alerts and jobs
    scheduled on either a cron or their upstream. Off by default, because the synth's scale
    tests pin the resources of the plain mix.
    """
    name = f"gen_job_{i:05d}"
    job: dict = {
        "name": name,
        "description": f"Generated job {i} for scale tests",
        "owner": f"team-{i % 17}@example.com",
        "tags": {"domain": f"domain{i % 9}"},
        "script": "glue_scripts/jobs/sales_ingest.py",
        "glue": {"worker_type": WORKER_TYPES[i % 3], "workers": 2 + i % 8},
        "inputs": [{"bucket": "raw", "prefix": f"gen/{name}/in/"}],
        "outputs": [
            {
                "bucket": "curated",
                "prefix": f"gen/{name}/out/",
                "table": name,
                "columns": {"order_id": "string", "amount": "decimal(12,2)", "sale_date": "date"},
                "partitioned_by": ["sale_date"],
                "replace": "source_object" if i % 3 == 0 else "partitions",
            }
        ],
        "validation": {"max_invalid_ratio": 0.05},
    }
    kind = i % 3
    if kind == 0:
        job["trigger"] = {"s3": {"bucket": "raw", "prefix": f"gen/{name}/in/", "suffix": ".csv"}}
    elif kind == 1:
        job["trigger"] = {"schedule": f"{i % 60} {i % 24} * * *"}
    elif i >= 3:
        job["depends_on"] = [f"gen_job_{i - 1:05d}"]
    if downstream:
        _add_downstream(job, i)
    return job


def _add_downstream(job: dict, i: int) -> None:
    """Steps, budget, alerts and an asset-or-time schedule, varied by `i` (generated_job)."""
    job["cost_budget_usd"] = float(1 + i % 5)
    job["airflow"] = {"retries": i % 3, "alert_on_failure": i % 4 != 3}
    if i % 2 == 0:
        target = {"workgroup": "analytics", "workgroup_arn": WORKGROUP_ARN}
    else:
        target = {"cluster_identifier": "warehouse", "secret_arn": SECRET_ARN}
    job["downstream"] = [
        {
            "type": "redshift_sql",
            "name": "refresh_mart",
            "database": "analytics",
            "sql": f"REFRESH MATERIALIZED VIEW mart.gen_{i:05d};",
            **target,
        }
    ]
    if i % 3 == 1:
        job["downstream"].append(
            {
                "type": "trigger_job",
                "name": "start_first_job",
                "job": TRIGGERED_JOB,
                "conf": {"from": i},
            }
        )
    if i % 6 == 5:  # a dependent job that also runs daily: scheduled on its upstream or the time
        job["trigger"] = {"schedule": f"{i % 60} {i % 24} * * *"}


def write_jobs(folder: Path, count: int, *, downstream: bool = False) -> Path:
    """Write `count` job files (JSON, which YAML reads) into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        job = generated_job(i, downstream=downstream)
        (folder / f"gen_job_{i:05d}.yaml").write_text(json.dumps(job))
    return folder

"""Realistic generated job configs, for scale tests and benchmarks (`-c jobs_dir=PATH`)."""

from __future__ import annotations

import json
from pathlib import Path

WORKER_TYPES = ("G.1X", "G.2X", "G.4X")


def generated_job(i: int) -> dict:
    """Job number `i`: a mix of event, scheduled and dependent jobs, as a real fleet has."""
    name = f"gen_job_{i:05d}"
    job: dict = {
        "name": name,
        "description": f"Generated job {i} for scale tests",
        "owner": f"team-{i % 17}@example.com",
        "tags": {"domain": f"domain{i % 9}"},
        "script": "glue_scripts/jobs/sales_ingest.py",
        "glue": {"worker_type": WORKER_TYPES[i % 3], "workers": 2 + i % 8},
        "inputs": [{"bucket": "raw", "prefix": f"gen/{name}/in/"}],
        "outputs": [{"bucket": "curated", "prefix": f"gen/{name}/out/"}],
        "validation": {"max_invalid_ratio": 0.05},
    }
    kind = i % 3
    if kind == 0:
        job["trigger"] = {"s3": {"bucket": "raw", "prefix": f"gen/{name}/in/", "suffix": ".csv"}}
    elif kind == 1:
        job["trigger"] = {"schedule": f"{i % 60} {i % 24} * * *"}
    elif i >= 3:
        job["depends_on"] = [f"gen_job_{i - 1:05d}"]
    return job


def write_jobs(folder: Path, count: int) -> Path:
    """Write `count` job files (JSON, which YAML reads) into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"gen_job_{i:05d}.yaml").write_text(json.dumps(generated_job(i)))
    return folder

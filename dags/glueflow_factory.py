"""Glueflow's factory DAG file: one Airflow DAG per job in the manifest.json beside it.

The scheduler re-imports this file every 30 s, so it only reads a local JSON file: no network
call, no config library (docs/architecture.md, decision 1). A worker about to run one DAG builds
only that one (`get_parsing_context`).
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import get_parsing_context

from glueflow_runtime.dag_builder import build_dags, load_manifest

MANIFEST = Path(__file__).with_name("manifest.json")

globals().update(
    {
        dag.dag_id: dag
        for dag in build_dags(load_manifest(MANIFEST), only=get_parsing_context().dag_id)
    }
)

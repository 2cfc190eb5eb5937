"""Glueflow's factory DAG file: one Airflow DAG per job in the manifest.json beside it.

The scheduler re-imports this file every 30 s, so it only reads a local JSON file: no network
call, no config library (docs/architecture.md, decision 1). A worker about to run one DAG builds
only that one (`get_parsing_context`).
"""

from __future__ import annotations

from pathlib import Path

# Every DAG runs a Glue job and prices it with a Python task, so these two are imported here
# at the top: the DAG processor's manager imports a DAG file's top-level `airflow.*` imports
# once, before it forks the child that parses the file ([dag_processor]
# parsing_pre_import_modules). Operators only some DAGs use are imported by dag_builder.
import airflow.providers.amazon.aws.operators.glue
import airflow.providers.standard.operators.python  # noqa: F401
from airflow.sdk import get_parsing_context

from glueflow_runtime.dag_builder import build_dags, load_manifest

MANIFEST = Path(__file__).with_name("manifest.json")

globals().update(
    {
        dag.dag_id: dag
        for dag in build_dags(load_manifest(MANIFEST), only=get_parsing_context().dag_id)
    }
)

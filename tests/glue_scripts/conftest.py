"""A local SparkSession (PySpark 3.5.6, as Glue 5.1 runs) and the job scripts, loaded by path."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from types import ModuleType

import pytest
from pyspark.sql import SparkSession

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[1]")
        .appName("glueflow-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


def load_script(name: str) -> ModuleType:
    """A job script as a module (glue_scripts/jobs is a folder of scripts, not a package)."""
    path = REPO_ROOT / "glue_scripts" / "jobs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"glue_job_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

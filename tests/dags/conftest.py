"""A DAG folder as MWAA gets it: the factory, its runtime package, and a compiled manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from configs.loader import load_platform
from configs.manifest import compile_manifest, write_manifest
from tests.conftest import REPO_ROOT


def dag_folder(target: Path, manifest: dict) -> Path:
    """Copy dags/ to `target` and put `manifest` beside the factory, as the deployment does."""
    shutil.copytree(
        REPO_ROOT / "dags", target, ignore=shutil.ignore_patterns("__pycache__", "README.md")
    )
    write_manifest(manifest, target / "manifest.json")
    return target


@pytest.fixture(scope="session")
def dev_manifest() -> dict:
    return compile_manifest(load_platform("dev"))


@pytest.fixture(scope="session")
def dev_dag_folder(tmp_path_factory: pytest.TempPathFactory, dev_manifest: dict) -> Path:
    return dag_folder(tmp_path_factory.mktemp("dags") / "dags", dev_manifest)

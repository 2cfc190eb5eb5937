"""Shared fixtures. A `project` is a throwaway copy of the config layout in tmp_path."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from glueflow_local.mwaa import mwaa_airflow_env

REPO_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration when first imported: Airflow's defaults plus what MWAA sets
# for the deployed version (not Airflow's unit-test config, whose defaults differ from MWAA's),
# then the test run's own home and SQLite database, no examples, and dummy AWS credentials
# (moto answers every AWS call).
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="glueflow-airflow-"))
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)  # whatever the calling shell had
os.environ.update(
    {
        **mwaa_airflow_env(),
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
)

# jsii starts `node` from PATH: use the venv's (Node 22+ from PyPI when the system one is old).
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def valid_environment() -> dict[str, Any]:
    """A complete, valid environment config."""
    return {
        "account": "123456789012",
        "region": "eu-west-1",
        "name_prefix": "gf",
        "network": {"new_vpc": {"cidr": "10.1.0.0/16"}},
        "buckets": {"raw": {"description": "landing"}, "curated": {}},
        "alerts": [{"type": "slack", "secret_name": "glueflow/test/slack"}],
        "removal_policy": "destroy",
    }


def table_output(bucket: str, prefix: str, table: str | None = None) -> dict[str, Any]:
    """A valid output table at bucket/prefix (named after the prefix unless `table` is given),
    replaced partition by partition, which every kind of job may do."""
    return {
        "bucket": bucket,
        "prefix": prefix,
        "table": table or prefix.strip("/").replace("/", "_").replace("-", "_"),
        "columns": {"id": "string", "day": "date"},
        "partitioned_by": ["day"],
        "replace": "partitions",
    }


def valid_job(name: str, **fields: Any) -> dict[str, Any]:
    """A complete, valid job config; keyword arguments replace top-level fields. A job that
    names `depends_on` starts from its upstream jobs (no S3 trigger) unless it names one."""
    job = {
        "name": name,
        "description": f"{name} test job",
        "owner": "team@example.com",
        "script": "glue_scripts/jobs/job.py",
        "inputs": [{"bucket": "raw", "prefix": f"{name}/in/"}],
        "outputs": [table_output("curated", f"{name}/out/")],
        "trigger": {"s3": {"bucket": "raw", "prefix": f"{name}/in/", "suffix": ".csv"}},
    }
    if "depends_on" in fields:
        job["trigger"] = {}
    job.update(fields)
    return job


class Project:
    """A config tree under a temporary root: configs/environments, configs/jobs, glue_scripts."""

    def __init__(self, root: Path):
        self.root = root
        self.environments_dir = root / "configs" / "environments"
        self.jobs_dir = root / "configs" / "jobs"
        self.environments_dir.mkdir(parents=True)
        self.jobs_dir.mkdir(parents=True)
        (root / "glue_scripts" / "jobs").mkdir(parents=True)
        (root / "glue_scripts" / "jobs" / "job.py").write_text("# test script\n")

    def write_env(self, name: str, config: dict[str, Any] | str) -> Path:
        return self._write(self.environments_dir / f"{name}.yaml", config)

    def write_job(self, file_stem: str, config: dict[str, Any] | str) -> Path:
        return self._write(self.jobs_dir / f"{file_stem}.yaml", config)

    @staticmethod
    def _write(path: Path, config: dict[str, Any] | str) -> Path:
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        path.write_text(text)
        return path

    def paths(self) -> dict[str, Any]:
        return {"jobs_dir": self.jobs_dir, "environments_dir": self.environments_dir}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project; tests write the configs they need."""
    return Project(tmp_path)


@pytest.fixture
def valid_project(project: Project) -> Project:
    """A project with one valid environment and one valid job."""
    project.write_env("dev", valid_environment())
    project.write_job("ingest", valid_job("ingest"))
    return project


# Fixtures that make every test using them slow, wherever the test is: `make test-fast` runs
# `pytest -m "not slow"` and leaves these tests out.
SLOW_FIXTURES = {"spark": "starts a local Spark session (a JVM)"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that uses a fixture of SLOW_FIXTURES, directly or through another
    fixture (tests/glue_scripts, tests/local). Other slow tests carry their own mark: a
    module-level `pytestmark` or a decorator, with the reason beside it."""
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# The synthesized dev and prod environments, for every test folder (imported late: synth
# imports the CDK app, which needs the environment above).
from tests.synth import dev, prod  # noqa: E402, F401

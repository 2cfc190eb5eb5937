"""One job whose DAG cannot be built never takes the others off MWAA.

The factory is one DAG file, and an exception that escapes a DAG file makes the whole file an
import error with no DAG from it (airflow/models/dagbag.py, `_load_modules_from_file`: the
module is not loaded, `import_errors[filepath]` is set). So each job is built on its own.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

from glueflow_runtime.ids import BROKEN_TASK
from tests.dags.conftest import dag_folder


@pytest.fixture
def one_bad_entry(dev_manifest: dict) -> dict:
    manifest = copy.deepcopy(dev_manifest)
    del manifest["jobs"]["sales_ingest"]["glue"]  # what no compiled manifest lacks
    return manifest


def test_the_other_jobs_still_load_and_the_broken_one_says_why(
    tmp_path: Path, one_bad_entry: dict, dev_dag_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="glueflow_runtime.dag_builder")
    folder = dag_folder(tmp_path / "dags", one_bad_entry, dev_dag_folder)

    bag = DagBag(dag_folder=str(folder), safe_mode=True)

    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(one_bad_entry["jobs"])
    healthy = bag.dags["sales_daily_aggregate"]
    assert "run_glue_job" in healthy.task_ids
    broken = bag.dags["sales_ingest"]
    assert broken.task_ids == [BROKEN_TASK]
    assert "glueflow:broken" in broken.tags
    assert "KeyError: 'glue'" in broken.description
    assert any(
        "sales_ingest" in r.getMessage() and "could not be built" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.slow  # not in `make test-fast`: runs a DAG with dag.test()
def test_a_run_of_the_broken_job_fails_with_the_build_error(
    airflow_db, tmp_path: Path, one_bad_entry: dict, dev_dag_folder: Path
) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils.state import DagRunState

    folder = dag_folder(tmp_path / "dags", one_bad_entry, dev_dag_folder)
    bag = DagBag(dag_folder=str(folder))
    DagBundlesManager().sync_bundles_to_db()  # as the DAG processor registers the folder
    sync_bag_to_db(bag, "dags-folder", None)

    run = bag.get_dag("sales_ingest").test()

    assert run.state == DagRunState.FAILED

"""MWAA's `dags/` folder exactly as the bucket deployment ships it, parsed as MWAA parses it.

The folder is rebuilt from a synthesized cloud assembly: the sources of the one
BucketDeployment that writes the `dags/` prefix, unpacked in order
(glueflow_local/assembly.py). With pruning on, that is all the prefix holds. MWAA copies the
prefix to the DAG folder and Airflow puts the DAG folder on `sys.path` (airflow/settings.py,
`prepare_syspath_for_config_and_plugins`); the DAG processor then imports every `.py` file and
scans every zip that `.airflowignore` does not exclude (airflow/models/dagbag.py,
`collect_dags` with `safe_mode`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glueflow_local.assembly import CloudAssembly
from tests.conftest import REPO_ROOT

# The venv's Node when the system one is too old (tests/conftest.py puts the venv first).
NPX = shutil.which("npx") or "npx"
# The factory's packages: its runtime, and the step registry it builds the steps from.
PACKAGES = ("glueflow_runtime", "glueflow_steps")
EXPECTED_FILES = sorted(
    [".airflowignore", "glueflow_factory.py", "manifest.json"]
    + [
        f"{package}/{p.name}"
        for package in PACKAGES
        for p in (REPO_ROOT / "dags" / package).glob("*.py")
    ]
)


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def resynthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dags/ from an assembly that `cdk synth` (as `make synth` runs it) wrote twice into the
    same folder: what the first synth leaves behind must not leak into the second's DAGs."""
    outdir = tmp_path_factory.mktemp("twice") / "cdk.out"
    for _ in range(2):
        subprocess.run(
            [NPX, "--no-install", "cdk", "synth", "--quiet", "-o", str(outdir), "-c", "env=dev"],
            cwd=REPO_ROOT,
            env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"},
            check=True,
            capture_output=True,
            timeout=600,
        )
    return CloudAssembly(outdir, "dev").deployed_folder(
        "dags/", tmp_path_factory.mktemp("mwaa") / "dags"
    )


def test_the_folder_holds_the_factory_its_runtime_ignore_file_and_manifest(
    dev_dag_folder: Path,
) -> None:
    assert files_in(dev_dag_folder) == EXPECTED_FILES


@pytest.mark.slow  # not in `make test-fast`: runs cdk synth twice
def test_several_synths_into_one_assembly_ship_the_same_folder(resynthesized: Path) -> None:
    assert files_in(resynthesized) == EXPECTED_FILES


@pytest.mark.slow  # not in `make test-fast`: runs cdk synth twice
def test_the_shipped_folder_parses_with_no_import_error_and_a_dag_per_job(
    resynthesized: Path,
) -> None:
    """A DagBag in safe mode in a fresh interpreter, the folder on sys.path as on MWAA."""
    script = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(resynthesized)!r},"
        " safe_mode=True)\n"
        "print(json.dumps({'errors': {k: str(v)[-300:] for k, v in bag.import_errors.items()},"
        " 'dags': sorted(bag.dag_ids), 'files': sorted(bag.file_last_changed)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(resynthesized)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((resynthesized / "manifest.json").read_text())

    assert parsed["errors"] == {}
    assert parsed["dags"] == sorted(manifest["jobs"])
    assert len(parsed["dags"]) == 6
    # .airflowignore keeps the runtime package out of the parse: only the factory is a DAG file.
    assert [Path(f).name for f in parsed["files"]] == ["glueflow_factory.py"]


# The operator modules a factory DAG may use, and what in a job makes it use each.
OPTIONAL_OPERATORS = {
    "airflow.providers.amazon.aws.sensors.s3": "a scheduled job's input sensor",
    "airflow.providers.amazon.aws.operators.redshift_data": "a redshift_sql step",
    "airflow.providers.standard.operators.trigger_dagrun": "a trigger_job step",
}


@pytest.mark.slow  # a fresh interpreter that imports Airflow, per DAG
@pytest.mark.parametrize(
    ("dag_id", "uses"),
    [
        ("customer_ltv", set()),  # asset-triggered, no sensor, no step
        ("marketing_events_ingest", {"airflow.providers.standard.operators.trigger_dagrun"}),
        (
            "sales_daily_aggregate",
            {
                "airflow.providers.amazon.aws.sensors.s3",
                "airflow.providers.amazon.aws.operators.redshift_data",
            },
        ),
    ],
)
def test_a_worker_imports_only_the_operators_its_dag_uses(
    dev_dag_folder: Path, dag_id: str, uses: set[str]
) -> None:
    """A worker about to run a task builds only that task's DAG: Airflow sets the parsing
    context (the `_AIRFLOW_PARSING_CONTEXT_DAG_ID` and `_TASK_ID` variables that
    airflow/sdk/definitions/_internal/dag_parsing_context.py reads) before it imports the DAG
    file. The factory then imports an optional operator's module only when that DAG has it."""
    script = (
        "import json, runpy, sys\n"
        f"runpy.run_path({str(dev_dag_folder / 'glueflow_factory.py')!r})\n"
        f"optional = {sorted(OPTIONAL_OPERATORS)!r}\n"
        "print(json.dumps([m for m in optional if m in sys.modules]))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(dev_dag_folder),
        "_AIRFLOW_PARSING_CONTEXT_DAG_ID": dag_id,
        "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "run_glue_job",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(json.loads(result.stdout.splitlines()[-1])) == uses

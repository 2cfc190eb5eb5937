"""`make run-local KEEP=1`: the first try leaves the local platform up, the next tries run on
it (a new file, a changed script) without starting it again, and `make stop-local` ends it.

Run with the README's commands in this checkout, with ASSEMBLY= the session's dev assembly (no
synth) and LOCAL_DIR= a temp folder, as tests/local/test_demo.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.local.test_demo import MAKE, clean_env

# Slow, not in `make test-fast`: starts the local platform (moto, Airflow, Spark).
pytestmark = pytest.mark.slow

SAMPLES = REPO_ROOT / "glueflow_local" / "samples"


def _run_local(dev, local: Path, sample: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "run-local", "KEEP=1",
         "JOB=sales_ingest", f"FILE={SAMPLES / sample}", f"ASSEMBLY={dev.outdir}",
         f"LOCAL_DIR={local}"],
        cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_the_next_try_runs_on_the_platform_the_first_left_up(dev, tmp_path: Path) -> None:
    local = tmp_path / "kept"
    try:
        first = _run_local(dev, local, "sales_good.csv")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "starting the kept local platform" in first.stdout
        state = json.loads((local / "platform.json").read_text())
        os.kill(state["pid"], 0)  # still up after the command returned

        second = _run_local(dev, local, "sales_bad.csv")
        # The gate stops this one (as make try shows): make fails, the platform stays up.
        assert second.returncode != 0
        assert "starting the kept local platform" not in second.stdout
        assert "kept platform: running sales_ingest on sales_bad.csv" in second.stdout
        assert "report: 8 of 20 records invalid (bad_amount 5, bad_sold_at 3, bad_quantity 1)" in (
            second.stdout
        )
        assert json.loads((local / "platform.json").read_text())["pid"] == state["pid"]
        # Both runs' outputs are in the one platform's folder.
        assert "published glueflow_dev.sales_orders: 40 rows, 0 from this run" in second.stdout
    finally:
        stopped = subprocess.run(
            [MAKE, "--no-print-directory", "-o", ".venv/.installed", "stop-local",
             f"ASSEMBLY={dev.outdir}", f"LOCAL_DIR={local}"],
            cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert "kept platform stopped" in stopped.stdout
    assert not (local / "platform.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)

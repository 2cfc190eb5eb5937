"""`make scenario`, as the README gives it: the shipped scenarios (scenarios/, one per fault
the intake must survive) run on one local run and every expectation holds; a scenario that
nobody in the project wrote, with a count that does not hold, fails the run with its verdict.

One `make scenario FILE=<folder>` run: a copy of scenarios/ plus that extra scenario, with
ASSEMBLY= the session's dev assembly (no second synth) and LOCAL_DIR= a temp folder. What is
checked is what the command printed and its exit status; the counts themselves come from
Airflow's API, the Glue stand-in's runs, SQS's queue attributes and the webhook.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from tests.local.test_demo import MAKE, clean_env

# Slow, not in `make test-fast`: the local run (Airflow's processes, Spark) for minutes.
pytestmark = pytest.mark.slow

SCENARIO_TIMEOUT_S = 1500  # the bound; the shipped scenarios take about 10 minutes on 2 cores
SHIPPED = sorted(p.stem for p in (REPO_ROOT / "scenarios").glob("*.yaml"))
# A scenario from outside the project: one file lands, and it claims two runs and an alert.
WRONG = """\
description: One file lands; this scenario wrongly expects two runs and an alert.
clock: {compression: 600}
steps:
  - land: {job: sales_ingest, body: "order_id,store_id,sold_at,amount,quantity,customer_id\\n\
o-1,s-1,2026-11-23 09:15:00,12.50,1,c-1\\n", key: outsider/one.csv}
  - wait: {until: idle}
  - expect:
      dag_runs: {sales_ingest: {success: 2}}
      alerts: 1
"""


@pytest.fixture(scope="module")
def played(dev, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    folder = tmp_path_factory.mktemp("scenarios")
    for path in (REPO_ROOT / "scenarios").glob("*.yaml"):
        shutil.copy(path, folder)
    # The same clock as the shipped ones: it runs on their local run, last.
    (folder / "zz_outsider.yaml").write_text(WRONG)
    local = tmp_path_factory.mktemp("local")
    return subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "scenario", f"FILE={folder}",
         f"ASSEMBLY={dev.outdir}", f"LOCAL_DIR={local}"],
        cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True,
        timeout=SCENARIO_TIMEOUT_S,
    )  # fmt: skip


def _verdicts(out: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for mark, name, rest in re.findall(r"^(ok  |FAIL) (\w+): (.*)$", out, re.MULTILINE):
        found.setdefault(name, []).append(f"{mark.strip()} {rest}")
    return found


def test_every_shipped_scenario_holds(played) -> None:
    verdicts = _verdicts(played.stdout)
    tail = played.stdout[-3000:] + played.stderr[-2000:]
    assert sorted(n for n in verdicts if n != "zz_outsider") == SHIPPED, tail
    for name in SHIPPED:
        failed = [v for v in verdicts[name] if not v.startswith("ok")]
        assert not failed, f"{name}: {failed}\n{tail}"


def test_a_count_that_does_not_hold_fails_the_run_with_its_verdict(played) -> None:
    """The command exits 1 ("Error 1" in make's report), and make, whose recipe failed,
    exits 2 ("Exit Status of make", GNU make manual)."""
    assert played.returncode == 2, played.stderr[-2000:]
    assert re.search(r"\] Error 1$", played.stderr.strip()), played.stderr[-2000:]
    assert "FAILED in" in played.stdout
    verdicts = _verdicts(played.stdout)["zz_outsider"]
    assert "FAIL DAG runs of sales_ingest success: 1 (expected 2)" in verdicts
    assert "FAIL alerts: 0 (expected 1)" in verdicts
    held = rf"^\d+ of \d+ expectations held, in {len(SHIPPED) + 1} scenario\(s\)$"
    assert re.search(held, played.stdout, re.MULTILINE)

"""`make run-local`, as someone adding a job uses it: scaffold a job in a clone, fill in its
transform, and run it on a file; then break the script and see the run fail as it would on
Glue, with the script's traceback in the alert. Also: bad input is one line, and Ctrl-C ends
every process the run started.

The clone borrows this checkout's venv and CDK CLI (`make -o .venv/.installed`), as
tests/test_clone.py does; `.ci/run` proves the install itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.local.test_demo import MAKE, clean_env
from tests.test_clone import borrowing_clone

# Slow, not in `make test-fast`: clones the repository and runs `make run-local` end to end.
pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 600  # the bound on one run-local, synthesis included
JOB = "store_returns"
JOB_CONFIG = """\
name: store_returns
description: Loads the items returned in stores and flags the high-value returns.
owner: sales-data@example.com
script: glue_scripts/jobs/store_returns.py
glue:
  version: "5.1"
  worker_type: G.1X
  workers: 2
  timeout_minutes: 60
inputs:
  - bucket: raw
    prefix: store_returns/incoming/
    format: {type: csv, null_values: ["NA"]}
outputs:
  - bucket: curated
    prefix: store_returns/
    table: store_returns
    columns: {return_id: string, store_id: string, amount: "decimal(10,2)", high_value: boolean}
    replace: source_object
trigger:
  s3: {bucket: raw, prefix: store_returns/incoming/, suffix: .csv}
validation:
  max_invalid_ratio: 0.5
"""
RETURNS = "return_id,store_id,amount\nR1,store-042,25.00\nR2,store-042,180.50\nR3,store-077,-4\n"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone with a job scaffolded by `make new-job` and filled in as its author would."""
    clone = borrowing_clone(tmp_path_factory.mktemp("run-local") / "glueflow")
    make(clone, "new-job", f"NAME={JOB}", check=True)
    (clone / "configs" / "jobs" / f"{JOB}.yaml").write_text(JOB_CONFIG)
    script = clone / "glue_scripts" / "jobs" / f"{JOB}.py"
    text = script.read_text()
    for stub, filled in (
        ("from pyspark.sql import Column, DataFrame, SparkSession\n",
         "from pyspark.sql import Column, DataFrame, SparkSession\n"
         "from pyspark.sql import functions as F\n"),
        ("    return []\n",
         '    return [("bad_amount", F.col("amount").isNull() | (F.col("amount") <= 0))]\n'),
        ("    return frame\n",
         '    return frame.withColumn("high_value", F.col("amount") >= 100)\n'),
        ("        validated = validate(read_input(spark, run))\n",
         "        raw = read_input(spark, run)\n"
         '        typed = raw.withColumn("amount", F.expr("try_cast(amount as decimal(10,2))"))\n'
         "        validated = validate(typed)\n"),
    ):  # fmt: skip
        assert stub in text, f"the scaffold changed: {stub!r}"
        text = text.replace(stub, filled)
    script.write_text(text)
    (clone / "returns.csv").write_text(RETURNS)
    return clone


def make(clone: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=clone, env=clean_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_a_scaffolded_job_runs_on_its_authors_file(clone: Path) -> None:
    done = make(clone, "run-local", f"JOB={JOB}", "FILE=returns.csv", "LOCAL_DIR=build/ok")

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    out = done.stdout
    # The rows the run published (R3's negative amount is rejected, into quarantine), its
    # report, its run.
    assert "published glueflow_dev.store_returns: 2 rows, 2 from this run" in out
    assert "quarantined: 1 rows" in out
    assert "report: 1 of 3 records invalid (bad_amount 1)" in out
    assert re.search(r'  rejected: \{"return_id":"R3","store_id":"store-077","amount":-4\.00\} '
                     r"\(bad_amount\)", out), out[-3000:]  # fmt: skip
    assert re.search(r"DAG run s3__\w+: success", out)
    assert "  validation_gate: success" in out
    assert "  publish: success" in out
    # The published table, queried by its catalog name after the run has ended.
    query = make(
        clone, "query", "LOCAL_DIR=build/ok",
        "SQL=select return_id, amount, high_value from glueflow_dev.store_returns order by 1",
    )  # fmt: skip
    assert query.returncode == 0, query.stdout[-2000:] + query.stderr[-2000:]
    assert re.search(r"R1\s*│\s*25\.00\s*│\s*false", query.stdout), query.stdout
    assert re.search(r"R2\s*│\s*180\.50\s*│\s*true", query.stdout), query.stdout
    assert "R3" not in query.stdout


def test_a_script_that_raises_fails_the_run_and_the_alert_shows_its_traceback(
    clone: Path,
) -> None:
    script = clone / "glue_scripts" / "jobs" / f"{JOB}.py"
    script.write_text(
        script.read_text().replace('F.col("amount") >= 100', 'F.col("amount_usd") >= 100')
    )

    done = make(clone, "run-local", f"JOB={JOB}", "FILE=returns.csv", "LOCAL_DIR=build/raises")

    assert done.returncode != 0
    assert "FAILED in" in done.stdout
    assert re.search(rf"glueflow-dev-{JOB}: run jr_\S+ FAILED after", done.stdout)
    received = clone / "build" / "raises" / "latest" / "alerts.jsonl"
    alerts = [json.loads(line) for line in received.read_text().splitlines()]
    task_alert = next(a for a in alerts if "run_glue_job failed" in a["payload"]["text"])
    tail = "\n".join(task_alert["lines"])
    # The script's own frame and the exception, in the order Python printed them.
    frame = tail.index(f'{JOB}.py", line')
    assert tail.index('withColumn("high_value", F.col("amount_usd")') > frame
    assert "AnalysisException: [UNRESOLVED_COLUMN" in tail[frame:]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "--job", "no_such_job", "--file", "README.md"],
         "error: JOB no_such_job: no such job in this environment; jobs: agency_spend_ingest, "
         "customer_ltv,"),
        (["run", "--job", "sales_ingest", "--file", "missing.csv"],
         "error: FILE missing.csv: no such file"),
        (["run", "--job", "sales_ingest", "--file", "README.md"],
         "error: FILE README.md: job sales_ingest starts on keys under "
         "s3://glueflow-dev-raw-111111111111/sales/incoming/ ending in .csv"),
        (["--port", "{port}", "demo"], "error: port {port} is already in use"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(dev, args: list[str], said: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "glueflow_local", "--assembly", str(dev.outdir),
             *(a.format(port=port) for a in args)],
            cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(said.format(port=port)), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr + done.stdout


def _holding(marker: str) -> list[int]:
    """Processes whose command line or environment mentions `marker`: every process a local
    run starts has its folder there (Airflow's home, the Glue run's staging folder, or
    GLUEFLOW_LOCAL_RUN for the Lambda functions)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in seen:
            found.append(int(proc.name))
    return found


def test_ctrl_c_ends_every_process_the_run_started(dev, tmp_path: Path) -> None:
    workdir = tmp_path / "interrupted"
    run = subprocess.Popen(
        [sys.executable, "-m", "glueflow_local", "--assembly", str(dev.outdir),
         "--workdir", str(workdir), "demo"],
        cwd=REPO_ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    seen = []
    for line in run.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if "task    sales_ingest.run_glue_job started" in line:
            break  # Airflow, moto, the Lambdas and a Glue run are all up
    assert _holding(str(workdir)), "".join(seen)
    run.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = run.communicate(timeout=120)

    assert run.returncode == 130, stderr[-2000:]
    assert "interrupted: every process the run started has ended" in stderr
    time.sleep(1)
    assert _holding(str(workdir)) == []

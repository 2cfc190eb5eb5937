"""`make demo`, end to end: the example pipeline runs on this machine from the synthesized
assembly, and what it leaves behind is what the scenario promises.

The demo runs as the README gives it (`make demo`, here with ASSEMBLY= the session's dev
assembly, so it does not synthesize again, and LOCAL_DIR= a temp folder). Nothing is read from
the harness's own account of the run: the tables are what `make query` finds published in the
catalog (the partitions' files, copied out of moto), the DAG runs and task states are
Airflow's own database, and the alert is what the notifier POSTed to the local webhook.
Bounded by the subprocess timeout.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

# Slow, not in `make test-fast`: runs `make demo` end to end: Airflow's processes, Spark, moto.
pytestmark = pytest.mark.slow

MAKE = shutil.which("make") or "make"
DEMO_TIMEOUT_S = 600  # the bound; the demo itself takes about two minutes on 2 cores
SAMPLES = REPO_ROOT / "glueflow_local" / "samples"
CURATED = "glueflow-dev-curated-111111111111"
ARTIFACTS = "glueflow-dev-artifacts-111111111111"


def clean_env() -> dict[str, str]:
    """The calling shell's environment, without the test session's Airflow and AWS settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "MOTO"))}


@pytest.fixture(scope="module")
def demo(dev, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    local = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "demo",
         f"ASSEMBLY={dev.outdir}", f"LOCAL_DIR={local}"],
        cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=DEMO_TIMEOUT_S,
    )  # fmt: skip
    return {"done": done, "dir": local}


def _db(demo: dict[str, Any]) -> sqlite3.Connection:
    return sqlite3.connect(demo["dir"] / "latest" / "airflow" / "airflow.db")


def _good_rows() -> list[dict[str, str]]:
    with (SAMPLES / "sales_good.csv").open(newline="") as rows:
        return list(csv.DictReader(rows))


def test_the_demo_finishes_and_prints_its_timeline(demo) -> None:
    done = demo["done"]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    out = done.stdout
    for said in (
        r"file +landed s3://glueflow-dev-raw-111111111111/sales/incoming/demo/",
        r"event +Object Created matched rule ObjectCreated",
        r"lambda +.*Trigger.*: DAG run created dag_id=sales_ingest",
        r"lambda +.*Trigger.*: DAG run exists \(duplicate\) dag_id=sales_ingest",
        r"glue +glueflow-dev-sales_ingest: run jr_\S+ SUCCEEDED after \d+ s",
        r"task +sales_ingest\.run_glue_job started",
        r"gate +sales_ingest: validation failed .*: 8 of 20 records invalid .*; the gate "
        r"stopped the pipeline",
        r"cost +sales_ingest: Glue run SUCCEEDED cost \$\d",
        r"alert +slack received: .*sales_ingest: validation_gate failed",
        # customer_ltv: dbt Cloud and Tableau side by side, then the Lambda, each with its end
        r"task +customer_ltv\.build_ltv_models deferred",
        r"task +customer_ltv\.build_ltv_models success",
        r"task +customer_ltv\.refresh_ltv_workbook success",
        r"task +customer_ltv\.notify_crm success",
        r"ok +customer_ltv's build_ltv_models and refresh_ltv_workbook ran side by side, then "
        r"notify_crm",
        r"done in \d+ s \(every process it started has ended\)",
    ):
        assert re.search(said, out), f"not in the timeline: {said}\n{out[-3000:]}"
    # A key outside every job's prefix is not matched by the synthesized rule's pattern.
    after_archive = out[out.index("landed s3://glueflow-dev-raw-111111111111/archive/") :]
    next_event = re.search(r"event +(.*)", after_archive)
    assert next_event is not None
    assert next_event.group(1) == "Object Created matched no rule: nothing starts"


def query(demo: dict[str, Any], sql: str) -> str:
    """`make query`, as the README gives it, over the tables the demo published."""
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "query", f"SQL={sql}",
         f"LOCAL_DIR={demo['dir']}"],
        cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_good_file_is_published_and_the_bad_file_is_not(demo) -> None:
    """Write, audit, publish: the good file's 40 rows are the sales_orders table's; none of
    the rejected file's 12 valid rows are, and its 8 bad rows are in quarantine, as read."""
    out = query(
        demo,
        "select store_id, count(*) as n, count(distinct order_id) as ids, "
        "min(sale_date) as first_day from glueflow_dev.sales_orders group by 1 order by 1",
    )
    lines = [line for line in out.splitlines() if "store-" in line]
    assert len(lines) == 1, out  # store-042 only: nothing of store-077 was published
    assert re.search(r"store-042\s*│\s*40\s*│\s*40\s*│", lines[0]), out
    assert len(_good_rows()) == 40
    rejected = query(
        demo,
        "select count(*) as n, min(source_uri) as source, min(reasons[1]) as reason "
        "from glueflow_dev.sales_orders_quarantine",
    )
    assert re.search(r"│\s*8\s*│.*2026-11-30_store-077\.csv", rejected), rejected


def test_each_dag_run_ended_as_the_scenario_says(demo) -> None:
    """From Airflow's own database: a run per distinct file (the repeat and the redelivered
    event made none), the good one through its gate and Redshift step, the bad one stopped at
    the gate; the aggregate on demand and customer_ltv from its asset."""
    with _db(demo) as db:
        runs = db.execute("SELECT dag_id, run_id, state, run_type, conf FROM dag_run").fetchall()
        tasks = {
            (run_id, task): state
            for run_id, task, state in db.execute(
                "SELECT run_id, task_id, state FROM task_instance"
            )
        }
    ingests = {json.loads(conf)["key"]: (run_id, state)
               for dag, run_id, state, _, conf in runs if dag == "sales_ingest"}  # fmt: skip
    assert sorted(ingests) == [
        "sales/incoming/demo/2026-11-30_store-042.csv",
        "sales/incoming/demo/2026-11-30_store-077.csv",
    ]
    good_run, good_state = ingests["sales/incoming/demo/2026-11-30_store-042.csv"]
    bad_run, bad_state = ingests["sales/incoming/demo/2026-11-30_store-077.csv"]
    assert (good_state, bad_state) == ("success", "failed")
    assert {t: s for (r, t), s in tasks.items() if r == good_run} == {
        "run_glue_job": "success",
        "validation_gate": "success",
        "publish": "success",
        "refresh_orders_mart": "success",
        "record_cost": "success",
    }
    assert {t: s for (r, t), s in tasks.items() if r == bad_run} == {
        "run_glue_job": "success",
        "validation_gate": "failed",  # one task: it failed the run with its verdict
        "publish": "upstream_failed",  # nothing of the rejected run becomes visible
        "refresh_orders_mart": "upstream_failed",
        "record_cost": "success",
    }
    kinds = {(dag, run_type, state) for dag, _, state, run_type, _ in runs}
    assert ("sales_daily_aggregate", "manual", "success") in kinds
    ltv = [(run_type, state) for dag, _, state, run_type, _ in runs if dag == "customer_ltv"]
    assert ltv
    assert set(ltv) == {("asset_triggered", "success")}
    assert {state for *_, state, _, _ in runs} <= {"success", "failed"}  # every run ended


def test_each_run_has_its_validation_report_and_its_cost(demo) -> None:
    reports = [
        json.loads(p.read_text())
        for p in (demo["dir"] / "latest" / "s3" / ARTIFACTS / "validation" / "sales_ingest").glob(
            "*.json"
        )
    ]
    assert sorted((r["records_read"], r["records_invalid"]) for r in reports) == [(20, 8), (40, 0)]
    with _db(demo) as db:
        costs = [
            json.loads(value)
            for (value,) in db.execute(
                "SELECT value FROM xcom WHERE dag_id = 'sales_ingest' AND task_id = 'record_cost'"
                " AND key = 'return_value'"
            )
        ]
    assert len(costs) == 2
    # At least G.1X (1 DPU) x 4 workers (configs/jobs/sales_ingest.yaml) for the 1-minute
    # minimum at $0.44/DPU-hour (configs/environments/dev.yaml), as "AWS Glue pricing" bills a
    # Standard run; recorded to the micro-dollar.
    minimum = 4 * 1 * 60 / 3600 * 0.44
    assert all(c["state"] == "SUCCEEDED" for c in costs)
    assert all(c["cost_usd"] >= round(minimum, 6) for c in costs), costs


def test_the_gate_alert_reaches_the_webhook_with_the_log_tail(demo) -> None:
    """The notifier's Slack message, as the local webhook received it: who failed, why (the
    gate's counts) and the last lines of the Glue run's log, which say what it reported."""
    received = [
        json.loads(line)
        for line in (demo["dir"] / "latest" / "alerts.jsonl").read_text().splitlines()
    ]
    gate = [a for a in received if "validation_gate" in a["payload"]["text"]]
    assert len(gate) == 1
    text = json.dumps(gate[0]["payload"])
    assert "sales_ingest" in text
    # The gate's verdict is the error (not the Glue run's state, which succeeded).
    assert "8 of 20 records invalid (ratio 0.4000, threshold 0.0500)" in text
    # Where the rejected run's output stays, unpublished, and where its bad rows are.
    assert "nothing was published, the run's output stays in sales_orders at s3://" in text
    assert "rejected rows: glueflow_dev.sales_orders_quarantine" in text
    assert f"glueflow: validation report s3://{ARTIFACTS}/validation/sales_ingest/jr_" in text
    assert gate[0]["channel"] == "slack"

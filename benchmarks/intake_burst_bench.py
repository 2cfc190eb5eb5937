"""A burst of files through the intake, on the local run: every file gets exactly one run.

Synthesizes dev into a temp folder and starts the local run (moto, the trigger Lambda from
its bundle behind the intake queue and its event source mapping, Airflow 3.3.1's four
processes). Every DAG is paused first: a paused DAG takes API triggers (200) and creates the
run, and never starts it, so the measure is the intake and Airflow's run creation, not 1,000
Spark runs on 2 cores. Then, for sales_ingest:

1. steady: FILES distinct CSVs land as fast as this machine puts them (the issue's bar: within
   one minute); the time from the first put until every file's DAG run exists;
2. outage: FILES more land while the MWAA API answers 503 for the first OUTAGE_S seconds
   (glueflow_local/faults.py), on the real clock: the messages received during the outage
   back off (30 s, then doubling) and come back; the same time, and nothing dead-lettered.

Each phase then lists every run and checks that each file got exactly one (its conf's key),
and no other run appeared.

The peer is the floor on equivalent work: the same number of runs created by POSTing to
Airflow's API directly, one after another from one client, with no S3, EventBridge, queue
or Lambda in between. Reported as the ratio of the steady burst's time to it.
"""

from __future__ import annotations

import io
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.local_latency_bench import _synth

FILES = 1000
OUTAGE_S = 20.0
JOB = "sales_ingest"
WITHIN_S = 900  # bound on every run existing, per phase
PAGE = 100  # Airflow's default maximum_page_limit


def _csv(i: int) -> bytes:
    return (
        "order_id,store_id,sold_at,amount,quantity,customer_id\n"
        f"B-{i},store-{i % 97:03d},2026-11-30T10:00:00,{10 + i % 50}.50,1,C-{i:05d}\n"
    ).encode()


def _runs(base: str) -> list[dict[str, Any]]:
    from glueflow_local.airflow import get

    url = f"{base}/dags/{JOB}/dagRuns"
    runs: list[dict[str, Any]] = []
    while True:
        page = get(f"{url}?limit={PAGE}&offset={len(runs)}&order_by=id")["dag_runs"]
        runs += page
        if len(page) < PAGE:
            return runs


def _total(base: str) -> int:
    from glueflow_local.airflow import get

    return int(get(f"{base}/dags/{JOB}/dagRuns?limit=1")["total_entries"])


def _burst(local: Any, tag: str, outage_s: float) -> dict[str, Any]:
    """Land FILES files; the seconds until their runs all exist, and the runs per file."""
    trigger = local.manifest["jobs"][JOB]["trigger"]
    base = local.airflow.base
    before = _total(base)
    if outage_s:
        local.api_gate.set("unavailable", outage_s)
    keys = [f"{trigger['prefix']}bench/{tag}-{i:05d}.csv" for i in range(FILES)]
    started = time.monotonic()
    for i, key in enumerate(keys):
        local.land(trigger["bucket"], key, _csv(i))
    landed_s = time.monotonic() - started
    local.airflow.wait_for(
        f"{FILES} runs of {JOB} ({tag})",
        lambda: _total(base) >= before + FILES or None,
        WITHIN_S,
    )
    all_exist_s = time.monotonic() - started
    per_key = Counter(r["conf"].get("key") for r in _runs(base))
    mine = {k: per_key[k] for k in keys}
    return {
        "landed_s": landed_s,
        "all_exist_s": all_exist_s,
        "files": FILES,
        "with_one_run": sum(1 for n in mine.values() if n == 1),
        "with_more": sum(1 for n in mine.values() if n > 1),
        "with_none": sum(1 for n in mine.values() if n == 0),
        "refused_while_down": local.api_gate.refused,
    }


def _direct(local: Any) -> float:
    """The peer: FILES runs POSTed straight to Airflow's API."""
    from glueflow_local.airflow import post

    trigger = local.manifest["jobs"][JOB]["trigger"]
    url = f"{local.airflow.base}/dags/{urllib.parse.quote(JOB)}/dagRuns"
    started = time.monotonic()
    for i in range(FILES):
        conf = {"bucket": trigger["bucket"], "key": f"{trigger['prefix']}bench/direct-{i:05d}.csv"}
        post(url, {"dag_run_id": f"direct-{i:05d}", "logical_date": None, "conf": conf})
    return time.monotonic() - started


def _dead_letters(local: Any) -> int:
    from glueflow_local.scenarios import dead_letter_queues

    sqs = local.cloud.client("sqs")
    return sum(
        int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        for url in dead_letter_queues(local)
    )  # fmt: skip


def run() -> dict[str, Any]:
    from glueflow_local.airflow import patch
    from glueflow_local.run import LocalRun
    from glueflow_local.timeline import Timeline

    with tempfile.TemporaryDirectory(prefix="glueflow-burst-") as tmp:
        assembly = Path(tmp) / "cdk.out"
        _synth(assembly)
        quiet = Timeline(out=io.StringIO())
        with LocalRun(assembly, "dev", Path(tmp) / "local", timeline=quiet) as local:
            for dag_id in local.manifest["jobs"]:
                patch(f"{local.airflow.base}/dags/{dag_id}", {"is_paused": True})
            steady = _burst(local, "steady", 0)
            local.api_gate.refused = 0
            outage = _burst(local, "outage", OUTAGE_S)
            direct_s = _direct(local)
            dead = _dead_letters(local)
    return {"steady": steady, "outage": outage, "direct_s": direct_s, "dead_letters": dead}


def report(result: dict[str, Any]) -> str:
    steady, outage, direct_s = result["steady"], result["outage"], result["direct_s"]

    def line(name: str, r: dict[str, Any]) -> str:
        return (
            f"  {name:<32} landed in {r['landed_s']:5.1f} s; every run existed after "
            f"{r['all_exist_s']:6.1f} s ({r['files'] / r['all_exist_s']:5.1f} runs/s); "
            f"one run: {r['with_one_run']}, more: {r['with_more']}, none: {r['with_none']}"
        )

    return "\n".join(
        [
            f"intake burst on the local run, {FILES} files of {JOB} per phase (DAGs paused: "
            "runs are created, not started)",
            line("steady", steady),
            line(f"MWAA API down the first {OUTAGE_S:.0f} s", outage),
            f"    requests refused while down: {outage['refused_while_down']}; dead letters "
            f"after both phases: {result['dead_letters']}",
            f"  peer: {FILES} runs POSTed to Airflow's API directly, one client: {direct_s:.1f} s",
            f"  ratio, steady burst / direct API: {steady['all_exist_s'] / direct_s:.2f}x",
        ]
    )


if __name__ == "__main__":
    print(report(run()))

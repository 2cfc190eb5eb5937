"""What `make demo` and `make run-local` do with a `LocalRun`.

The demo runs the example pipeline (configs/jobs):
1. a good point-of-sale CSV lands -> sales_ingest writes its run's folder -> the validation
   gate passes -> publish makes its rows the sales_orders table's -> the Redshift step -> the
   cost is recorded;
2. EventBridge delivers its event a second time: the same object version, so no new run (a
   new version of a key gets a run of its own: scenarios/new_version.yaml);
3. a file under the prefix that no job reads (not .csv): the rule matches, no run starts; a
   file outside every job's prefix: no rule matches;
4. a CSV with too many bad rows lands -> its rejected rows go to sales_orders_quarantine -> the
   gate stops the pipeline, and none of its rows are published -> the alert, with the Glue
   run's log tail, reaches the webhook;
5. the scheduled aggregate runs on demand, and customer_ltv, which depends on it, starts
   through its asset.
It then checks what happened and says what did not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glueflow_local import warehouse
from glueflow_local.errors import LocalRunError
from glueflow_local.run import LocalRun, RunRecord

SAMPLES = Path(__file__).with_name("samples")
DEMO_JOBS = ("sales_ingest", "sales_daily_aggregate", "customer_ltv")
RUN_S = 240  # bound on one DAG run, Glue run included, on a busy 2-core machine
ALERT_S = 90  # bound on an alert reaching the webhook after its run failed


def _s3_trigger(job: dict[str, Any], name: str) -> dict[str, Any]:
    trigger = job["trigger"]
    if trigger.get("type") != "s3":
        raise LocalRunError(f"job {name} is not started by files (trigger: {trigger['type']})")
    return trigger


def demo(run: LocalRun) -> dict[str, Any]:
    """The scenario; its findings (what held, what did not)."""
    jobs = run.manifest["jobs"]
    missing = [j for j in DEMO_JOBS if j not in jobs]
    if missing:
        raise LocalRunError(
            f"make demo runs the example pipeline and the environment lacks {missing}; "
            "run it without JOBS_DIR, or try your job with make run-local JOB=... FILE=..."
        )
    trigger = _s3_trigger(jobs["sales_ingest"], "sales_ingest")
    bucket, prefix = trigger["bucket"], trigger["prefix"]
    good_body = (SAMPLES / "sales_good.csv").read_bytes()
    good_key = f"{prefix}demo/2026-11-30_store-042.csv"
    bad_key = f"{prefix}demo/2026-11-30_store-077.csv"

    good = run.land(bucket, good_key, good_body)
    run.land(bucket, good_key, b"", event=good.event)  # its event, delivered again
    run.land(bucket, f"{prefix}demo/README.txt", b"drop notes, not data\n")
    run.land(bucket, "archive/2026-11-30_store-042.csv", good_body)  # no job reads archive/
    bad = run.land(bucket, bad_key, (SAMPLES / "sales_bad.csv").read_bytes())
    # Bounded as a whole run is: a message the trigger could not pass on at once (Airflow
    # busy on a loaded machine) comes back after its backoff, 15 to 30 s.
    good_run = run.run_of(good, "sales_ingest", RUN_S)
    bad_run = run.run_of(bad, "sales_ingest", RUN_S)

    run.wait_run("sales_ingest", good_run.run_id, RUN_S)
    aggregate_id = run.trigger("sales_daily_aggregate")
    run.wait_run("sales_daily_aggregate", aggregate_id, RUN_S)
    ltv = run.wait_new_run("customer_ltv", "asset_triggered", RUN_S)
    run.wait_run("customer_ltv", ltv.run_id, RUN_S)
    run.wait_run("sales_ingest", bad_run.run_id, RUN_S)
    run.wait_alerts(1, ALERT_S)
    run.wait_quiet(RUN_S)  # what the runs started (the asset's runs) ends before the demo does
    return check_demo(run, good_run, bad_run)


def check_demo(run: LocalRun, good: RunRecord, bad: RunRecord) -> dict[str, Any]:
    """What the scenario should have done, each as held or not."""
    if run.watcher is None or run.webhook is None:
        raise LocalRunError("the local run is not started")
    runs = list(run.watcher.runs.values())
    ingest_runs = [r for r in runs if r.dag_id == "sales_ingest"]
    aggregates = [r for r in runs if r.dag_id == "sales_daily_aggregate"]
    ltv_runs = [r for r in runs if r.dag_id == "customer_ltv"]
    alerts = [a for a in run.webhook.received if "sales_ingest" in json.dumps(a["lines"])]
    target = run.export_warehouse()
    findings = {
        "the good file's run succeeded": good.state == "success",
        "its gate passed": good.tasks.get("validation_gate", {}).get("state") == "success",
        "its rows were published": good.tasks.get("publish", {}).get("state") == "success"
        and warehouse.count(target, "sales_orders", good.glue_run_id) > 0,
        "its Redshift step ran": any(
            t["state"] == "success"
            for name, t in good.tasks.items()
            if name not in ("run_glue_job", "validation_gate", "publish", "record_cost")
        ),
        "its cost was recorded": isinstance(good.cost, dict) and good.cost.get("cost_usd", 0) > 0,
        "the event delivered again made no run": len(ingest_runs) == 2,
        "the bad file's run failed at the gate": bad.state == "failed"
        and bad.tasks.get("validation_gate", {}).get("state") == "failed",
        "none of the bad file's rows were published": bool(bad.glue_run_id)
        and warehouse.count(target, "sales_orders", bad.glue_run_id) == 0,
        "its rejected rows are in quarantine": bool(bad.glue_run_id)
        and warehouse.count(target, "sales_orders_quarantine", bad.glue_run_id) > 0,
        "the aggregate, run on demand, succeeded": any(
            r.run_type == "manual" and r.state == "success" for r in aggregates
        ),
        "customer_ltv ran from the asset, and succeeded": bool(ltv_runs)
        and all(r.run_type == "asset_triggered" and r.state == "success" for r in ltv_runs),
        **_side_by_side_then(run.manifest["jobs"]["customer_ltv"], ltv_runs),
        "every run ended": all(r.state in ("success", "failed") for r in runs),
        "the alert reached the webhook": bool(alerts),
    }
    return findings


def _side_by_side_then(job: dict[str, Any], runs: list[RunRecord]) -> dict[str, bool]:
    """customer_ltv's steps as its config declares them: the steps that run right after the
    publish (dbt Cloud, Tableau) each succeeded, each began before the other ended, and the
    step after them (the Lambda) began once both had ended."""
    first = [s["name"] for s in job["downstream"] if not s["after"]]
    then = [s for s in job["downstream"] if s["after"] and set(s["after"]) == set(first)]
    said = (f"customer_ltv's {' and '.join(first)} ran side by side, then "
            f"{', '.join(s['name'] for s in then) or 'nothing'}")  # fmt: skip
    if len(first) < 2 or not then or not runs:
        return {said: False}
    tasks = runs[-1].tasks
    steps = [tasks.get(name, {}) for name in first]
    held = all(t.get("state") == "success" for t in steps) and max(
        t["first_start"] for t in steps
    ) < min(t["end"] for t in steps)
    for step in then:
        after = tasks.get(step["name"], {})
        held = (
            held
            and after.get("state") == "success"
            and after["first_start"] >= max(t["end"] for t in steps)
        )
    return {said: held}


def run_local(run: LocalRun, job_name: str, file: Path) -> dict[str, Any]:
    """One job on the user's file: land it where the job's trigger reads (or, for a job not
    started by files, under its first input and start a run on demand); the run's outcome."""
    jobs = run.manifest["jobs"]
    job = jobs[job_name]
    body = file.read_bytes()
    trigger = job["trigger"]
    if trigger.get("type") == "s3":
        landing = run.land(trigger["bucket"], trigger["prefix"] + file.name, body)
        run_id = run.run_of(landing, job_name, RUN_S).run_id
    else:
        source = job["inputs"][0]
        run.land(source["bucket"], source["prefix"] + file.name, body)
        run_id = run.trigger(job_name)  # the watcher sees it within its poll
    finished = run.wait_run(job_name, run_id, RUN_S)
    return {"job": job, "run": finished}


def describe_outputs(run: LocalRun, job_name: str, record: RunRecord) -> list[str]:
    """What run-local prints: per output table, its published rows and this run's; the rows
    the run quarantined; its report's counts; the run's outcome."""
    lines: list[str] = []
    job = run.manifest["jobs"][job_name]
    target = run.export_warehouse()
    database = run.manifest["environment"]["catalog_database"]
    glue_run = record.glue_run_id or ""
    quarantined = 0
    for output in job["outputs"]:
        table = output["table"]
        total = warehouse.count(target, table)
        mine = warehouse.count(target, table, glue_run) if glue_run else 0
        lines.append(f"published {database}.{table}: {total} rows, {mine} from this run")
        if output.get("quarantine_table") and glue_run:
            quarantined += warehouse.count(target, output["quarantine_table"], glue_run)
    if any(o.get("quarantine_table") for o in job["outputs"]):
        lines.append(f"quarantined: {quarantined} rows")
    report = run.read_report(job_name, glue_run)
    if report is not None:
        by_reason = sorted((report.get("invalid_by_reason") or {}).items(),
                           key=lambda item: (-item[1], item[0]))  # fmt: skip
        reasons = ", ".join(f"{reason} {count}" for reason, count in by_reason)
        lines.append(
            f"report: {report['records_invalid']} of {report['records_read']} records invalid"
            + (f" ({reasons})" if reasons else "")
        )
        lines += [f"  rejected: {row['record']} ({', '.join(row['reasons'])})"
                  for row in report.get("rejected_sample") or []]  # fmt: skip
    elif job.get("report_prefix"):
        lines.append("report: none written")
    lines.append(f"DAG run {record.run_id}: {record.state}")
    lines += [f"  {task}: {info['state']}" for task, info in record.tasks.items()]
    example = f"{database}.{job['outputs'][0]['table']}" if job["outputs"] else "<table>"
    hint = f'make query ENV={run.env} SQL="select * from {example} limit 10"'  # noqa: S608
    lines.append(f"query the published tables: {hint}")
    return lines

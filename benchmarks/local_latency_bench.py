"""From a file landing to its pipeline starting, measured on the local run (make demo's harness).

Synthesizes dev into a temp folder, starts the local run (moto, the Glue stand-in, the trigger
Lambda from its bundle, Airflow 3.3.1's four processes), then lands FILES distinct sales CSVs
one after another, each after the previous run ended (sales_ingest runs one at a time, so a
file landing during a run would measure that run, not the trigger). Per file:

- event -> DAG run created: the object's PutObject to the DAG run's `queued_at` (Airflow's
  own timestamp, same clock): S3's event, the EventBridge pattern, the trigger Lambda, the
  REST API call;
- -> Glue task started: to the `run_glue_job` task instance's `start_date`: the scheduler
  picking the run up and a task process starting.

The peer is what the same pipeline would cost if it polled for files instead: an S3KeySensor
checks every `poke_interval`, 60 s by default (airflow/sensors/base.py, BaseSensorOperator),
so a file waits half of that on average and all of it at worst before anything starts, and
then the same scheduling delay follows. Reported as the ratio of medians.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILES = 5
SENSOR_POKE_S = 60.0  # BaseSensorOperator's default poke_interval
RUN_S = 300


def _wall(iso: str | None) -> float:
    if not iso:
        raise ValueError("no timestamp")
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _synth(outdir: Path) -> None:
    """dev, as `make synth` would (cdk.json's context, the venv's Node first on PATH)."""
    from app import project_context

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CDK_CONTEXT_JSON": json.dumps(project_context(env="dev")),
        "CDK_OUTDIR": str(outdir),
    }
    subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True,
        timeout=1200,
    )  # fmt: skip


def _csv(i: int) -> bytes:
    rows = ["order_id,store_id,sold_at,amount,quantity,customer_id"]
    rows += [f"L-{i}-{n},store-{i:03d},2026-11-30T10:{n:02d}:00,{10 + n}.50,1,C-{n:03d}"
             for n in range(20)]  # fmt: skip
    return ("\n".join(rows) + "\n").encode()


def run() -> dict[str, Any]:
    from glueflow_local.run import LocalRun
    from glueflow_local.timeline import Timeline

    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="glueflow-latency-") as tmp:
        assembly = Path(tmp) / "cdk.out"
        _synth(assembly)
        quiet = Timeline(out=io.StringIO())
        with LocalRun(assembly, "dev", Path(tmp) / "local", timeline=quiet) as local:
            trigger = local.manifest["jobs"]["sales_ingest"]["trigger"]
            for i in range(FILES):
                key = f"{trigger['prefix']}bench/store-{i:03d}.csv"
                landing = local.land(trigger["bucket"], key, _csv(i))
                record = local.run_of(landing, "sales_ingest")
                finished = local.wait_run("sales_ingest", record.run_id, RUN_S)
                samples.append(
                    {
                        "created_s": _wall(finished.queued_at) - landing.put_at,
                        "glue_task_s": _wall(finished.tasks["run_glue_job"]["start"])
                        - landing.put_at,
                        "state": 1.0 if finished.state == "success" else 0.0,
                    }
                )
                time.sleep(1)
    return {"samples": samples}


def report(result: dict[str, Any]) -> str:
    samples = result["samples"]
    created = statistics.median(s["created_s"] for s in samples)
    glue = statistics.median(s["glue_task_s"] for s in samples)
    scheduling = glue - created
    sensor_mean = SENSOR_POKE_S / 2 + scheduling
    sensor_worst = SENSOR_POKE_S + scheduling
    each_created = ", ".join(f"{s['created_s'] * 1000:.0f}" for s in samples)
    each_glue = ", ".join(f"{s['glue_task_s']:.2f}" for s in samples)
    lines = [
        f"local run latency, {len(samples)} files, sales_ingest (median; each file after the "
        "previous run ended)",
        f"  file put -> DAG run created        {created * 1000:8.0f} ms   (each: {each_created})",
        f"  file put -> Glue task started      {glue:8.2f} s    (each: {each_glue})",
        f"  peer: S3KeySensor, poke_interval {SENSOR_POKE_S:.0f} s (Airflow's default): "
        f"{sensor_mean:.1f} s on average, {sensor_worst:.1f} s at worst, to the Glue task",
        f"  ratio, sensor average / event: {sensor_mean / glue:.1f}x slower to start",
        f"  runs that succeeded: {sum(int(s['state']) for s in samples)} of {len(samples)}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))

"""`make try` against its floor and against `make run-local`, on the same job and file.

- try: `make try JOB=sales_ingest FILE=<sample>` as the README gives it: config load, Glue's
  argv, the library zip, the staging, the script on local Spark (4.1, as Glue 6.1), then the
  rows, counts and verdict shown.
- floor: a bare `spark-submit` of the same script with the same argv and the same staged
  folders: Spark's start and the script's own work, nothing of Glueflow's around it. Its
  report goes through boto3 to a moto server started before the clock (try writes it to a
  folder): the same call, and the same work.
- run-local: `make run-local JOB=sales_ingest FILE=<sample>` (synth, moto, Airflow's four
  processes, the DAG run), once, for scale; and `make run-local KEEP=1` a second time, on the
  platform the first left up (a new file), as a job's author tries again.

The target (issue 23): try at most 1.5 x the floor on 2 cores. Each of try and floor runs
REPEATS times, alternately; medians are reported.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JOB = "sales_ingest"
SAMPLE = ROOT / "glueflow_local" / "samples" / "sales_bad.csv"
REPEATS = 3
MAKE = shutil.which("make") or "make"


def _timed(command: list[str], env: dict[str, str] | None = None, ends: str = "") -> float:
    """Seconds `command` took; it must succeed, or print `ends` (a run that ends as expected,
    though not in success)."""
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if done.returncode != 0 and not (ends and ends in done.stdout):
        raise RuntimeError(f"{' '.join(command[:6])}... failed:\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")  # fmt: skip
    return took


def _spark_submit(pythonpath: str) -> Path:
    import sysconfig

    base = Path(pythonpath) if pythonpath else Path(sysconfig.get_paths()["purelib"])
    return base / "pyspark" / "bin" / "spark-submit"


def _floor(workdir: Path, endpoint: str) -> float:
    import boto3

    from glueflow_local.spark import local_spark
    from glueflow_local.try_job import prepare

    attempt = prepare(JOB, SAMPLE, "dev", workdir)
    report_bucket = attempt.report.relative_to(attempt.folder / "s3").parts[0]
    moto_keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **moto_keys)
    s3.create_bucket(Bucket=report_bucket)
    from configs.loader import load_platform

    version = load_platform("dev").jobs[JOB].glue.version
    spark = local_spark(version)
    env = {
        **{k: v for k, v in attempt.env.items() if k != "GLUEFLOW_TRY"},
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(attempt.argv[2]), spark.pythonpath])
        ),  # the awsglue stand-in, as run_script puts it on sys.path
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    command = [
        str(_spark_submit(spark.pythonpath)),
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--py-files", str(attempt.library),
        str(attempt.script),
        "--JOB_ID", "j_floor", *attempt.glue_argv[2:],
    ]  # fmt: skip
    return _timed(command, env)


def run() -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    workdir = ROOT / "build" / "bench-try"
    shutil.rmtree(workdir, ignore_errors=True)
    tries, floors = [], []
    try:
        for _ in range(REPEATS):
            tries.append(_timed(["make", "-s", "try", f"JOB={JOB}", f"FILE={SAMPLE}",
                                 f"LOCAL_DIR={workdir}"]))  # fmt: skip
            floors.append(_floor(workdir, endpoint))
            print(f"  try {tries[-1]:.1f} s, floor {floors[-1]:.1f} s", flush=True)
    finally:
        server.stop()
    # The sample fails the gate (as try shows), so run-local ends FAILED: timed all the same,
    # to the DAG run's end.
    run_local = _timed(
        ["make", "-s", "run-local", f"JOB={JOB}", f"FILE={SAMPLE}", f"LOCAL_DIR={workdir}/rl"],
        ends="validation_gate: failed",
    )
    # KEEP=1: the first try starts the platform; the second, with another file, runs on it.
    keep = [f"LOCAL_DIR={workdir}/keep", "KEEP=1", f"JOB={JOB}"]
    try:
        _timed(["make", "-s", "run-local", *keep, f"FILE={SAMPLE.with_name('sales_good.csv')}"])
        kept = _timed(["make", "-s", "run-local", *keep, f"FILE={SAMPLE}"],
                      ends="validation_gate: failed")  # fmt: skip
    finally:
        subprocess.run([MAKE, "-s", "stop-local", f"LOCAL_DIR={workdir}/keep"], cwd=ROOT,
                       capture_output=True, check=False)  # fmt: skip
    return {
        "kept_s": kept,
        "try_s": statistics.median(tries),
        "floor_s": statistics.median(floors),
        "run_local_s": run_local,
        "tries": tries,
        "floors": floors,
        "python": sys.version.split()[0],
    }


def report(result: dict[str, Any]) -> str:
    ratio = result["try_s"] / result["floor_s"]
    return "\n".join(
        [
            f"try: {JOB} on {SAMPLE.name} (median of {REPEATS}; target: at most 1.5x the floor)",
            f"  make try                    {result['try_s']:>7.1f} s   {ratio:.2f}x the floor",
            f"  floor: bare spark-submit    {result['floor_s']:>7.1f} s",
            f"  make run-local (once)       {result['run_local_s']:>7.1f} s   "
            f"{result['run_local_s'] / result['try_s']:.1f}x make try",
            f"  make run-local KEEP=1, again {result['kept_s']:>6.1f} s   (the platform kept up)",
        ]
    )

"""Run the benchmarks and print their tables with the machine they ran on.

python -m benchmarks            # config, synth, dag, trigger, latency, then burst
python -m benchmarks config     # config validation + manifest only (seconds)
python -m benchmarks synth      # full synth only (minutes)
python -m benchmarks dag        # DAG processor, worker: factory, hand-written, dag-factory (min)
python -m benchmarks trigger    # trigger Lambda routing and cold import only (seconds)
python -m benchmarks latency    # file landed -> DAG run -> Glue task, on the local run (minutes)
python -m benchmarks burst      # 1,000 files through the intake, with and without MWAA (min)
python -m benchmarks publish    # a run's 1 to 1,000 partitions published in the catalog (s)
python -m benchmarks try        # make try against a bare spark-submit and make run-local (min)
"""

from __future__ import annotations

import argparse
import os
import platform

from benchmarks import (
    config_bench,
    dag_parse_bench,
    intake_burst_bench,
    local_latency_bench,
    publish_bench,
    synth_bench,
    trigger_bench,
    try_bench,
)

BENCHES = {
    "config": config_bench,
    "synth": synth_bench,
    "dag": dag_parse_bench,
    "trigger": trigger_bench,
    "latency": local_latency_bench,
    "burst": intake_burst_bench,
    "publish": publish_bench,
    "try": try_bench,
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=summary)
    parser.add_argument("bench", nargs="?", choices=BENCHES, help="run only this one")
    args = parser.parse_args(argv)
    names = [args.bench] if args.bench else list(BENCHES)
    print(f"machine: {machine()}")
    for name in names:
        bench = BENCHES[name]
        # Flush before each run: the synth takes minutes and a piped stdout would hold
        # the earlier tables back until the end.
        print(flush=True)
        print(bench.report(bench.run()), flush=True)


if __name__ == "__main__":
    main()

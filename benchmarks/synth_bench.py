"""Synthesize 5 to 2,000 generated jobs: `make synth` as a user runs it, next to the app alone.

`make synth` validates the configs, runs the CDK CLI (`cdk synth`, which starts `python app.py`
and reads the assembly it writes) and prints the summary; `python app.py` alone is the
construct tree, cdk-nag and CloudFormation Validate. Both include cdk-nag. The difference is
what a user waits for beyond the app: the CLI's start and finish, validation and summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import psutil

from benchmarks.generate import write_jobs
from stacks.cdk_context import project_context

SIZES = (5, 50, 500, 2000)
ROOT = Path(__file__).resolve().parent.parent
ENV = "dev"
MAKE = "make"
# The targets (issue 15): `make synth` with cdk-nag within 30 s for 500 jobs and within 100 s
# for 2,000, on 2 cores.
TARGETS = {500: 30.0, 2000: 100.0}
# 50 jobs, not 5, is the base for growth: at 5 jobs the run is almost all fixed cost
# (Python and Node start-up, jsii loading the construct library).
GROWTH_BASE = 50
SAMPLE_SECONDS = 0.05
REPEATS = 3


class SynthRow(NamedTuple):
    """One size's result: wall times, peak tree memory and the shape of the assembly."""

    jobs: int
    make_seconds: float
    seconds: float
    peak_mib: float
    stacks: int
    max_resources: int
    max_kb: float


def _tree_rss(proc: psutil.Process) -> int:
    """RSS of `proc` and all its descendants (the jsii Node process is a grandchild)."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        # A member can exit between listing and reading; it then uses no memory.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total


def _child_env(jobs_dir: Path, outdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # jsii starts `node` from PATH: the venv's Node 24 first, or the system Node 20 prints a
    # deprecation banner on every run.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(project_context(env=ENV, jobs_dir=str(jobs_dir)))
    return env


def synth_once(jobs_dir: Path, outdir: Path) -> tuple[float, int]:
    """Run the app alone on `jobs_dir` into `outdir`; return (wall seconds, peak tree RSS)."""
    return _timed([sys.executable, "app.py"], _child_env(jobs_dir, outdir), outdir)


def make_synth_once(jobs_dir: Path, outdir: Path) -> tuple[float, int]:
    """Run `make synth` on `jobs_dir` into `outdir`, as the README gives it (the install step
    taken as done); return (wall seconds, peak tree RSS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "MAKE"))}
    command = [MAKE, "--no-print-directory", "-o", ".venv/.installed", "synth", f"ENV={ENV}",
               f"JOBS_DIR={jobs_dir}", f"OUT={outdir}"]  # fmt: skip
    return _timed(command, env, outdir)


def _timed(command: list[str], env: dict[str, str], outdir: Path) -> tuple[float, int]:
    log = outdir.with_suffix(".log")
    # Output goes to a file, not a pipe: a pipe nobody reads while polling could fill and
    # block the synth (cdk-nag can print a lot).
    with log.open("w+b") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_rss(proc))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"{' '.join(command)} exited {child.returncode}; output:\n{tail}")
    return seconds, peak


def assembly_shape(outdir: Path) -> tuple[int, int, float]:
    """(stacks, most resources in one stack, largest template in KB) of the env's assembly."""
    templates = sorted((outdir / f"assembly-{ENV}").glob("*.template.json"))
    if not templates:
        raise RuntimeError(f"no templates under {outdir / f'assembly-{ENV}'}")
    resources = [len(json.loads(t.read_text())["Resources"]) for t in templates]
    sizes = [t.stat().st_size / 1024 for t in templates]
    return len(templates), max(resources), max(sizes)


def run(sizes: tuple[int, ...] = SIZES) -> list[SynthRow]:
    """Synthesize each size both ways, median of 3 runs each (single runs of a minute varied by
    several seconds on 2 cores, enough to reverse the two sides)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = write_jobs(Path(tmp) / f"jobs-{size}", size)
            apps, makes = [], []
            for attempt in range(REPEATS):
                # A fresh outdir each time, so no run measures overwriting the last one's files.
                outdir = Path(tmp) / f"out-{size}-{attempt}"
                apps.append(synth_once(folder, outdir))
                makes.append(make_synth_once(folder, Path(tmp) / f"make-{size}-{attempt}"))
            # Peak is the worst seen, not the median: it is the figure a runner's memory must fit.
            peak = max(r[1] for r in apps + makes)
            stacks, max_resources, max_kb = assembly_shape(outdir)
            rows.append(SynthRow(
                size, statistics.median(r[0] for r in makes), statistics.median(r[0] for r in apps),
                peak / 2**20, stacks, max_resources, max_kb,
            ))  # fmt: skip
    return rows


def report(rows: list[SynthRow]) -> str:
    """The table, the time outside the app, growth against linear and the targets."""
    lines = [
        "synth with cdk-nag: make synth as a user runs it, and python app.py alone"
        f" (median of {REPEATS} runs)",
        f"  {'jobs':>6} {'make synth s':>12} {'app alone s':>11} {'outside app s':>13}"
        f" {'ms/job':>7} {'peak MiB':>9} {'stacks':>7} {'max res/stack':>14}"
        f" {'max KB/stack':>13}",
    ]
    for r in rows:
        lines.append(
            f"  {r.jobs:>6} {r.make_seconds:>12.1f} {r.seconds:>11.1f}"
            f" {r.make_seconds - r.seconds:>13.1f} {1000 * r.make_seconds / r.jobs:>7.1f}"
            f" {r.peak_mib:>9.0f} {r.stacks:>7} {r.max_resources:>14} {r.max_kb:>13.1f}"
        )
    by_jobs = {r.jobs: r for r in rows}
    smallest = rows[0]
    lines.append(f"  fixed cost ({smallest.jobs} jobs): {smallest.make_seconds:.1f} s make synth")
    base, last = by_jobs.get(GROWTH_BASE, smallest), rows[-1]
    if last.jobs > base.jobs:
        growth = (last.make_seconds / base.make_seconds) / (last.jobs / base.jobs)
        lines.append(f"  cost growth vs linear, {base.jobs} -> {last.jobs} jobs: {growth:.2f}x")
    for jobs, limit in TARGETS.items():
        row = by_jobs.get(jobs)
        if row is not None:
            verdict = "met" if row.make_seconds <= limit else "MISSED"
            lines.append(
                f"  make synth, {jobs} jobs, in {row.make_seconds:.1f} s:"
                f" target {limit:.0f} s on {os.cpu_count()} cores {verdict}"
            )
    return "\n".join(lines)

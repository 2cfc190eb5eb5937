"""Synthesize 5 to 2,000 generated jobs end to end: `python app.py`, cdk-nag included."""

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
# The target: 500 jobs synthesized within 90 s on a 2-core machine.
TARGET_JOBS, TARGET_SECONDS = 500, 90.0
# 50 jobs, not 5, is the base for growth: at 5 jobs the run is almost all fixed cost
# (Python and Node start-up, jsii loading the construct library).
GROWTH_BASE = 50
SAMPLE_SECONDS = 0.05


class SynthRow(NamedTuple):
    """One size's result: wall time, peak tree memory and the shape of the assembly."""

    jobs: int
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
    """Run one synth of `jobs_dir` into `outdir`; return (wall seconds, peak tree RSS bytes)."""
    log = outdir.with_suffix(".log")
    # Output goes to a file, not a pipe: a pipe nobody reads while polling could fill and
    # block the synth (cdk-nag can print a lot).
    with log.open("w+b") as out:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=_child_env(jobs_dir, outdir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_rss(proc))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            raise RuntimeError(
                f"synth of {jobs_dir} exited {child.returncode}; output tail:\n{tail}"
            )
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
    """Synthesize each size (median of 3 runs below 500 jobs, one run from 500 up)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = write_jobs(Path(tmp) / f"jobs-{size}", size)
            repeats = 3 if size < 500 else 1
            runs = []
            for attempt in range(repeats):
                # A fresh outdir each time, so no run measures overwriting the last one's files.
                outdir = Path(tmp) / f"out-{size}-{attempt}"
                runs.append((*synth_once(folder, outdir), outdir))
            seconds = statistics.median(r[0] for r in runs)
            # Peak is the worst seen, not the median: it is the figure a runner's memory must fit.
            peak = max(r[1] for r in runs)
            stacks, max_resources, max_kb = assembly_shape(runs[-1][2])
            rows.append(SynthRow(size, seconds, peak / 2**20, stacks, max_resources, max_kb))
    return rows


def report(rows: list[SynthRow]) -> str:
    """The table, the fixed cost, growth against linear and the 500-job target."""
    lines = [
        "full synth, python app.py with cdk-nag (median of 3 below 500 jobs, else 1 run)",
        f"  {'jobs':>6} {'seconds':>8} {'ms/job':>7} {'peak MiB':>9} {'stacks':>7}"
        f" {'max res/stack':>14} {'max KB/stack':>13}",
    ]
    for r in rows:
        lines.append(
            f"  {r.jobs:>6} {r.seconds:>8.1f} {1000 * r.seconds / r.jobs:>7.1f}"
            f" {r.peak_mib:>9.0f} {r.stacks:>7} {r.max_resources:>14} {r.max_kb:>13.1f}"
        )
    by_jobs = {r.jobs: r for r in rows}
    smallest = rows[0]
    lines.append(f"  fixed cost ({smallest.jobs} jobs): {smallest.seconds:.1f} s")
    base, last = by_jobs.get(GROWTH_BASE, smallest), rows[-1]
    if last.jobs > base.jobs:
        growth = (last.seconds / base.seconds) / (last.jobs / base.jobs)
        lines.append(f"  cost growth vs linear, {base.jobs} -> {last.jobs} jobs: {growth:.2f}x")
    target = by_jobs.get(TARGET_JOBS)
    if target is not None:
        verdict = "met" if target.seconds <= TARGET_SECONDS else "MISSED"
        lines.append(
            f"  {TARGET_JOBS} jobs in {target.seconds:.1f} s:"
            f" target {TARGET_SECONDS:.0f} s on {os.cpu_count()} cores {verdict}"
        )
    return "\n".join(lines)

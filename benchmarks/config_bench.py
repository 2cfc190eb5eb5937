"""Validate and compile the manifest at 5 to 2,000 jobs: the work every synth and CI run does."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.generate import write_jobs
from configs.loader import load_platform
from configs.manifest import compile_manifest, manifest_json

SIZES = (5, 50, 500, 2000)


def _time(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run() -> list[tuple[int, float, float]]:
    """(jobs, seconds to validate, seconds to validate and compile) per size."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            folder = write_jobs(Path(tmp) / str(size), size)
            repeats = 5 if size <= 500 else 3
            validate = _time(lambda f=folder: load_platform("dev", jobs_dir=f), repeats)
            both = _time(
                lambda f=folder: manifest_json(compile_manifest(load_platform("dev", jobs_dir=f))),
                repeats,
            )
            rows.append((size, validate, both))
    return rows


def report(rows: list[tuple[int, float, float]]) -> str:
    lines = [
        "config validation + manifest (median)",
        f"  {'jobs':>6} {'validate s':>11} {'+ manifest s':>13} {'ms/job':>7}",
    ]
    for size, validate, both in rows:
        lines.append(f"  {size:>6} {validate:>11.3f} {both:>13.3f} {1000 * both / size:>7.2f}")
    first, last = rows[0], rows[-1]
    growth = (last[2] / first[2]) / (last[0] / first[0])
    lines.append(f"  cost growth vs linear, {first[0]} -> {last[0]} jobs: {growth:.2f}x")
    return "\n".join(lines)

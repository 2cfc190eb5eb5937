"""Trigger Lambda: routing time per event at 5, 500 and 5,000 routes, and cold import time.

No peer is named for this benchmark; the reference is a linear scan of the same routes (what a
naive handler does), measured in the same run, and the issue's targets: at most 1 ms per event
at 5,000 routes, and at most 150 ms to import the handler module cold.
"""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIGGER_DIR = ROOT / "lambda" / "trigger"
SIZES = (5, 500, 5000)
EVENTS = 2000
TARGET_MS_PER_EVENT = 1.0
TARGET_IMPORT_MS = 150.0


def _routing():
    if str(TRIGGER_DIR) not in sys.path:
        sys.path.insert(0, str(TRIGGER_DIR))
    return importlib.import_module("routing")


def _routes(routing, n: int) -> list:
    """Jobs spread over 3 buckets, prefixes of varied depth, some with suffixes (as a fleet is)."""
    routes = []
    for i in range(n):
        depth = "/".join(f"d{i % (k + 3)}" for k in range(i % 4))
        prefix = f"team{i % 17}/{depth}/job{i}/" if depth else f"team{i % 17}/job{i}/"
        routes.append(
            routing.Route(
                f"job_{i}", f"bucket-{i % 3}", prefix=prefix, suffix=(".csv", ".json", "")[i % 3]
            )
        )
    return routes


def _keys(routes: list, count: int) -> list[tuple[str, str]]:
    keys = []
    for i in range(count):
        route = routes[(i * 7919) % len(routes)]
        if i % 4 == 3:  # a quarter route nowhere
            keys.append((route.bucket, f"unrouted/{i}/file.csv"))
        else:
            keys.append(
                (route.bucket, f"{route.prefix}2026/11/24/part-{i}{route.suffix or '.bin'}")
            )
    return keys


def _per_event_ms(match, keys: list[tuple[str, str]], repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for bucket, key in keys:
            match(bucket, key)
        samples.append((time.perf_counter() - start) * 1000 / len(keys))
    return statistics.median(samples)


def cold_import_ms(repeats: int = 5) -> float:
    """Median time for a fresh interpreter to import the handler module (interpreter start
    excluded: measured inside the child)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
        "import handler; print((time.perf_counter() - t) * 1000)"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    samples = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-X", "frozen_modules=on", "-c", code, str(TRIGGER_DIR)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def run() -> dict:
    routing = _routing()
    rows = []
    for size in SIZES:
        routes = _routes(routing, size)
        table = routing.RoutingTable(routes)
        keys = _keys(routes, EVENTS)

        def scan(bucket: str, key: str, routes=routes) -> list:
            return [r for r in routes if r.bucket == bucket and key.startswith(r.prefix)
                    and r.matches_rest(key)]  # fmt: skip

        assert [table.match(b, k) for b, k in keys[:200]] == [
            sorted(scan(b, k), key=lambda r: r.dag_id) for b, k in keys[:200]
        ], "the table and the scan disagree"
        rows.append((size, _per_event_ms(table.match, keys), _per_event_ms(scan, keys)))
    return {"rows": rows, "import_ms": cold_import_ms()}


def report(result: dict) -> str:
    lines = [
        "trigger routing, per event (median of 5 passes over 2,000 events)",
        f"  {'routes':>7} {'table ms':>9} {'linear scan ms':>15} {'ratio':>6}",
    ]
    for size, table_ms, scan_ms in result["rows"]:
        lines.append(f"  {size:>7} {table_ms:>9.4f} {scan_ms:>15.4f} {scan_ms / table_ms:>5.0f}x")
    at_max = result["rows"][-1][1]
    lines.append(
        f"  {SIZES[-1]} routes: {at_max:.4f} ms per event (target <= {TARGET_MS_PER_EVENT} ms): "
        + ("met" if at_max <= TARGET_MS_PER_EVENT else "NOT MET")
    )
    imported = result["import_ms"]
    lines.append(
        f"  cold import of lambda/trigger/handler.py: {imported:.1f} ms "
        f"(target <= {TARGET_IMPORT_MS:.0f} ms): "
        + ("met" if imported <= TARGET_IMPORT_MS else "NOT MET")
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))

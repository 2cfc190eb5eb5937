"""The local loop's own parts, without starting anything: which DAGs run-local leaves
running, when the synth is reused, and how long a task's try took."""

from __future__ import annotations

import os
import time
from pathlib import Path

from configs.loader import load_platform
from configs.manifest import compile_manifest
from glueflow_local import synth_cache
from glueflow_local.run import _took, started_by


def test_run_local_runs_the_job_and_what_its_runs_start() -> None:
    """In the dev examples, the jobs that depend on sales_ingest run with it;
    marketing_events_ingest (and what depends on it alone) is paused during `run-local
    JOB=sales_ingest`."""
    dev_manifest = compile_manifest(load_platform("dev"))
    jobs = dev_manifest["jobs"]
    assert "sales_ingest" not in started_by(dev_manifest, "marketing_events_ingest")
    running = started_by(dev_manifest, "sales_ingest")
    assert "marketing_events_ingest" not in running
    expected = {"sales_ingest"} | {n for n, j in jobs.items() if "sales_ingest" in j["depends_on"]}
    assert running >= expected


def test_a_trigger_job_step_counts_as_starting_its_job() -> None:
    manifest = {"jobs": {
        "a": {"depends_on": [], "downstream": [{"type": "trigger_job", "job": "b"}]},
        "b": {"depends_on": [], "downstream": []},
        "c": {"depends_on": ["b"], "downstream": []},
        "d": {"depends_on": [], "downstream": []},
    }}  # fmt: skip
    assert started_by(manifest, "a") == {"a", "b", "c"}


def _project(root: Path) -> Path:
    for name in ("configs/jobs", "stacks", "dags"):
        (root / name).mkdir(parents=True)
    (root / "configs/jobs/a.yaml").write_text("name: a\n")
    (root / "stacks/s.py").write_text("x = 1\n")
    (root / "app.py").write_text("print()\n")
    out = root / "cdk.out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    return out


def test_the_synth_is_reused_until_something_it_reads_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(synth_cache, "ROOT", tmp_path)
    out = _project(tmp_path)
    assert not synth_cache.is_current(out, "dev", None)  # never recorded

    synth_cache.main(["--assembly", str(out), "--env", "dev", "record"])
    assert synth_cache.is_current(out, "dev", None)
    assert not synth_cache.is_current(out, "prod", None)  # per environment
    (tmp_path / "dags" / "__pycache__").mkdir()
    (tmp_path / "dags" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert synth_cache.is_current(out, "dev", None)  # bytecode is not read by the synth

    (tmp_path / "configs/jobs/a.yaml").write_text("name: a\ndescription: changed\n")
    assert not synth_cache.is_current(out, "dev", None)
    synth_cache.main(["--assembly", str(out), "--env", "dev", "record"])
    assert synth_cache.is_current(out, "dev", None)

    # Another synth into the same folder (another environment) since the record.
    later = time.time_ns() + 10**9
    os.utime(out / "manifest.json", ns=(later, later))
    assert not synth_cache.is_current(out, "dev", None)


def test_a_deferred_try_is_timed_from_its_first_start() -> None:
    """A deferred task runs twice in one try; Airflow's duration is its last stretch only."""
    seen = {"first_start": "2026-12-05T10:00:00+00:00", "deferred": True}
    ti = {"start_date": "2026-12-05T10:00:29+00:00", "end_date": "2026-12-05T10:00:31+00:00",
          "duration": 2.0}  # fmt: skip
    assert _took(seen, ti) == " in 31.0 s (deferred in between)"
    assert _took({"first_start": ti["start_date"]}, ti) == " in 2.0 s"

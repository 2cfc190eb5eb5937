"""The scenario format (glueflow_local/scenario_model.py): the shipped scenarios load, and a
scenario that cannot run fails before anything starts, one line per problem with file, field,
value and what is accepted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from glueflow_local.scenario_model import ScenarioError, load
from tests.conftest import REPO_ROOT

SHIPPED = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
# One scenario per fault the intake must survive (issue: redelivery, a new version, a burst,
# MWAA unavailable and throttled, Glue failing before and after it writes, the trigger
# failing, and the retry window running out), and Glue failing every attempt (one alert).
FAULTS = {
    "redelivery": "redeliver",
    "new_version": "new_version",
    "burst": "land",
    "mwaa_unavailable": "mwaa",
    "mwaa_throttled": "mwaa",
    "glue_fails_before_write": "fail_glue",
    "glue_fails_after_write": "fail_glue",
    "glue_fails_every_attempt": "fail_glue",
    "trigger_fails": "fail_trigger",
    "dead_letter": "mwaa",
    "gate_rejects": "land",
    "new_version_replaces": "new_version",
    # Other accounts: a file from an external bucket's (decision 19), and another deployment
    # publishing a table this environment depends on (decision 20).
    "cross_account": "land",
    "table_published": "table_published",
}
# What each data guarantee of write, audit, publish is proven by: the scenario expects the
# published (and, where a gate rejects rows, quarantined) row counts.
PUBLISHED = {
    "a retry after writing publishes each row once": "glue_fails_after_write",
    "a redelivery publishes nothing more": "redelivery",
    "a new version replaces the old one": "new_version_replaces",
    "concurrent runs lose none of each other's rows": "burst",
    "a gate failure publishes nothing and quarantines its bad rows": "gate_rejects",
}


def test_every_fault_has_a_shipped_scenario_that_loads() -> None:
    assert sorted(p.stem for p in SHIPPED) == sorted(FAULTS)
    for path in SHIPPED:
        scenario = load(path)
        kinds = {next(iter(type(step).model_fields)) for step in scenario.steps}
        assert FAULTS[path.stem] in kinds, path.name
        assert "expect" in kinds


@pytest.mark.parametrize("guarantee", sorted(PUBLISHED))
def test_each_publish_guarantee_has_a_scenario_that_counts_rows(guarantee: str) -> None:
    scenario = load(REPO_ROOT / "scenarios" / f"{PUBLISHED[guarantee]}.yaml")
    expects = [s.expect for s in scenario.steps if hasattr(s, "expect")]
    assert any(e.published for e in expects), guarantee
    if "quarantine" in guarantee:
        assert any(e.quarantined for e in expects), guarantee


def test_the_long_outage_runs_on_a_compressed_clock_and_says_so() -> None:
    outage = load(REPO_ROOT / "scenarios" / "mwaa_unavailable.yaml")
    (mwaa,) = [s.mwaa for s in outage.steps if hasattr(s, "mwaa")]
    assert mwaa.for_ == 6 * 3600
    # 600x: a real stall of Airflow's API (SQLite waits up to 60 s for its lock) is 10 h of
    # scenario time, well inside the trigger's 24 h retry window.
    assert outage.clock.compression == 600
    assert "36 seconds" in outage.description


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("description: x\nsteps:\n  - jump: {}\n  - expect: {waiting: 0}\n",
         "steps[0]: {'jump': {}}: a step is one of land, new_version, redeliver"),
        ("description: x\nsteps:\n  - land: {job: j, copies: 0}\n  - expect: {waiting: 0}\n",
         "steps[0].land.copies: 0: Input should be greater than or equal to 1"),
        ("description: x\nsteps:\n  - mwaa: {state: down}\n  - expect: {waiting: 0}\n",
         "steps[0].mwaa.state: 'down': Input should be 'unavailable', 'throttled' or 'available'"),
        ("description: x\nsteps:\n  - wait: {for: 6 hours}\n  - expect: {waiting: 0}\n",
         "steps[0].wait.for: '6 hours': '6 hours' is not a duration: write e.g. 6h"),
        ("description: x\nsteps:\n  - land: {job: j, sample: good, body: a}\n"
         "  - expect: {waiting: 0}\n",
         "steps[0].land: give at most one of file, sample and body"),
        ("description: x\nsteps:\n  - land: {job: j}\n",
         "a scenario needs at least one expect step"),
        ("description: x\nclock: {compression: 0.5}\nsteps:\n  - expect: {waiting: 0}\n",
         "clock.compression: 0.5: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_a_bad_scenario_says_where_and_what_is_accepted(tmp_path, text, said) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load(path)
    assert f"{path}: " in str(raised.value)
    assert said in str(raised.value)


def test_make_scenario_refuses_a_bad_file_before_starting_anything(tmp_path) -> None:
    """Exit 2, one line per problem, no traceback, and no process started (no Airflow home)."""
    path = write(tmp_path, "description: x\nsteps:\n  - land: {job: j, copies: -1}\n")
    work = tmp_path / "work"
    done = subprocess.run(
        [sys.executable, "-m", "glueflow_local", "--assembly", str(tmp_path), "--workdir",
         str(work), "scenario", "--file", str(path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: a scenario cannot run; nothing was started\n")
    assert f"{path}: steps[0].land.copies: -1: Input should be greater" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "airflow").exists()

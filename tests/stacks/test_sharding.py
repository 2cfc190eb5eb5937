"""Job shards: stable assignment, and stacks within CloudFormation's limits at 500 and 2,000."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generate import write_jobs
from configs import naming
from configs.loader import load_platform
from stacks.cdk_context import project_context
from stacks.summary import stacks_in
from tests.conftest import REPO_ROOT
from tests.synth import Synthesized, run_app, synthesize


def placement(jobs_dir: Path, outdir: Path) -> dict[str, tuple[str, str]]:
    """Each Glue job's (stack name, logical id) after a synth of the jobs in `jobs_dir`."""
    synth = synthesize(load_platform("dev", jobs_dir=jobs_dir), outdir)
    found = {}
    for shard in synth.stage.job_shards.values():
        for name, job in shard.glue_jobs.items():
            found[name] = (shard.stack_name, shard.get_logical_id(job.job))
    return found


@pytest.mark.slow  # not in `make test-fast`: synthesizes 40 jobs three times
def test_adding_or_removing_a_job_moves_no_other_job(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs", 40)
    before = placement(jobs, tmp_path / "before")

    write_jobs(tmp_path / "more", 41)
    added = placement(tmp_path / "more", tmp_path / "added")
    (jobs / "gen_job_00009.yaml").unlink()  # a job no other depends on
    removed = placement(jobs, tmp_path / "removed")

    assert len({stack for stack, _ in before.values()}) > 1  # really spread over shards
    assert {k: v for k, v in added.items() if k in before} == before
    assert removed == {k: v for k, v in before.items() if k != "gen_job_00009"}


# Where these jobs live today. A change to the assignment moves deployed jobs to other stacks,
# which deletes and recreates them (and their run history): it must never happen by accident.
PINNED_SHARDS = {
    ("sales_ingest", 32): 2,
    ("customer_ltv", 32): 5,
    ("marketing_events_ingest", 32): 19,
    ("sales_daily_aggregate", 32): 6,
    ("gen_job_00009", 32): 30,
    ("sales_ingest", 7): 5,
    ("customer_ltv", 7): 0,
}


def test_assignment_is_pinned() -> None:
    assert {key: naming.job_shard_for(*key) for key in PINNED_SHARDS} == PINNED_SHARDS


def test_assignment_depends_on_the_name_alone() -> None:
    """The same in every process: no per-process hash seed (Python's str hash is salted per
    process unless PYTHONHASHSEED is set, per the Python reference, `object.__hash__`)."""
    script = (
        "import json; from configs import naming; "
        "print(json.dumps([naming.job_shard_for(f'job_{i}', 32) for i in range(2000)]))"
    )
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    shards = runs[0]
    assert set(shards) == set(range(32))  # every shard gets jobs
    assert max(shards.count(s) for s in range(32)) < 2 * 2000 / 32  # and none gets twice its share


def synth_subprocess(jobs: int, tmp_path: Path) -> list:
    """`python app.py` on `jobs` generated jobs, as `cdk synth` runs it, with cdk-nag."""
    jobs_dir = write_jobs(tmp_path / "jobs", jobs)
    outdir = tmp_path / "cdk.out"
    result = run_app(project_context(env="dev", jobs_dir=str(jobs_dir)), outdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return stacks_in(outdir, "dev")


@pytest.mark.slow  # not in `make test-fast`: synthesizes 500 and 2,000 jobs
@pytest.mark.parametrize(
    ("jobs", "max_resources", "max_bytes"),
    [
        (500, 400, 800 * 1024),  # 80% of CloudFormation's 500 resources and 1 MB
        (2000, 500, 1024 * 1024),  # still within the limits themselves
    ],
)
def test_stacks_stay_within_cloudformation_limits(
    jobs: int, max_resources: int, max_bytes: int, tmp_path: Path, dev: Synthesized
) -> None:
    stacks = synth_subprocess(jobs, tmp_path)
    shard_stacks = [s for s in stacks if "-jobs-" in s.name]
    assert sum(s.count("AWS::Glue::Job") for s in shard_stacks) == jobs
    for stack in stacks:
        assert stack.resources <= max_resources, (stack.name, stack.resources)
        assert stack.template_bytes <= max_bytes, (stack.name, stack.template_bytes)
    # The dashboard and alarms do not grow with jobs: the same template as dev's 6 jobs.
    (monitoring,) = [s for s in stacks if s.name == "glueflow-dev-monitoring"]
    assert monitoring.template == dev.templates["glueflow-dev-monitoring"]
    print(  # shown with -s; the issue note records these
        f"{jobs} jobs: {len(stacks)} stacks, max {max(s.resources for s in stacks)} resources, "
        f"max {max(s.template_bytes for s in stacks) / 1024:.0f} KB"
    )

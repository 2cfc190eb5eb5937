"""`make stacks`, `make deploy` and `make diff`, run as the README gives them, on the synthesized
dev assembly: they select exactly the environment's stacks, and never nothing in silence.

The app puts an environment's stacks in a CDK Stage, so `cdk deploy --all` selects no stack
("No stack found in the main cloud assembly") and `cdk diff` compares none ("Number of stacks
with differences: 0", exit 0). The CDK CLI's stack selection of nested assemblies is documented
in the aws-cdk CLI README, "Stack selection" (`cdk deploy 'Stage/*'`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from tests.synth import Synthesized

MAKE = shutil.which("make") or "make"
NO_CREDENTIALS = "Need to perform AWS calls for account 111111111111"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """`make ARGS` in the repository, with no AWS credentials of any kind, so that deploy and
    diff stop at their first AWS call instead of reaching out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def listed(output: str) -> list[str]:
    """Stack names from `cdk ls` lines such as `dev/Storage (glueflow-dev-storage)`."""
    return re.findall(r"^\S+ \(([^)]+)\)$", output, flags=re.MULTILINE)


def dependency_order_holds(order: list[str], dev: Synthesized) -> bool:
    """Each stack comes after every stack it depends on, per the assembly's manifest."""
    by_id = {a["id"]: name for name, a in dev.assembly.stack_artifacts.items()}
    position = {name: i for i, name in enumerate(order)}
    return all(
        position[by_id[dep]] < position[name]
        for name, artifact in dev.assembly.stack_artifacts.items()
        for dep in artifact.get("dependencies", [])
        if dep in by_id
    )


@pytest.mark.slow  # not in `make test-fast`: runs make and the cdk CLI
def test_stacks_lists_every_stack_of_the_environment_in_dependency_order(
    dev: Synthesized,
) -> None:
    result = make("-s", "stacks", "ENV=dev", f"ASSEMBLY={dev.outdir}")

    assert result.returncode == 0, result.stderr
    names = listed(result.stdout)
    assert sorted(names) == sorted(dev.assembly.stack_artifacts)
    assert len(names) == 17  # 5 platform stacks, and 6 job shards, each with its tables
    assert dependency_order_holds(names, dev)


@pytest.mark.slow  # not in `make test-fast`: runs make and the cdk CLI
def test_a_selector_that_matches_no_stack_fails_loudly(dev: Synthesized) -> None:
    """The dev assembly holds no prod stack: cdk would exit 0 with nothing; make must not."""
    result = make("-s", "stacks", "ENV=prod", f"ASSEMBLY={dev.outdir}")

    assert result.returncode != 0
    assert "error: no stack of environment 'prod' (prod/*)" in result.stderr


@pytest.mark.slow  # not in `make test-fast`: runs make and the cdk CLI
def test_deploy_selects_every_stack_of_the_environment(dev: Synthesized) -> None:
    """Without credentials the CLI stops at its first AWS call for the account; before, it
    selected nothing and said so instead."""
    result = make("deploy", "ENV=dev", f"ASSEMBLY={dev.outdir}")
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "No stack found" not in output
    assert sorted(listed(result.stdout)) == sorted(dev.assembly.stack_artifacts)
    assert "cdk deploy --app" in output
    assert f"{dev.outdir} 'dev/*'" in output
    assert NO_CREDENTIALS in output


@pytest.mark.slow  # not in `make test-fast`: runs make and the cdk CLI
def test_diff_selects_every_stack_of_the_environment(dev: Synthesized) -> None:
    """Before, `make diff` printed 'Number of stacks with differences: 0' and exited 0."""
    result = make("diff", "ENV=dev", f"ASSEMBLY={dev.outdir}")
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "Number of stacks with differences: 0" not in output
    assert sorted(listed(result.stdout)) == sorted(dev.assembly.stack_artifacts)
    assert f"cdk diff --app {dev.outdir} 'dev/*'" in output
    assert NO_CREDENTIALS in output


def test_help_names_the_variables() -> None:
    result = make("-s", "help")

    for variable in ("ENV=", "JOBS_DIR=", "ASSEMBLY=", "NAME=", "OUT="):
        assert variable in result.stdout

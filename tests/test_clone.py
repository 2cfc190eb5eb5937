"""A clone with nothing beside it synthesizes with the README's command.

`.ci/run` proves the whole path, `make install` included, from such a clone. Here the clone
borrows this checkout's installed venv and CDK CLI (`make -o` marks the install as done), so
what is checked is that `make synth` needs nothing outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from glueflow_local.assembly import CloudAssembly
from tests.conftest import REPO_ROOT

# Slow, not in `make test-fast`: clones the repository and runs `make synth`.
pytestmark = pytest.mark.slow

GIT = shutil.which("git") or "git"
MAKE = shutil.which("make") or "make"


def borrowing_clone(clone: Path) -> Path:
    """A clone of this repository's commits at `clone`, borrowing this checkout's installed venv
    and CDK CLI (run make there with `-o .venv/.installed`)."""
    subprocess.run(
        [GIT, "clone", "--quiet", "--no-local", str(REPO_ROOT), str(clone)],
        check=True,
        capture_output=True,
    )
    for borrowed in (".venv", "node_modules"):
        (clone / borrowed).symlink_to(REPO_ROOT / borrowed)
    return clone


def test_make_synth_in_a_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    alone = tmp_path / "empty"
    alone.mkdir()
    clone = borrowing_clone(alone / "glueflow")
    assert sorted(p.name for p in alone.iterdir()) == ["glueflow"]

    result = subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "synth"],
        cwd=clone,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))},
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "glueflow-dev-orchestration" in result.stdout  # the summary
    assert "Supply a stack id" not in result.stdout + result.stderr  # the CLI's stray line
    assembly = CloudAssembly(clone / "cdk.out", "dev")
    # 5 platform stacks; 6 job shards (one per example job), each with its tables
    assert len(assembly.stack_artifacts) == 17
    assert "missing" not in assembly.manifest  # no context lookup left for deploy to make

"""The Airflow version is one value, mwaa/AIRFLOW_VERSION: `make install` refuses one whose
package list is not in mwaa/packages/, in one line that names the supported versions, before
it builds anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

MAKE = shutil.which("make") or "make"
# What the Makefile reads before it installs anything (its $(STAMP) prerequisites).
INPUTS = ("Makefile", "requirements.txt", "requirements-dev.txt", "requirements-spark4.txt",
          "requirements-node.txt", "package.json", "package-lock.json")  # fmt: skip


def checkout_with_version(target: Path, version: str) -> Path:
    for name in INPUTS:
        shutil.copy(REPO_ROOT / name, target / name)
    shutil.copytree(REPO_ROOT / "mwaa", target / "mwaa")
    (target / "mwaa" / "AIRFLOW_VERSION").write_text(f"{version}\n")
    return target


def test_an_unsupported_version_fails_make_install_in_one_line(tmp_path: Path) -> None:
    checkout = checkout_with_version(tmp_path, "3.0.6")
    done = subprocess.run(
        [MAKE, "--no-print-directory", "install"], cwd=checkout, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    supported = sorted(
        p.stem.removeprefix("airflow-")
        for p in (REPO_ROOT / "mwaa" / "packages").glob("airflow-*.txt")
    )
    assert done.stderr.splitlines()[0] == (
        "error: mwaa/AIRFLOW_VERSION is '3.0.6', which Glueflow does not support; "
        f"supported: {' '.join(supported)}"
    )
    assert not (checkout / ".venv").exists()  # nothing built


def test_the_repository_s_version_is_supported() -> None:
    version = (REPO_ROOT / "mwaa" / "AIRFLOW_VERSION").read_text().strip()
    assert version == "3.3.1"
    assert (REPO_ROOT / "mwaa" / "packages" / f"airflow-{version}.txt").is_file()

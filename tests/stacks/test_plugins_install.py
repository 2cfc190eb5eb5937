"""The shipped plugins.zip installs offline, as MWAA installs it, and its operators import.

From the synthesized dev assembly: the bucket deployment's plugins.zip and requirements.txt,
as MWAA gets them. The zip is unpacked where requirements.txt's --find-links points (on MWAA
/usr/local/airflow/plugins: "Managing Python dependencies in requirements.txt", Amazon MWAA
User Guide), and pip installs requirements.txt offline (--no-index is in it) into a clean
venv that holds MWAA's package list (mwaa/packages/airflow-<version>.txt) as installed
distributions: pip resolves each wheel's requirements against exactly those versions, as on
MWAA. The operators are then imported from the installed wheels, with the packages of the
image read from this project's venv behind them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from configs.mwaa_version import AIRFLOW_VERSION
from stacks.mwaa_files import PLUGINS_ON_MWAA
from tests.conftest import REPO_ROOT
from tests.synth import Synthesized

# Slow, not in `make test-fast`: builds a venv and runs pip and a fresh interpreter.
pytestmark = pytest.mark.slow

OPERATORS = {
    "airflow.providers.dbt.cloud.operators.dbt": "DbtCloudRunJobOperator",
    "airflow.providers.tableau.operators.tableau": "TableauOperator",
}


# What the zip ships, as paths in a site-packages folder (the wheels' top-level entries).
SHIPPED = {
    "airflow/providers/dbt", "airflow/providers/tableau", "tableauserverclient", "defusedxml",
}  # fmt: skip


def without(site_packages: Path, target: Path, excluded: set[str], rel: str = "") -> None:
    """`site_packages` as a tree of symlinks at `target`, less the `excluded` paths and the
    .dist-info folders of what they hold."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(site_packages.iterdir()):
        path = f"{rel}{entry.name}"
        if path in excluded or (entry.name.endswith(".dist-info") and any(
            entry.name.lower().startswith(name) for name in SHIPPED_DISTRIBUTIONS
        )):  # fmt: skip
            continue
        if any(x.startswith(f"{path}/") for x in excluded):
            without(entry, target / entry.name, excluded, f"{path}/")
        else:
            (target / entry.name).symlink_to(entry)


SHIPPED_DISTRIBUTIONS = (
    "apache_airflow_providers_dbt_cloud-", "apache_airflow_providers_tableau-",
    "tableauserverclient-", "defusedxml-",
)  # fmt: skip


def image_packages() -> list[tuple[str, str]]:
    path = REPO_ROOT / "mwaa" / "packages" / f"airflow-{AIRFLOW_VERSION}.txt"
    lines = path.read_text().splitlines()
    return [tuple(line.split("==")) for line in lines if "==" in line and not line.startswith("#")]


def as_installed(site: Path, packages: list[tuple[str, str]]) -> None:
    """Each package as pip sees an installed distribution: its .dist-info (Core metadata
    specification: METADATA with Name and Version; RECORD; INSTALLER)."""
    for name, version in packages:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("mwaa-image\n")
        (info / "RECORD").write_text("")


def test_the_shipped_zip_installs_offline_on_mwaas_packages_and_its_operators_import(
    dev: Synthesized, tmp_path: Path
) -> None:
    plugins = dev.assembly.deployed_folder("plugins/", tmp_path / "plugins-s3")
    requirements = dev.assembly.deployed_folder("requirements/", tmp_path / "requirements-s3")
    unpacked = tmp_path / "usr-local-airflow-plugins"
    with zipfile.ZipFile(plugins / "plugins.zip") as archive:
        archive.extractall(unpacked)
    shipped = (requirements / "requirements.txt").read_text()
    assert f"--find-links {PLUGINS_ON_MWAA}" in shipped
    local = tmp_path / "requirements.txt"
    local.write_text(shipped.replace(PLUGINS_ON_MWAA, str(unpacked)))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())  # fmt: skip
    as_installed(site, image_packages())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir",
         "-r", str(local)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    said = installed.stdout
    for name in ("apache-airflow-providers-dbt-cloud-4.9.3",
                 "apache-airflow-providers-tableau-5.6.0", "tableauserverclient-0.41",
                 "defusedxml-0.7.1"):  # fmt: skip
        assert name in said.replace("_", "-"), said[-2000:]

    # The image's packages (Airflow, the amazon provider...) behind the installed wheels: this
    # project's site-packages without what the zip ships, which the venv has for local runs.
    image = tmp_path / "image-site-packages"
    without(Path(sysconfig.get_paths()["purelib"]), image, SHIPPED)
    (site / "zz_mwaa_image.pth").write_text(f"{image}\n")
    imports = "; ".join(f"import {m} as m{i}; getattr(m{i}, {c!r}); print(m{i}.__file__)"
                        for i, (m, c) in enumerate(OPERATORS.items()))  # fmt: skip
    imports += "; import tableauserverclient as t; print(t.__file__)"
    imported = subprocess.run(
        [str(python), "-c", imports], capture_output=True, text=True, timeout=300,
        env={**env, "AIRFLOW_HOME": str(tmp_path / "airflow-home")}, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr[-3000:]
    files = imported.stdout.split()
    assert len(files) == 3
    for file in files:
        assert file.startswith(str(site)), file  # from the wheels just installed

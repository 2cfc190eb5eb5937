"""The MWAA Airflow version Glueflow deploys and tests against, and MWAA's package list for it.

The version is one value, in `mwaa/AIRFLOW_VERSION`, which the Makefile reads too. MWAA's
package list for a version (read from the MWAA image's bill of materials) is
`mwaa/packages/airflow-<version>.txt`: the pip constraints of `make install`, and what
`mwaa/requirements.txt` must agree with. Adding a version is that one file plus the value.
"""

from __future__ import annotations

from pathlib import Path

from configs.loader import REPO_ROOT

MWAA_DIR = REPO_ROOT / "mwaa"
AIRFLOW_VERSION = (MWAA_DIR / "AIRFLOW_VERSION").read_text(encoding="utf-8").strip()


def package_list(version: str = AIRFLOW_VERSION, mwaa_dir: Path = MWAA_DIR) -> Path:
    """MWAA's `name==version` list for an Airflow version."""
    return mwaa_dir / "packages" / f"airflow-{version}.txt"


def mwaa_packages(version: str = AIRFLOW_VERSION) -> dict[str, str]:
    """Normalized package name -> version, as MWAA's image has them."""
    pins = {}
    for line in package_list(version).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version_ = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version_.strip()
    return pins

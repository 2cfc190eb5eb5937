"""requirements.txt and plugins.zip, as one deployment ships them to MWAA.

MWAA's environment has no route to PyPI (mwaa/requirements.txt installs with --no-index), so
a package its image lacks comes as a wheel in plugins.zip, which MWAA unpacks to
/usr/local/airflow/plugins before it installs requirements.txt, and requirements.txt points
pip there with --find-links ("Managing Python dependencies in requirements.txt", Amazon MWAA
User Guide: "--find-links /usr/local/airflow/plugins" and "--no-index").

Synth builds both from the step types the deployment's jobs use (glueflow_steps/*: `packages`)
and the wheels `make install` fetched by hash (mwaa/plugins.txt). A deployment that needs no
wheel ships mwaa/requirements.txt as it is, and no plugins.zip. The zip is byte-for-byte the
same for the same wheels: entries sorted, one fixed timestamp and mode, so an unchanged synth
changes neither its asset hash nor MWAA's object version.
"""

from __future__ import annotations

import hashlib
import re
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from configs.loader import REPO_ROOT
from configs.models import JobConfig
from configs.steps import step_type

PLUGINS_ON_MWAA = "/usr/local/airflow/plugins"
# Where `make install` puts the wheels (the venv that runs synth).
WHEELHOUSE = Path(sys.prefix) / "mwaa-plugins"
PIN_RE = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)\s+--hash=sha256:([0-9a-f]{64})$")
# The earliest time a zip entry can carry (the DOS epoch): a fixed one keeps the zip the same.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class MwaaFilesError(Exception):
    """What synth cannot build, and how to fix it."""


@dataclass(frozen=True)
class MwaaFiles:
    requirements: Path
    plugins: Path | None  # None: no step needs a wheel, so no plugins.zip


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str

    @property
    def wheel_prefix(self) -> str:
        """A wheel file's name starts with the name normalized as PEP 427 says (runs of
        '-', '_' and '.' become '_'), then the version."""
        return f"{re.sub(r'[-_.]+', '_', self.name).lower()}-{self.version}-"


def plugin_pins(path: Path = REPO_ROOT / "mwaa" / "plugins.txt") -> dict[str, Pin]:
    """mwaa/plugins.txt: name -> its pin, version and hash."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            found = PIN_RE.fullmatch(line.strip())
            if not found:
                raise MwaaFilesError(f"{path}: {line!r} is not 'name==version --hash=sha256:...'")
            pins[found.group(1).lower()] = Pin(*found.groups())
    return pins


def needed_packages(jobs: Mapping[str, JobConfig]) -> list[str]:
    """The distributions the jobs' step types need that MWAA's image lacks."""
    return sorted(
        {
            package.lower()
            for job in jobs.values()
            for step in job.downstream
            for package in step_type(step.type).packages
        }
    )


def build_mwaa_files(
    jobs: Mapping[str, JobConfig],
    target: Path,
    *,
    repo_root: Path = REPO_ROOT,
    wheelhouse: Path = WHEELHOUSE,
) -> MwaaFiles:
    """Write requirements.txt (and plugins.zip, when a step needs a wheel) under `target`."""
    target.mkdir(parents=True, exist_ok=True)
    base = (repo_root / "mwaa" / "requirements.txt").read_text(encoding="utf-8")
    requirements = target / "requirements.txt"
    needed = needed_packages(jobs)
    if not needed:
        requirements.write_text(base, encoding="utf-8")
        return MwaaFiles(requirements, None)
    pins = plugin_pins(repo_root / "mwaa" / "plugins.txt")
    unpinned = [name for name in needed if name not in pins]
    if unpinned:
        raise MwaaFilesError(
            f"step types need {', '.join(unpinned)}, which mwaa/plugins.txt does not pin: add "
            "each as 'name==version --hash=sha256:...' at the version of "
            "mwaa/packages/constraints-<airflow version>.txt"
        )
    wheels = [_wheel(pins[name], wheelhouse) for name in needed]
    plugins = target / "plugins.zip"
    with zipfile.ZipFile(plugins, "w") as archive:
        for wheel in sorted(wheels, key=lambda w: w.name):
            entry = zipfile.ZipInfo(wheel.name, date_time=ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_STORED  # a wheel is a zip already
            archive.writestr(entry, wheel.read_bytes())
    lines = base.splitlines()
    index = lines.index("--no-index")
    lines[index:index] = [f"--find-links {PLUGINS_ON_MWAA}"]
    lines += [
        "# Wheels shipped in plugins.zip for this deployment's steps (mwaa/plugins.txt):",
        *(f"{pins[name].name}=={pins[name].version}" for name in needed),
    ]
    requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return MwaaFiles(requirements, plugins)


def _wheel(pin: Pin, wheelhouse: Path) -> Path:
    """The wheel of `pin` in the wheelhouse, checked against its hash."""
    found = sorted(
        p for p in wheelhouse.glob("*.whl") if p.name.lower().startswith(pin.wheel_prefix)
    )
    if not found:
        raise MwaaFilesError(
            f"no wheel of {pin.name}=={pin.version} in {wheelhouse}: run 'make install', which "
            "downloads mwaa/plugins.txt's wheels there"
        )
    wheel = found[0]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != pin.sha256:
        raise MwaaFilesError(
            f"{wheel}: sha256 {digest} is not mwaa/plugins.txt's {pin.sha256}; run 'make install'"
        )
    return wheel

"""The zip of shared Glue helpers that every job gets with --extra-py-files.

It holds `glueflow_glue` (glue_scripts/lib) and the validation report's one definition from
dags/glueflow_runtime, so the scripts and the gate agree on the format. Built at synth, byte
for byte the same for the same sources, so an unchanged library is never redeployed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from configs.glue_arguments import LIBRARY_ZIP as ZIP_NAME
from configs.loader import REPO_ROOT

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries carry no build time


def library_files(repo_root: Path = REPO_ROOT) -> dict[str, Path]:
    """Archive name -> source file."""
    files = {
        f"glueflow_glue/{path.relative_to(repo_root / 'glue_scripts/lib/glueflow_glue')}": path
        for path in sorted((repo_root / "glue_scripts/lib/glueflow_glue").rglob("*.py"))
    }
    runtime = repo_root / "dags" / "glueflow_runtime"
    for name in ("__init__.py", "validation_report.py"):
        files[f"glueflow_runtime/{name}"] = runtime / name
    return dict(sorted(files.items()))


def build_glue_library(out_dir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Write the zip into `out_dir` (its own folder: it becomes a deployment asset)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ZIP_NAME
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in library_files(repo_root).items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target

"""The Glue library zip is the same bytes for the same sources, whenever and wherever it is
built: its asset hash is its content, so a rebuilt but unchanged library is never redeployed."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from stacks.glue_library import build_glue_library, library_files
from tests.conftest import REPO_ROOT


def sources_with_mtime(root: Path, mtime: float) -> Path:
    """A copy of the library's sources whose files all carry `mtime`."""
    for name, path in library_files(REPO_ROOT).items():
        target = root / path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        os.utime(target, (mtime, mtime))
        assert name  # every archive name maps to a source file
    return root


def test_the_same_sources_give_the_same_bytes_at_any_time(tmp_path: Path) -> None:
    """Sources touched years apart (as a fresh clone or a CI checkout does) zip the same."""
    old = sources_with_mtime(tmp_path / "old", 1_000_000_000)  # 2001
    new = sources_with_mtime(tmp_path / "new", 1_900_000_000)  # 2030
    first = build_glue_library(tmp_path / "a", repo_root=old)
    second = build_glue_library(tmp_path / "b", repo_root=new)

    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2020, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o644}

"""The repository stands alone: nothing it builds or tests needs a file outside it, and every
design citation in it points to a decision in docs/architecture.md."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import REPO_ROOT

GIT = shutil.which("git") or "git"
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"


def tracked_text_files() -> dict[str, str]:
    names = subprocess.run(
        [GIT, "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    files = {}
    for name in names:
        try:
            files[name] = (REPO_ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
    return files


def test_nothing_refers_to_files_beside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|DESIGN\.md|SEED\.md|STYLE\.md")
    found = {
        name: outside.findall(text)
        for name, text in tracked_text_files().items()
        if name != "tests/test_repository.py" and outside.search(text)
    }
    assert found == {}


def test_every_design_citation_names_a_decision_of_the_architecture() -> None:
    decisions = {
        int(n) for n in re.findall(r"^### (\d+)\. ", ARCHITECTURE.read_text(), flags=re.MULTILINE)
    }
    assert decisions == set(range(1, 21))
    cited: dict[str, set[int]] = {}
    for name, text in tracked_text_files().items():
        for match in re.finditer(r"docs/architecture\.md,\s+decisions?\s+([\d ,andto]+)", text):
            numbers = {int(n) for n in re.findall(r"\d+", match.group(1))}
            if " to " in match.group(1):
                low, high = min(numbers), max(numbers)
                numbers = set(range(low, high + 1))
            cited.setdefault(name, set()).update(numbers)
    assert len(cited) >= 15  # the code cites the architecture throughout
    assert {name: n - decisions for name, n in cited.items() if n - decisions} == {}

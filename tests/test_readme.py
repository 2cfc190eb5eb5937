"""The README renders as a reader sees it on GitHub, and what it points to exists.

Parsed with markdown-it-py (a CommonMark parser; MWAA's image has it through rich): a closing
fence must stand on a line of its own (CommonMark 0.31, "Fenced code blocks"), or everything
after it becomes code.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from markdown_it import MarkdownIt

from tests.conftest import REPO_ROOT

MAKE = shutil.which("make") or "make"

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
TOKENS = MarkdownIt("commonmark").enable("table").parse(README)


def headings() -> list[str]:
    return [
        TOKENS[i + 1].content
        for i, token in enumerate(TOKENS)
        if token.type == "heading_open" and token.tag in ("h2", "h3")
    ]


def test_every_section_is_a_heading_not_code() -> None:
    """Each `## ` or `### ` line outside a code block in the source renders as a heading."""
    written, in_fence = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(r"#{2,3} ", line):
            written.append(line.lstrip("#").strip())
    assert written
    assert headings() == written


def test_code_blocks_hold_no_prose_headings() -> None:
    for token in TOKENS:
        if token.type == "fence":
            assert not re.search(r"^#{2,3} [A-Z]", token.content, flags=re.MULTILINE), token.map


def test_relative_links_point_to_files_in_the_repository() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert links
    for link in links:
        assert (REPO_ROOT / link).exists(), link


def test_every_make_target_the_readme_names_exists() -> None:
    listed = subprocess.run(
        [MAKE, "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    targets = set(re.findall(r"^  make (\S+)", listed, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)", README))
    assert named <= targets, named - targets

"""`make review [BASE=origin/main] [ENV=name]`: what the working tree changes, per environment.

Synthesizes BASE (a git worktree at that ref, with this checkout's venv and CDK CLI) and the
working tree with `make synth`, for every environment or the one named, then compares them
offline (review/compare.py). Prints plain text, or Markdown for a pull-request comment
(`--format markdown`); writes both to build/review/. With `--fail-on destructive,access` it
exits 1 when the review finds resources replaced or deleted, or permissions broadened.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from configs.manifest import manifest_path
from review.compare import SOURCES, Review, Side, review_environment

GIT = shutil.which("git") or "git"
MAKE = shutil.which("make") or "make"

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "review"
TITLES = {
    "jobs": "Jobs",
    "tables": "Tables",
    "access": "Access",
    "destruction": "Destruction",
    "shape": "Shape",
    "network": "Network and security",
    "cost": "Cost",
    "code": "Code",
}
FAIL_ON = {"destructive", "access", "network"}


class ReviewError(Exception):
    pass


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise ReviewError(f"{' '.join(args)} failed in {cwd}:\n{done.stdout[-3000:]}"
                          f"{done.stderr[-3000:]}")  # fmt: skip
    return done.stdout


def environments(root: Path) -> set[str]:
    return {p.stem for p in (root / "configs" / "environments").glob("*.yaml")}


def synth(root: Path, env: str, target: Path) -> str:
    """`make synth ENV=env` in `root`, its assembly copied to `target`; the fixed monthly cost
    its summary printed."""
    out = _run([MAKE, "--no-print-directory", "-o", ".venv/.installed", "synth", f"ENV={env}"],
               root)  # fmt: skip
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root / "cdk.out", target)
    total = re.search(r"total \(Glue runs.*?([\d.]+)\s*$", out, re.M)
    workers = re.search(r"MWAA workers range from .*$", out, re.M)
    cost = f"{total.group(1) if total else '?'} USD"
    # Each external bucket's own stack, as its owner synthesizes it: the other side of the
    # environment's cross-account grants (review/cross_account.py).
    manifest = json.loads(manifest_path(target, env).read_text())
    for key in sorted(manifest["environment"].get("external_buckets", {})):
        _run([MAKE, "--no-print-directory", "-o", ".venv/.installed", "deploy-source",
              f"ENV={env}", f"SOURCE={key}", "SYNTH_ONLY=1",
              f"SOURCE_OUT={target / SOURCES / key}"], root)  # fmt: skip
    (target / "fixed-cost.json").write_text(
        json.dumps({"total": cost, "workers": workers.group(0) if workers else ""})
    )
    return cost


def base_commit(base: str) -> str:
    found = subprocess.run([GIT, "rev-parse", "--verify", f"{base}^{{commit}}"], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    if found.returncode:
        raise ReviewError(f"BASE {base} is not a commit in this repository; pass BASE=<ref>")
    return found.stdout.strip()


def worktree(base: str) -> Path:
    """A worktree of `base` beside the build, sharing this checkout's venv and CDK CLI."""
    commit = base_commit(base)
    path = WORK / "base"
    subprocess.run([GIT, "worktree", "remove", "--force", str(path)], cwd=ROOT,
                   capture_output=True, check=False)  # fmt: skip
    if path.exists():
        shutil.rmtree(path)
    _run([GIT, "worktree", "add", "--detach", str(path), commit], ROOT)
    for shared in (".venv", "node_modules"):
        (path / shared).symlink_to(ROOT / shared)
    return path


def text(reviews: list[Review], base: str) -> str:
    lines = [f"Glueflow review: the working tree against {base}"]
    for review in reviews:
        lines.append("")
        if review.empty():
            lines.append(f"{review.env}: no change to what deploys")
            continue
        lines.append(f"{review.env}:")
        for section, title in TITLES.items():
            found = getattr(review, section)
            if found:
                lines.append(f"  {title}")
                lines += [f"    {line}" for line in found]
            if section == "access" and review.access_raw:
                lines.append(f"    ({_raw_count(review)}: make review FORMAT=markdown lists them, "
                             f"collapsed; or {WORK / 'review.md'})")  # fmt: skip
    return "\n".join(lines)


def _raw_count(review: Review) -> str:
    added = sum(": added: " in row for row in review.access_raw)
    return f"IAM statements: {added} added, {len(review.access_raw) - added} removed"


def markdown(reviews: list[Review], base: str) -> str:
    lines = ["<!-- glueflow-review -->", f"## Glueflow review against `{base}`", ""]
    for review in reviews:
        if review.empty():
            lines += [f"**{review.env}**: no change to what deploys.", ""]
            continue
        flags = []
        if review.destruction:
            flags.append(f"{len(review.destruction)} destructive")
        if review.broadened:
            flags.append("permissions broadened")
        lines += [f"### {review.env}" + (f" ({', '.join(flags)})" if flags else ""), ""]
        for section, title in TITLES.items():
            found = getattr(review, section)
            if not found:
                continue
            lines += [f"**{title}**", ""]
            for line in found:
                indent = "  " if line.startswith("  ") else ""
                lines.append(f"{indent}- {_escape(line.strip())}")
            lines.append("")
            if section == "access" and review.access_raw:
                # GitHub renders <details> collapsed, Markdown inside it after a blank line.
                lines += [f"<details><summary>{_raw_count(review)}</summary>", ""]
                lines += [f"- {_escape(row)}" for row in review.access_raw]
                lines += ["", "</details>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="origin/main")
    parser.add_argument("--env", action="append", help="only this environment (repeatable)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--fail-on", default="", help="destructive,access,network")
    args = parser.parse_args(argv)
    fail_on = {f for f in args.fail_on.split(",") if f}
    if fail_on - FAIL_ON:
        print(f"error: --fail-on takes {', '.join(sorted(FAIL_ON))}", file=sys.stderr)
        return 2
    try:
        WORK.mkdir(parents=True, exist_ok=True)
        commit = base_commit(args.base)
        base_root = worktree(args.base)
        try:
            envs = sorted(args.env or (environments(ROOT) | environments(base_root)))
            reviews = []
            for env in envs:
                sides = []
                costs = []
                for name, root in (("base", base_root), ("head", ROOT)):
                    # A commit's synth does not change: the base's is kept by commit.
                    key = commit if name == "base" else "head"
                    target = WORK / "synth" / key / env
                    if env not in environments(root):
                        costs.append("none")
                        sides.append(Side(None, env))
                        continue
                    if name == "base" and (target / "fixed-cost.json").is_file():
                        costs.append(json.loads((target / "fixed-cost.json").read_text())["total"])
                    else:
                        costs.append(synth(root, env, target))
                    sides.append(Side(target, env))
                if costs[0] != costs[1] and sides[1].assembly_dir:
                    # The MWAA worker range of the new side, priced as its summary does.
                    workers = json.loads((sides[1].assembly_dir / "fixed-cost.json").read_text())
                    costs[1] += f"; {workers['workers']}" if workers["workers"] else ""
                reviews.append(review_environment(env, sides[0], sides[1], tuple(costs)))
        finally:
            subprocess.run([GIT, "worktree", "remove", "--force", str(base_root)], cwd=ROOT,
                           capture_output=True, check=False)  # fmt: skip
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (WORK / "review.md").write_text(markdown(reviews, args.base) + "\n")
    (WORK / "review.txt").write_text(text(reviews, args.base) + "\n")
    print(markdown(reviews, args.base) if args.format == "markdown" else text(reviews, args.base))
    failed = (
        ("destructive" in fail_on and any(r.destruction for r in reviews))
        or ("access" in fail_on and any(r.broadened for r in reviews))
        or ("network" in fail_on and any(r.network_broadened for r in reviews))
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Whether the cloud assembly of an environment is up to date with what its synth reads, so
that run-local, scenario and demo synthesize only when something changed.

`python -m glueflow_local.synth_cache --assembly OUT --env ENV [--jobs-dir DIR] record|check`

The synth reads the app and its settings (app.py, cdk.json, cdk.context.json), the configs,
the stacks and constructs, and everything it packages: the DAG folder, the Glue scripts, the
Lambda sources, MWAA's requirements and the installed Python packages' versions are not read
(a new install changes the venv's stamp, .venv/.installed, which is hashed). `record` writes a
SHA-256 of all of it beside the assembly after a synth; `check` exits 0 when it matches and
nothing was synthesized into OUT since (another environment's synth rewrites OUT's
manifest.json), else 1.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ_BY_SYNTH = (
    "app.py", "cdk.json", "cdk.context.json", "package-lock.json", ".venv/.installed",
    "configs", "stacks", "cdk_constructs", "dags", "glue_scripts", "lambda", "mwaa",
)  # fmt: skip
SKIPPED = {"__pycache__", ".pytest_cache"}


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(
        p for p in path.rglob("*")
        if p.is_file() and not SKIPPED & set(p.relative_to(path).parts) and p.suffix != ".pyc"
    )  # fmt: skip


def fingerprint(
    env: str, jobs_dir: str | None, root: Path | None = None, names: tuple[str, ...] = ()
) -> str:
    """SHA-256 of every file the synth of `env` reads (or of `names` among them), with their
    paths, and its settings."""
    root = root or ROOT
    digest = hashlib.sha256(f"env={env}\njobs_dir={jobs_dir or ''}\n".encode())
    roots = [root / name for name in names or READ_BY_SYNTH]
    if jobs_dir:
        roots.append(Path(jobs_dir).resolve())
    for top in roots:
        for path in _files(top):
            digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path)
                          .encode() + b"\0")  # fmt: skip
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def stamp_path(assembly: Path, env: str) -> Path:
    return assembly / f".glueflow-synth-{env}.sha256"


def is_current(assembly: Path, env: str, jobs_dir: str | None) -> bool:
    stamp = stamp_path(assembly, env)
    manifest = assembly / "manifest.json"
    if not stamp.is_file() or not manifest.is_file():
        return False
    if manifest.stat().st_mtime_ns > stamp.stat().st_mtime_ns:
        return False  # synthesized since: perhaps another environment
    return stamp.read_text().strip() == fingerprint(env, jobs_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glueflow_local.synth_cache")
    parser.add_argument("--assembly", type=Path, required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--jobs-dir", default=None)
    parser.add_argument("action", choices=("record", "check"))
    args = parser.parse_args(argv)
    if args.action == "record":
        stamp_path(args.assembly, args.env).write_text(fingerprint(args.env, args.jobs_dir) + "\n")
        return 0
    if is_current(args.assembly, args.env, args.jobs_dir):
        print(f"{args.assembly} is up to date for {args.env}: nothing the synth reads changed")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""python -m configs {validate [PATH ...],compile,schema,new-job}.

Exit codes: 0 ok, 1 config problems (one `file: field: message` line each on stderr),
2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configs.loader import (
    ENVIRONMENTS_DIR,
    JOBS_DIR,
    REPO_ROOT,
    display_path,
    load_platform,
    validate_all,
)
from configs.manifest import compile_manifest, manifest_json, write_manifest
from configs.problems import ConfigError, ConfigProblem
from configs.scaffold import new_job
from configs.schema import stale_schemas, write_schemas


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m configs", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check every job against every environment")
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="job files or job folders to check (default: the project's configs/jobs)",
    )
    validate.add_argument("--env", action="append", help="only this environment (repeatable)")
    compile_ = sub.add_parser("compile", help="write an environment's manifest.json")
    compile_.add_argument("--env", default="dev")
    compile_.add_argument("--out", help="output path, or - for stdout (default build/ENV/)")
    for command in (validate, compile_):
        command.add_argument("--jobs-dir", type=Path, default=JOBS_DIR)
        command.add_argument("--environments-dir", type=Path, default=ENVIRONMENTS_DIR)
        command.add_argument(
            "--root", type=Path, default=REPO_ROOT, help="where job script paths start"
        )

    schema = sub.add_parser("schema", help="regenerate configs/*.schema.json from the models")
    schema.add_argument("--check", action="store_true", help="fail if a schema file is stale")

    scaffold = sub.add_parser("new-job", help="scaffold a job file and a script stub")
    scaffold.add_argument("name")
    scaffold.add_argument("--owner", default="data-platform@example.com")
    scaffold.add_argument("--description")
    scaffold.add_argument("--jobs-dir", type=Path, default=JOBS_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} config problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "validate":
        problems, count = _validate_paths(args)
        if problems:
            raise ConfigError(problems)
        print(f"configs ok: {count} jobs, environments: {_envs(args)}")
        return 0
    if args.command == "compile":
        platform = load_platform(
            args.env, jobs_dir=args.jobs_dir, environments_dir=args.environments_dir, root=args.root
        )
        manifest = compile_manifest(platform)
        if args.out == "-":
            sys.stdout.write(manifest_json(manifest))
        else:
            out = Path(args.out or REPO_ROOT / "build" / args.env / "manifest.json")
            print(f"wrote {write_manifest(manifest, out)} ({len(platform.jobs)} jobs)")
        return 0
    if args.command == "schema":
        if args.check:
            stale = stale_schemas()
            for path in stale:
                print(f"{path}: stale; run 'make schema' and commit it", file=sys.stderr)
            return 1 if stale else 0
        for path in write_schemas():
            print(f"wrote {path}")
        return 0
    created = new_job(
        args.name, owner=args.owner, description=args.description, jobs_dir=args.jobs_dir
    )
    print("\n".join(f"created {path}" for path in created))
    print(
        f"next: fill them in (the script's checks, the input's format), then\n"
        f"  make try JOB={args.name} FILE=<a sample file>   the script on a file, in seconds\n"
        f"  make test-fast                                  its test, with the others"
    )
    return 0


def _validate_paths(args: argparse.Namespace) -> tuple[list[ConfigProblem], int]:
    """Problems in the given job files or folders (a file is checked among its siblings, so
    its `depends_on` resolves), plus the environments; and how many job files were checked."""
    problems: list[ConfigProblem] = []
    count = 0
    for path in args.paths or [args.jobs_dir]:
        if not path.exists():
            problems.append(ConfigProblem(str(path), "(file)", "does not exist"))
            continue
        folder = path if path.is_dir() else path.parent
        found = validate_all(
            jobs_dir=folder,
            environments_dir=args.environments_dir,
            root=args.root,
            env_names=args.env,
        )
        if path.is_file():
            siblings = {display_path(p) for p in folder.glob("*.y*ml")} - {display_path(path)}
            found = [p for p in found if p.file not in siblings]
        problems += found
        count += _count_jobs(path) if path.is_dir() else 1
    return sorted(set(problems)), count


def _count_jobs(jobs_dir: Path) -> int:
    return sum(1 for p in jobs_dir.rglob("*") if p.suffix in (".yaml", ".yml"))


def _envs(args: argparse.Namespace) -> str:
    if args.env:
        return ", ".join(args.env)
    return ", ".join(sorted(p.stem for p in args.environments_dir.glob("*.y*ml")))


if __name__ == "__main__":
    sys.exit(main())

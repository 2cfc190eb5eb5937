"""`python -m glueflow_local demo|run|scenario`: the pipeline on this machine (make demo,
make run-local, make scenario).

Errors the user can act on are one line on stderr and exit status 2; a scenario whose checks
fail exits 1. Ctrl-C (or SIGTERM) ends every process the run started before exiting 130.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from glueflow_local.errors import LocalRunError
from glueflow_local.scenario_model import ScenarioError


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _port_free(port: int) -> None:
    if port == 0:
        return
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise LocalRunError(
                f"port {port} is already in use: choose another with PORT=, or PORT=0 for any "
                "free port"
            ) from None


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m glueflow_local")
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--env", default="dev")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where outputs and logs go (default build/local/<env>)",
    )
    parser.add_argument("--port", type=int, default=0, help="Airflow API port (0: any free)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the example scenario")
    one = commands.add_parser("run", help="run one job on a file")
    one.add_argument("--job", required=True)
    one.add_argument("--file", required=True, type=Path)
    one.add_argument("--keep", action="store_true", help="on the kept platform (KEEP=1)")
    serve = commands.add_parser("serve", help="the kept platform's own process (run --keep)")
    serve.add_argument("--infrastructure", required=True)
    commands.add_parser("stop", help="stop the kept platform")
    scenario = commands.add_parser(
        "scenario", help="run scenarios: a file, or every one in a folder"
    )
    scenario.add_argument("--file", required=True, type=Path)
    attempt = commands.add_parser(
        "try", help="run one job's script on a file: no synth, Airflow or AWS"
    )
    attempt.add_argument("--job", required=True)
    attempt.add_argument("--file", required=True, type=Path)
    check = commands.add_parser("check", help="check JOB and FILE for run-local, before its synth")
    check.add_argument("--job", required=True)
    check.add_argument("--file", required=True, type=Path)
    query = commands.add_parser(
        "query", help="SQL over the tables the last local run of --env published"
    )
    query.add_argument("--sql", required=True)
    return parser.parse_args(argv)


LATEST = "latest"  # <workdir>/latest: the last run's folder, under <workdir>/runs/


def run_folder(base: Path) -> Path:
    """A new folder for this run, `<base>/runs/<time>/`, and `<base>/latest` pointing at it:
    each run keeps its outputs, logs and alerts beside the earlier runs'."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = base / "runs" / stamp
    count = 1
    while folder.exists():
        folder = base / "runs" / f"{stamp}-{count}"
        count += 1
    folder.mkdir(parents=True)
    latest = base / LATEST
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(Path("runs") / folder.name)
    return folder


def run_query(workdir: Path, sql: str) -> int:
    """Run SQL with DuckDB over `<workdir>/warehouse`, the tables the last local run (demo,
    run-local or scenario) published, each named as in the catalog: `<database>.<table>`."""
    from glueflow_local import warehouse

    target = workdir / "warehouse"
    if not (target / warehouse.CATALOG_FILE).is_file():
        print(
            f"error: no published tables under {target}: run make demo, make run-local or "
            "make scenario for this ENV first",
            file=sys.stderr,
        )
        return 2
    import duckdb

    con = warehouse.connect(target)
    try:
        result = con.sql(sql)
    except duckdb.Error as exc:
        tables = [row[0] for row in con.sql(
            "select table_schema || '.' || table_name from information_schema.tables "
            "order by 1").fetchall()]  # fmt: skip
        print(f"error: {exc}".splitlines()[0], file=sys.stderr)
        print(f"tables: {', '.join(tables)}", file=sys.stderr)
        return 2
    if result is not None:
        result.show(max_width=200, max_rows=1000)
    return 0


def _scenario_files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        if not found:
            raise LocalRunError(f"FILE {path}: a folder with no .yaml scenario in it")
        return found
    if not path.is_file():
        raise LocalRunError(f"FILE {path}: no such file or folder")
    return [path]


def run_scenarios(args: argparse.Namespace, workdir: Path) -> tuple[bool, list[str]]:
    """Every scenario of FILE, grouped by clock (one local run per clock); its verdicts."""
    from glueflow_local.run import LocalRun
    from glueflow_local.scenario_model import load
    from glueflow_local.scenarios import ScenarioRun, named_jobs

    files = _scenario_files(args.file)
    loaded = []
    problems = []
    for path in files:
        try:
            loaded.append((path, load(path)))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(problems))
    clocks = sorted({s.clock.compression for _, s in loaded})
    verdicts = []
    for clock in clocks:
        group = [(p, s) for p, s in loaded if s.clock.compression == clock]
        folder = workdir if len(clocks) == 1 else workdir / f"clock-{clock:g}"
        # The jobs the group's scenarios name, and what their runs start: the others stay
        # paused, as in run-local (a scheduled job's run is nobody's expectation here).
        named = [named_jobs(s) for _, s in group]
        only = set().union(*named) if all(named) else None
        with LocalRun(args.assembly, args.env, folder, airflow_port=args.port,
                      time_scale=clock, only=only) as run:  # fmt: skip
            for path, scenario in group:
                verdicts += ScenarioRun(run, path.stem, scenario, path.parent).play()
            (run.workdir / "summary.json").write_text(
                json.dumps({**run.summary(), "verdicts": [v.line() for v in verdicts]},
                           indent=1, default=str)
            )  # fmt: skip
    held = sum(v.held for v in verdicts)
    lines = [v.line() for v in verdicts]
    lines.append(f"{held} of {len(verdicts)} expectations held, in {len(loaded)} scenario(s)")
    return held == len(verdicts), lines


def _check_job(manifest_path: Path, job: str, file: Path) -> None:
    """run-local's input, checked before anything starts."""
    if not file.is_file():
        raise LocalRunError(f"FILE {file}: no such file")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    jobs = manifest["jobs"]
    if job not in jobs:
        raise LocalRunError(f"JOB {job}: no such job in this environment; jobs: "
                            f"{', '.join(sorted(jobs))}")  # fmt: skip
    trigger = jobs[job]["trigger"]
    if (
        trigger.get("type") == "s3"
        and trigger.get("suffix")
        and not file.name.endswith(trigger["suffix"])
    ):
        raise LocalRunError(
            f"FILE {file.name}: job {job} starts on keys under s3://{trigger['bucket']}/"
            f"{trigger['prefix']} ending in {trigger['suffix']}; name the file "
            f"*{trigger['suffix']}"
        )
    if trigger.get("type") != "s3" and not jobs[job]["inputs"]:
        raise LocalRunError(f"JOB {job} reads no input, so no file can start it")


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    base = args.workdir or Path("build/local") / args.env
    if args.command == "query":
        latest = base / LATEST
        return run_query(latest if latest.is_dir() else base, args.sql)
    workdir = base
    if args.command in ("serve", "stop") or getattr(args, "keep", False):
        from glueflow_local import kept

        if args.command == "serve":
            return kept.serve(args.assembly, args.env, base, args.infrastructure)
        if args.command == "stop":
            print("kept platform stopped" if kept.stop(base) else "no kept platform is up")
            return 0
        try:
            return kept.main_run(args.assembly, args.env, base, args.job, args.file)
        except LocalRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "check":
        from glueflow_local.try_job import check_arguments

        try:
            check_arguments(args.job, args.file, args.env)
        except LocalRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "try":
        from glueflow_local.try_job import run_try

        try:
            return run_try(args.job, args.file, args.env, workdir)
        except LocalRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    started = time.monotonic()
    workdir = run_folder(base)
    try:
        _port_free(args.port)
        from glueflow_local import scenario
        from glueflow_local.run import LocalRun

        if args.command == "scenario":
            ok, lines = run_scenarios(args, workdir)
            print("\n".join(["", *lines]))
            # One summary per clock: each clock's scenarios run on a local run of their own.
            summaries = sorted(workdir.glob("**/summary.json"))
            print(f"timeline and runs: {', '.join(map(str, summaries))}; logs under {workdir}")
            took = time.monotonic() - started
            print(f"{'done' if ok else 'FAILED'} in {took:.0f} s (every process it started "
                  "has ended)")  # fmt: skip
            return 0 if ok else 1
        if args.command == "run":
            manifest = args.assembly / "glueflow" / args.env / "manifest" / "manifest.json"
            if manifest.is_file():
                _check_job(manifest, args.job, args.file)
        only = {args.job} if args.command == "run" else None
        with LocalRun(args.assembly, args.env, workdir, airflow_port=args.port, only=only) as run:
            if args.command == "run":
                _check_job(run.workdir / "airflow" / "dags" / "manifest.json", args.job,
                           args.file)  # fmt: skip
                outcome = scenario.run_local(run, args.job, args.file)
                lines = scenario.describe_outputs(run, args.job, outcome["run"])
                ok = outcome["run"].state == "success"
                findings = None
            else:
                findings = scenario.demo(run)
                root = run.export_buckets()
                ok = all(findings.values())
                lines = [f"{'ok  ' if held else 'FAIL'} {what}" for what, held in findings.items()]
                lines.append(f"outputs: {root} (one folder per bucket)")
                lines.append(
                    f"published tables: {run.workdir / 'warehouse'}; query them with "
                    f'make query ENV={args.env} SQL="select ..."'
                )
            (run.workdir / "summary.json").write_text(
                json.dumps({**run.summary(), "findings": findings}, indent=1, default=str)
            )
        took = time.monotonic() - started
        print("\n".join(["", *lines]))
        alerts = workdir / "alerts.jsonl"
        received = alerts.read_text().count("\n") if alerts.is_file() else 0
        print(f"alerts received: {received}" + (f", in {alerts}" if received else ""))
        print(f"timeline and runs: {workdir / 'summary.json'}; logs under {workdir}")
        print(f"{'done' if ok else 'FAILED'} in {took:.0f} s (every process it started has ended)")
        return 0 if ok else 1
    except ScenarioError as exc:  # a scenario that cannot run: every problem, one line each
        print("error: a scenario cannot run; nothing was started", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 2
    except LocalRunError as exc:
        first, _, rest = str(exc).partition("\n")
        print(f"error: {first}", file=sys.stderr)
        if rest:
            log = workdir / "error.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(rest)
            print(f"  (details: {log})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every process the run started has ended", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

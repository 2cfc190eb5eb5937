"""What Airflow 3.3.1 pays to process glueflow's factory DAG file at 50 to 2,000 jobs, against
the same DAGs written by hand (one file per DAG) and built by dag-factory 1.1.0 (one YAML file).

Two costs:

- DAG processor. A "manager" process (a fresh interpreter per run) loads the DAG processor
  manager's modules, marks itself the server side and freezes the GC, as
  `airflow/dag_processing/manager.py` `before_run` does. Then, file after file, it starts one
  child per file with Airflow's own `DagFileProcessorProcess.start`, as the manager's
  `_create_process` does: `_pre_import_airflow_modules` of the file in the manager, `os.fork`,
  the child's set-up (`_fork_main` in `airflow/sdk/execution_time/supervisor.py`), the
  `DagFileParseRequest` over the socket, and `_parse_file_entrypoint`: `_parse_file` (the DAG
  stability check, then `BundleDagBag(..., load_op_links=False)`), `_serialize_dags`
  (`DagSerialization.to_dict` per DAG, wrapped in `LazyDeserializedDAG`) and `comms_decoder.send`
  of the `DagFileParsingResult` (msgpack-encoded `_RequestFrame`), which the manager reads and
  decodes. A file's time runs from `start` until the manager holds the decoded result; a side's
  time is the sum over its files. The manager's work after that (writing the DAGs and import
  errors to the database, `handle_parsing_result`) and the child's exit are not timed; nor is
  what the manager does once, not per file: importing its modules and pre-importing what the
  files import (its earlier parsing loops have). Files are processed one at a time; Airflow runs
  `[dag_processor] parsing_processes` (2) children at once, which on idle cores could shorten the
  wall-clock time of many files, never of one.
- Worker. A fresh interpreter with the task runner's modules loaded builds the one DAG whose
  task it runs, as `airflow/sdk/execution_time/task_runner.py` `startup` and `parse` do: inside
  `_airflow_parsing_context_manager(dag_id=..., task_id=...)`, `BundleDagBag(dag_folder=file,
  safe_mode=False, load_op_links=False, bundle_path=..., bundle_name=...)` (what parse() logs as
  `dag_file_parse_ms`), then the DAG's task. glueflow's factory reads the parsing context and
  builds that DAG alone; the hand-written file has only that DAG; dag-factory builds them all.

All three build the same DAGs from the same compiled manifest (`benchmarks.handwritten_dags`,
`benchmarks.dagfactory_mirror`), from generated jobs with every part the factory builds: input
sensor, Glue run, validation gate, Redshift and trigger_job steps, the cost teardown, assets and
asset-or-time schedules. The first processor run of each side and size records every DAG field
by field (`benchmarks.dag_equivalence`), after the timed part; if any field differs between
glueflow and either other side, the benchmark raises NotEquivalent instead of reporting a ratio.

The child side (`python -m benchmarks.dag_parse_bench processor|worker ...`) must start with
only the standard library loaded, so everything else is imported inside the functions that use
it, never at the top.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

SIZES = (50, 500, 2000)
ROOT = Path(__file__).resolve().parent.parent
ENV = "dev"
REPEATS = 3
# A side whose first run takes longer than this is not repeated.
REPEAT_LIMIT_SECONDS = 20.0
# The targets, at 500 jobs: the factory within 10% of hand-written DAG files in the DAG
# processor and 20% in the worker, and at least 3x less than dag-factory in the processor.
TARGET_JOBS = 500
TARGET_PROCESSOR_VS_HANDWRITTEN = 1.10
TARGET_WORKER_VS_HANDWRITTEN = 1.20
TARGET_DAGFACTORY_VS_GLUEFLOW = 3.0
# Airflow's defaults: [core] dagbag_import_timeout bounds a file's import (the parse), and
# [dag_processor] dag_file_processor_timeout the processor child as a whole. The benchmark turns
# the first off to measure the slow side, and reports who would hit either.
AIRFLOW_IMPORT_TIMEOUT = 30.0
AIRFLOW_PROCESSOR_TIMEOUT = 50.0
CHILD_TIMEOUT = 1800
SIDES = ("glueflow", "handwritten", "dagfactory")
NAMES = {"glueflow": "glueflow", "handwritten": "hand-written", "dagfactory": "dag-factory"}
BUNDLE_NAME = "dags-folder"
PHASES = ("start", "parse", "serialize", "send")


class Sample(NamedTuple):
    """One run of one side: seconds per phase, summed over its files; files and DAGs."""

    start: float
    parse: float
    serialize: float
    send: float
    files: int
    dags: int

    @property
    def total(self) -> float:
        return self.start + self.parse + self.serialize + self.send


class Row(NamedTuple):
    """One size: per side, the median of its samples and how many there were."""

    jobs: int
    processor: dict[str, Sample]
    worker: dict[str, Sample]
    runs: dict[str, int]
    slowest: dict[str, dict[str, float]]  # per side, the longest parse and whole child


# --- the children ----------------------------------------------------------------------------


def processor_child(folder: str, out: str, record: bool) -> None:
    """Process every DAG file of `folder` as the DAG processor does (module docstring), one
    child per file; write the summed phases, DAG ids, import errors (and with `record`, every
    DAG's record)."""
    import gc
    import selectors
    import uuid

    import airflow.dag_processing.manager  # noqa: F401  (the manager has it loaded)
    import structlog
    from airflow.dag_processing import processor
    from airflow.sdk.api.client import Client
    from airflow.sdk.log import logging_processors

    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "server"  # DagFileProcessorManager.before_run
    bundle = Path(folder)
    files = sorted(bundle.glob("*.py"))
    log = structlog.get_logger(logger_name="processor")
    for path in files:  # what the manager's earlier loops imported for these files
        processor._pre_import_airflow_modules(os.fspath(path), log)
    client = Client(base_url=None, token="", dry_run=True)  # the manager's is in-process
    selector = selectors.DefaultSelector()
    records_dir = Path(out).with_suffix(".records")
    records_dir.mkdir(exist_ok=True)
    gc.freeze()  # DagFileProcessorManager.before_run, "to prevent COW in forked process"

    totals = dict.fromkeys(PHASES, 0.0)
    slowest = {"parse": 0.0, "child": 0.0}
    dag_ids: list[str] = []
    errors: dict[str, str] = {}
    for index, path in enumerate(files):
        marks_file = records_dir / f"{index}.json"
        marks_file.unlink(missing_ok=True)
        target = _timed_entrypoint(marks_file, record)
        logger_file = (records_dir / "processor.log").open("ab")
        logger = structlog.wrap_logger(
            structlog.BytesLogger(logger_file),
            processors=logging_processors(json_output=True),
            logger_name="processor",
        ).bind()
        began = time.perf_counter()
        proc = processor.DagFileProcessorProcess.start(
            id=uuid.uuid4(),
            path=os.fspath(path),
            bundle_path=bundle,
            bundle_name=BUNDLE_NAME,
            dag_file_rel_path=path.name,
            callbacks=[],
            target=target,
            selector=selector,
            logger=logger,
            logger_filehandle=logger_file,
            subprocess_logs_to_stdout=False,
            client=client,
        )
        while proc.parsing_result is None and not proc.is_ready:
            _service(selector, 1.0)
        received = time.perf_counter()
        while not proc.is_ready:  # the child's exit: not timed
            _service(selector, 0.01)
        logger_file.close()
        result = proc.parsing_result
        marks = json.loads(marks_file.read_text()) if marks_file.exists() else {}
        if result is None or proc._exit_code != 0 or not marks:
            raise RuntimeError(f"the processor child of {path} exited {proc._exit_code}")
        phases = {
            "start": marks["parse"] - began,
            "parse": marks["serialize"] - marks["parse"],
            "serialize": marks["serialized"] - marks["serialize"],
            "send": received - marks["serialized"],
        }
        for phase, seconds in phases.items():
            totals[phase] += seconds
        slowest["parse"] = max(slowest["parse"], phases["parse"])
        slowest["child"] = max(slowest["child"], received - began)
        dag_ids += [dag.dag_id for dag in result.serialized_dags]
        errors.update(result.import_errors or {})
    written: dict[str, Any] = {
        **totals,
        "files": len(files),
        "slowest": slowest,
        "dag_ids": sorted(dag_ids),
        "errors": errors,
    }
    if record:
        written["records"] = {}
        for index in range(len(files)):
            written["records"].update(
                json.loads((records_dir / f"{index}.json").read_text())["records"]
            )
    Path(out).write_text(json.dumps(written))


def _service(selector: Any, timeout: float) -> None:
    """One pass of DagFileProcessorManager._service_processor_sockets."""
    for key, _ in selector.select(timeout=timeout):
        handler, on_close = key.data
        try:
            more = handler(key.fileobj)
        except (BrokenPipeError, ConnectionResetError):
            more = False
        if not more:
            on_close(key.fileobj)
            key.fileobj.close()


def _timed_entrypoint(marks_file: Path, record: bool) -> Any:
    """The processor child's `_parse_file_entrypoint`, unchanged, with the moments it starts
    parsing, starts serializing and has serialized noted; with `record`, each DAG's record is
    written after the result was sent."""

    def entrypoint() -> None:
        from airflow.dag_processing import processor

        marks: dict[str, float] = {}
        parse_file, serialize_dags = processor._parse_file, processor._serialize_dags
        built: list[tuple[Any, list[Any]]] = []

        def timed_parse_file(msg: Any, log: Any) -> Any:
            marks["parse"] = time.perf_counter()
            return parse_file(msg, log)

        def timed_serialize_dags(bag: Any, log: Any) -> Any:
            marks["serialize"] = time.perf_counter()
            found = serialize_dags(bag, log)
            marks["serialized"] = time.perf_counter()
            built.append((bag, found[0]))
            return found

        processor._parse_file = timed_parse_file
        processor._serialize_dags = timed_serialize_dags
        processor._parse_file_entrypoint()
        written: dict[str, Any] = dict(marks)
        if record:
            from benchmarks.dag_equivalence import dag_record

            bag, serialized = built[0]
            written["records"] = {
                lazy.dag_id: dag_record(bag.dags[lazy.dag_id], lazy.data) for lazy in serialized
            }
        marks_file.write_text(json.dumps(written))

    return entrypoint


def worker_child(dag_file: str, out: str, dag_id: str, task_id: str) -> None:
    """Build the DAG of `dag_id` from `dag_file` as a worker about to run `task_id` does
    (module docstring); write the time, the DAG ids built and import errors."""
    import airflow.sdk.execution_time.supervisor  # the task process's parent has it loaded
    import airflow.sdk.execution_time.task_runner  # noqa: F401  (the task process has it loaded)
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.sdk.definitions._internal.dag_parsing_context import (
        _airflow_parsing_context_manager,
    )

    bundle = Path(dag_file).parent
    start = time.perf_counter()
    with _airflow_parsing_context_manager(dag_id=dag_id, task_id=task_id):
        bag = BundleDagBag(
            dag_folder=dag_file,
            safe_mode=False,
            load_op_links=False,
            bundle_path=bundle,
            bundle_name=BUNDLE_NAME,
        )
        bag.dags[dag_id].task_dict[task_id]  # what parse() looks up; KeyError if missing
    seconds = time.perf_counter() - start
    written = {
        "start": 0.0,
        "parse": seconds,
        "serialize": 0.0,
        "send": 0.0,
        "files": 1,
        "slowest": {"parse": seconds, "child": seconds},
        "dag_ids": sorted(bag.dag_ids),
        "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    }
    Path(out).write_text(json.dumps(written))


# --- the parent ------------------------------------------------------------------------------


def _child_env(folder: Path, home: Path) -> dict[str, str]:
    from glueflow_local.mwaa import mwaa_airflow_env

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    # Every side may cache the bytecode of its DAG folder's modules, as Airflow would.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(
        {
            **mwaa_airflow_env(),  # Airflow as MWAA configures it
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # dag-factory only reports usage on DAG runs, but a benchmark sends nothing anywhere.
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
        }
    )
    return env


def run_child(args: list[str], target: Path, home: Path, expect_dags: int) -> dict[str, Any]:
    """Run one child on `target` (a DAG folder, or a DAG file for the worker); fail unless it
    built `expect_dags` DAGs without import errors."""
    folder = target if target.is_dir() else target.parent
    out = home / f"result-{folder.name}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.dag_parse_bench", args[0], str(target), str(out)]
    done = subprocess.run(
        [*argv, *args[1:]],
        cwd=ROOT,
        env=_child_env(folder, home),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not out.exists():
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{args[0]} child on {target} exited {done.returncode}:\n{tail}")
    result = json.loads(out.read_text())
    if result["errors"] or len(result["dag_ids"]) != expect_dags:
        raise RuntimeError(
            f"{args[0]} child on {target}: {len(result['dag_ids'])} DAGs, {expect_dags}"
            f" expected; import errors:\n{json.dumps(result['errors'], indent=2)[-4000:]}"
        )
    return result


def _sample(result: dict[str, Any]) -> Sample:
    return Sample(*(result[phase] for phase in PHASES), result["files"], len(result["dag_ids"]))


def _median(samples: list[Sample]) -> Sample:
    """The sample of median total time (an odd count, or the lower middle)."""
    return sorted(samples, key=lambda s: s.total)[(len(samples) - 1) // 2]


def _manifest(jobs_dir: Path) -> dict[str, Any]:
    from configs.loader import load_platform
    from configs.manifest import compile_manifest

    return compile_manifest(load_platform(ENV, jobs_dir=jobs_dir))


def worker_target(manifest: dict[str, Any]) -> str:
    """The DAG the worker runs a task of: the last scheduled job with steps, which has the
    most tasks and which glueflow's factory reaches last."""
    return max(
        name
        for name, job in manifest["jobs"].items()
        if job["trigger"]["type"] == "schedule" and job["downstream"]
    )


def _measure(
    args: list[str], targets: dict[str, Path], home: Path, expect: dict[str, int], first: dict
) -> tuple[dict[str, Sample], dict[str, int], dict[str, dict[str, float]]]:
    """REPEATS runs per side, interleaved, after `first`; 1 run for a side over the limit.
    Returns per side the median sample, the run count, and the slowest file's parse and child."""
    results = {side: [first[side]] for side in SIDES}
    for _ in range(REPEATS - 1):
        for side in SIDES:
            if _sample(results[side][0]).total <= REPEAT_LIMIT_SECONDS:
                results[side].append(run_child(args, targets[side], home, expect[side]))
    return (
        {side: _median([_sample(r) for r in found]) for side, found in results.items()},
        {side: len(found) for side, found in results.items()},
        {
            side: {part: max(r["slowest"][part] for r in found) for part in ("parse", "child")}
            for side, found in results.items()
        },
    )


def run(sizes: tuple[int, ...] = SIZES) -> list[Row]:
    """Check equivalence, then time the processor and the worker at each size, every side."""
    from benchmarks import handwritten_dags
    from benchmarks.dag_equivalence import check
    from benchmarks.dagfactory_mirror import (
        DAGFACTORY_DAG_FILE,
        GLUEFLOW_DAG_FILE,
        dag_builder,
        dagfactory_folder,
        glueflow_folder,
    )
    from benchmarks.generate import write_jobs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "airflow-home"
        home.mkdir()
        for size in sizes:
            manifest = _manifest(write_jobs(Path(tmp) / f"jobs-{size}", size, downstream=True))
            folders = {
                "glueflow": glueflow_folder(Path(tmp) / f"glueflow-{size}", manifest),
                "handwritten": handwritten_dags.write_folder(
                    Path(tmp) / f"handwritten-{size}", manifest
                ),
                "dagfactory": dagfactory_folder(Path(tmp) / f"dagfactory-{size}", manifest),
            }
            every = dict.fromkeys(SIDES, size)
            first = {
                side: run_child(["processor", "--record"], folders[side], home, size)
                for side in SIDES
            }
            glueflow_records = first["glueflow"].pop("records")
            for side in ("dagfactory", "handwritten"):
                check(glueflow_records, first[side].pop("records"), size, NAMES[side])
            processor, processor_runs, processor_slowest = _measure(
                ["processor"], folders, home, every, first
            )

            dag_id = worker_target(manifest)
            worker_args = ["worker", dag_id, dag_builder().GLUE_TASK]
            files = {
                "glueflow": folders["glueflow"] / GLUEFLOW_DAG_FILE,
                "handwritten": folders["handwritten"] / f"{dag_id}.py",
                "dagfactory": folders["dagfactory"] / DAGFACTORY_DAG_FILE,
            }
            built = {"glueflow": 1, "handwritten": 1, "dagfactory": size}
            first = {side: run_child(worker_args, files[side], home, built[side]) for side in SIDES}
            worker, worker_runs, _ = _measure(worker_args, files, home, built, first)
            runs = {f"processor {s}": n for s, n in processor_runs.items()}
            runs |= {f"worker {s}": n for s, n in worker_runs.items()}
            rows.append(Row(size, processor, worker, runs, processor_slowest))
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _runs(row: Row, kind: str) -> str:
    return "/".join(str(row.runs[f"{kind} {side}"]) for side in SIDES)


def report(rows: list[Row]) -> str:
    """The two tables, the issue's three targets at 500 jobs, and Airflow's timeouts."""
    lines = [
        "DAG processor: every DAG file parsed and serialized by its own forked child, as"
        " Airflow 3.3.1's DagFileProcessorManager does;",
        "  per side, the sum over its files from the child's start to the manager holding the"
        " decoded result (start = pre-import scan, fork, child set-up);",
        "  glueflow factory (1 file) vs hand-written (1 file per DAG) vs dag-factory 1.1.0"
        f" (1 YAML); equivalent DAGs checked field by field; median of {REPEATS}"
        f" (1 run past {REPEAT_LIMIT_SECONDS:.0f} s)",
        f"  {'jobs':>5} {'side':<12} {'files':>5} {'total s':>8} {'start':>6} {'parse':>6}"
        f" {'serial.':>7} {'send':>6} {'ms/DAG':>7} {'max file s':>10} {'runs':>4}",
    ]
    for r in rows:
        for side in SIDES:
            s = r.processor[side]
            lines.append(
                f"  {r.jobs:>5} {NAMES[side]:<12} {s.files:>5} {s.total:>8.3f} {s.start:>6.2f}"
                f" {s.parse:>6.2f} {s.serialize:>7.2f} {s.send:>6.2f}"
                f" {1000 * s.total / r.jobs:>7.2f} {r.slowest[side]['child']:>10.2f}"
                f" {r.runs[f'processor {side}']:>4}"
            )
    lines += [
        "",
        "Worker: build the one DAG whose task it runs (parsing context set), as Airflow 3.3.1's"
        " task runner parse() does (its dag_file_parse_ms)",
        f"  {'jobs':>5} {'glueflow s':>10} {'hand-written s':>14} {'dag-factory s':>13}"
        f" {'DAGs built':>16} {'runs':>6}",
    ]
    for r in rows:
        g, h, d = (r.worker[side] for side in SIDES)
        lines.append(
            f"  {r.jobs:>5} {g.total:>10.3f} {h.total:>14.3f} {d.total:>13.3f}"
            f" {f'{g.dags} / {h.dags} / {d.dags}':>16} {_runs(r, 'worker'):>6}"
        )
    lines.append("")
    target = {r.jobs: r for r in rows}.get(TARGET_JOBS)
    if target is not None:
        p, w = target.processor, target.worker
        ratios = (
            (
                "processor",
                "glueflow / hand-written",
                p["glueflow"].total / p["handwritten"].total,
                "<=",
                TARGET_PROCESSOR_VS_HANDWRITTEN,
            ),
            (
                "processor",
                "dag-factory / glueflow",
                p["dagfactory"].total / p["glueflow"].total,
                ">=",
                TARGET_DAGFACTORY_VS_GLUEFLOW,
            ),
            (
                "worker",
                "glueflow / hand-written",
                w["glueflow"].total / w["handwritten"].total,
                "<=",
                TARGET_WORKER_VS_HANDWRITTEN,
            ),
        )
        for kind, what, ratio, sign, goal in ratios:
            met = ratio <= goal if sign == "<=" else ratio >= goal
            lines.append(
                f"{kind}, {TARGET_JOBS} jobs: {what} = {ratio:.2f}"
                f" (target {sign} {goal:.2f}): {_verdict(met)}"
            )
    for side in SIDES:
        for part, limit, setting in (
            ("parse", AIRFLOW_IMPORT_TIMEOUT, "[core] dagbag_import_timeout"),
            ("child", AIRFLOW_PROCESSOR_TIMEOUT, "[dag_processor] dag_file_processor_timeout"),
        ):
            over = [str(r.jobs) for r in rows if r.slowest[side][part] > limit]
            if over:
                lines.append(
                    f"  {NAMES[side]}: a file's {part} exceeds Airflow's default {setting}"
                    f" ({limit:.0f} s) at {', '.join(over)} jobs: it would fail to be processed"
                )
    lines.append(
        "  equivalent: every DAG has the same fields on all three sides, serialized and as"
        " built (file paths, doc_md and dag-factory's own tag and marker aside)"
    )
    return "\n".join(lines)


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dag_parse_bench")
    kinds = parser.add_subparsers(dest="kind", required=True)
    processor = kinds.add_parser("processor", help="every file of a folder, as the DAG processor")
    processor.add_argument("folder")
    processor.add_argument("out")
    processor.add_argument("--record", action="store_true", help="write every DAG's record")
    worker = kinds.add_parser("worker", help="build one DAG, as a worker")
    worker.add_argument("dag_file")
    worker.add_argument("out")
    worker.add_argument("dag_id")
    worker.add_argument("task_id")
    args = parser.parse_args(argv)
    if args.kind == "processor":
        processor_child(args.folder, args.out, args.record)
    else:
        worker_child(args.dag_file, args.out, args.dag_id, args.task_id)


if __name__ == "__main__":
    _child_main(sys.argv[1:])

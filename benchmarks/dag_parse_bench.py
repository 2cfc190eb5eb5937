"""DagBag parse time of the factory DAG at 5 to 2,000 jobs, against dag-factory 1.1.0 from YAML.

Both sides build the same DAGs from the same compiled manifest: same task ids, operator classes,
arguments, dependencies, schedules and outlet assets. Every size checks this (`_shape`) and the
report names any field that differs. The YAML follows dag_builder's documented wiring,
[input sensor] -> Glue run -> [validation gate].

Each parse runs in a fresh interpreter with Airflow already imported, as the DAG processor has
it; the timed part is DagBag reading the folder, which includes importing the operators'
providers (about 0.7 s, paid by both sides: see the 5-job row).

The child side of this module (`python -m benchmarks.dag_parse_bench FOLDER OUT`) must start with
only the standard library loaded, so the modules the parent needs (configs, PyYAML) are imported
inside the functions that use them, never at the top.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

SIZES = (5, 50, 500, 2000)
ROOT = Path(__file__).resolve().parent.parent
ENV = "dev"
REPEATS = 3
# A side whose first parse takes longer than this is not repeated (dag-factory at 2,000 jobs).
REPEAT_LIMIT_SECONDS = 20.0
# The targets: 500 jobs parse in under 1 s, at least 2x faster than dag-factory.
TARGET_JOBS, TARGET_SECONDS, TARGET_RATIO = 500, 1.0, 2.0
GROWTH_BASE = 50
# Airflow's default [core] dagbag_import_timeout: a file that takes longer fails to import.
# The benchmark turns the timeout off to measure the slow side, and reports who would hit it.
AIRFLOW_IMPORT_TIMEOUT = 30.0
CHILD_TIMEOUT = 900

DAGFACTORY_DAG_FILE = '''\
"""dag-factory's DAG file: every Airflow DAG in dags.yaml beside it."""

from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_name("dags.yaml")))
'''

# Task ids and callables, as glueflow_runtime.dag_builder and glueflow_runtime.gate name them.
GLUE_TASK, GATE_TASK, INPUT_SENSOR_TASK = "run_glue_job", "validation_gate", "wait_for_input"
PASSED_TASK, FAILED_TASK = "validation_passed", "validation_failed"
AWS_CONN_ID = "aws_default"
SENSOR_TIMEOUT_SECONDS = 12 * 3600.0
OPERATORS = {
    "glue": "airflow.providers.amazon.aws.operators.glue.GlueJobOperator",
    "s3_sensor": "airflow.providers.amazon.aws.sensors.s3.S3KeySensor",
    "branch": "airflow.providers.standard.operators.python.BranchPythonOperator",
    "python": "airflow.providers.standard.operators.python.PythonOperator",
    "empty": "airflow.providers.standard.operators.empty.EmptyOperator",
}


class ParseResult(NamedTuple):
    """One DagBag parse in a fresh process."""

    seconds: float
    dags: int
    shapes: dict[str, Any] | None


class DagParseRow(NamedTuple):
    """One size: the median parse of each side and how many runs it is the median of."""

    jobs: int
    glueflow: float
    dagfactory: float
    glueflow_runs: int
    dagfactory_runs: int
    differences: tuple[str, ...]


# --- the two DAG folders ---------------------------------------------------------------------


def glueflow_folder(target: Path, manifest: dict[str, Any]) -> Path:
    """dags/ with the manifest beside the factory, as the deployment (and tests/dags) build it."""
    from configs.manifest import write_manifest

    shutil.copytree(
        ROOT / "dags", target, ignore=shutil.ignore_patterns("__pycache__", "README.md")
    )
    write_manifest(manifest, target / "manifest.json")
    return target


def dagfactory_folder(target: Path, manifest: dict[str, Any]) -> Path:
    """One DAG file calling dag-factory, one YAML file holding every DAG.

    glueflow_runtime/ comes along (with the same .airflowignore) so both sides point their
    callables at the same functions.
    """
    import yaml

    target.mkdir(parents=True)
    shutil.copytree(
        ROOT / "dags" / "glueflow_runtime",
        target / "glueflow_runtime",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "dags" / ".airflowignore", target / ".airflowignore")
    (target / "dagfactory_dags.py").write_text(DAGFACTORY_DAG_FILE)
    config = dagfactory_config(manifest)
    (target / "dags.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _asset(env: str, job: str) -> dict[str, str]:
    """dag_builder.job_asset, in dag-factory's `__type__` object syntax."""
    return {
        "__type__": "airflow.sdk.Asset",
        "name": f"glueflow-{env}-{job}",
        "uri": f"glueflow://{env}/{job}",
    }


def dagfactory_config(manifest: dict[str, Any]) -> dict[str, Any]:
    """The dag-factory YAML for every job of `manifest`, mirroring dag_builder.build_dag."""
    environment = manifest["environment"]
    config: dict[str, Any] = {
        # Shared by every DAG, as dag_builder.START_DATE and catchup=False are.
        "default": {"start_date": "2025-01-01", "catchup": False},
    }
    for name, job in sorted(manifest["jobs"].items()):
        config[name] = _dagfactory_dag(job, environment)
    return config


def _dagfactory_dag(job: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    env, region = environment["name"], environment["region"]
    airflow, trigger_type = job["airflow"], job["trigger"]["type"]
    if job["downstream"]:
        raise NotImplementedError(f"{job['dag_id']}: downstream steps are not mirrored")
    default_args: dict[str, Any] = {
        "owner": job["owner"],
        "retries": airflow["retries"],
        "retry_delay": {
            "__type__": "datetime.timedelta",
            "minutes": airflow["retry_delay_minutes"],
        },
    }
    if airflow["alert_on_failure"]:
        default_args["on_failure_callback"] = "glueflow_runtime.callbacks.on_task_failure"
    aws = {"aws_conn_id": AWS_CONN_ID, "region_name": region}
    tasks: dict[str, dict[str, Any]] = {}
    chain: list[str] = []
    if trigger_type == "schedule" and job["inputs"]:
        tasks[INPUT_SENSOR_TASK] = {
            "operator": OPERATORS["s3_sensor"],
            "bucket_key": f"{job['inputs'][0]['uri']}*",
            "wildcard_match": True,
            "deferrable": True,
            "timeout": SENSOR_TIMEOUT_SECONDS,
            **aws,
        }
        chain.append(INPUT_SENSOR_TASK)
    tasks[GLUE_TASK] = {
        "operator": OPERATORS["glue"],
        "job_name": job["glue_job_name"],
        "script_args": {
            **job["glue"]["arguments"],
            "--glueflow-trigger": "{{ dag_run.conf | tojson }}",
            "--glueflow-airflow-run-id": "{{ run_id }}",
        },
        "deferrable": True,
        "stop_job_run_on_kill": True,
        "wait_for_completion": True,
        "verbose": False,
        **aws,
        "dependencies": chain[-1:],  # the input sensor, when there is one
    }
    chain.append(GLUE_TASK)
    if job["validation"]:
        validation = job["validation"]
        tasks[GATE_TASK] = {
            "operator": OPERATORS["branch"],
            "python_callable": "glueflow_runtime.gate.run_gate",
            "op_kwargs": {
                "report_prefix": validation["report_prefix"],
                "max_invalid_ratio": validation["max_invalid_ratio"],
                "glue_task_id": GLUE_TASK,
                **aws,
            },
            "dependencies": [GLUE_TASK],
        }
        tasks[FAILED_TASK] = {
            "operator": OPERATORS["python"],
            "python_callable": "glueflow_runtime.gate.fail_run",
            "op_kwargs": {"gate_task_id": GATE_TASK},
            "retries": 0,
            "dependencies": [GATE_TASK],
        }
        tasks[PASSED_TASK] = {"operator": OPERATORS["empty"], "dependencies": [GATE_TASK]}
        chain.append(PASSED_TASK)
    tasks[chain[-1]]["outlets"] = [_asset(env, job["dag_id"])]
    for task in tasks.values():
        if not task.get("dependencies"):
            task.pop("dependencies", None)
    dag: dict[str, Any] = {
        "description": job["description"],
        "doc_md": job["description"],
        "max_active_runs": job["glue"]["max_concurrent_runs"],
        "tags": [job["owner"], f"env:{env}", f"trigger:{trigger_type}"],
        "default_args": default_args,
    }
    cron, upstream = job["trigger"].get("cron"), job["depends_on"]
    if cron and upstream:
        # dag-factory 1.1.0 passes a {datasets, timetable} schedule through unchanged on Airflow 3.
        raise NotImplementedError(f"{job['dag_id']}: asset-or-time schedules are not mirrored")
    if upstream:
        dag["schedule"] = [_asset(env, dep) for dep in upstream]
    elif cron:
        # Spelled out: a bare cron string becomes CronTriggerTimetable or CronDataIntervalTimetable
        # depending on [scheduler] create_cron_data_intervals.
        dag["schedule"] = {
            "__type__": "airflow.timetables.trigger.CronTriggerTimetable",
            "__args__": [cron],
            "timezone": "UTC",
        }
    dag["tasks"] = tasks
    return dag


# --- the child: one DagBag parse -------------------------------------------------------------


def _name(value: Any) -> Any:
    """A callable (or list of them) by qualified name, anything else as its repr."""
    if isinstance(value, list):
        return [_name(v) for v in value]
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return value


TASK_ATTRS = (
    "owner", "retries", "job_name", "script_args", "bucket_key", "wildcard_match", "deferrable",
    "timeout", "stop_job_run_on_kill", "wait_for_completion", "verbose", "aws_conn_id",
    "region_name", "op_kwargs",
)  # fmt: skip


def _shape(dag: Any) -> dict[str, Any]:
    """What must match between the two sides: everything but doc_md and dag-factory's own tag."""
    timetable = dag.timetable
    tasks = {}
    for task in dag.tasks:
        tasks[task.task_id] = {
            "class": f"{type(task).__module__}.{type(task).__qualname__}",
            "upstream": sorted(task.upstream_task_ids),
            "retry_delay": task.retry_delay.total_seconds(),
            "python_callable": _name(getattr(task, "python_callable", None)),
            "on_failure_callback": _name(task.on_failure_callback),
            "outlets": [[a.name, a.uri] for a in task.outlets],
            **{attr: getattr(task, attr) for attr in TASK_ATTRS if hasattr(task, attr)},
        }
    return {
        "description": dag.description,
        "schedule": {"type": type(timetable).__name__, **timetable.serialize()},
        "start_date": dag.start_date.isoformat(),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(set(dag.tags) - {"dagfactory"}),
        "tasks": tasks,
    }


def child_main(folder: str, out: str, want_shapes: bool) -> None:
    """Parse `folder` with a DagBag and write seconds, DAG count, errors (and shapes) to `out`."""
    # Untimed: what Airflow 3's DAG processor has loaded before it parses a file. The manager
    # imports these and forks a child per file, so a file's parse does not pay for them.
    import airflow.dag_processing.manager
    import airflow.dag_processing.processor  # noqa: F401
    from airflow.models.dagbag import DagBag

    # As the Airflow 3 DAG processor does with the bundle root, so glueflow_runtime imports.
    sys.path.append(folder)
    start = time.perf_counter()
    bag = DagBag(dag_folder=folder, include_examples=False)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "seconds": seconds,
        "dag_ids": sorted(bag.dag_ids),
        "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    }
    if want_shapes:
        result["shapes"] = {dag_id: _shape(dag) for dag_id, dag in bag.dags.items()}
    Path(out).write_text(json.dumps(result, default=str))


# --- the parent ------------------------------------------------------------------------------


def _child_env(folder: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    # Both sides may cache the bytecode of their DAG folder's modules, as a DAG processor would.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            # dag-factory only reports usage on DAG runs, but a benchmark sends nothing anywhere.
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
        }
    )
    return env


def parse_once(folder: Path, jobs: int, home: Path, want_shapes: bool = False) -> ParseResult:
    """Parse `folder` in a fresh interpreter; fail unless it holds `jobs` DAGs and no errors."""
    out = home / f"result-{folder.name}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.dag_parse_bench", str(folder), str(out)]
    done = subprocess.run(
        [*argv, *(["--shapes"] if want_shapes else [])],
        cwd=ROOT,
        env=_child_env(folder, home),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not out.exists():
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"parse of {folder} exited {done.returncode}; output tail:\n{tail}")
    result = json.loads(out.read_text())
    if result["errors"] or len(result["dag_ids"]) != jobs:
        raise RuntimeError(
            f"parse of {folder}: {len(result['dag_ids'])} DAGs for {jobs} jobs,"
            f" import errors:\n{json.dumps(result['errors'], indent=2)[-4000:]}"
        )
    return ParseResult(result["seconds"], len(result["dag_ids"]), result.get("shapes"))


def differences(glueflow: Any, dagfactory: Any, path: str = "") -> list[str]:
    """Where two shapes differ, one line per leaf: `dag.tasks.task.field: glueflow X, ...`."""
    if isinstance(glueflow, dict) and isinstance(dagfactory, dict):
        found = []
        for key in sorted(set(glueflow) | set(dagfactory)):
            found += differences(
                glueflow.get(key), dagfactory.get(key), f"{path}.{key}" if path else key
            )
        return found
    if glueflow == dagfactory:
        return []
    return [f"{path}: glueflow {json.dumps(glueflow)}, dag-factory {json.dumps(dagfactory)}"]


def _manifest(jobs_dir: Path) -> dict[str, Any]:
    from configs.loader import load_platform
    from configs.manifest import compile_manifest

    return compile_manifest(load_platform(ENV, jobs_dir=jobs_dir))


def run(sizes: tuple[int, ...] = SIZES) -> list[DagParseRow]:
    """Parse each size on both sides, interleaved; median of 3 (1 run past 20 s)."""
    from benchmarks.generate import write_jobs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "airflow-home"
        home.mkdir()
        for size in sizes:
            manifest = _manifest(write_jobs(Path(tmp) / f"jobs-{size}", size))
            folders = {
                "glueflow": glueflow_folder(Path(tmp) / f"glueflow-{size}", manifest),
                "dagfactory": dagfactory_folder(Path(tmp) / f"dagfactory-{size}", manifest),
            }
            # The first run of each side also records the DAGs' shapes, to compare.
            first = {
                side: parse_once(f, size, home, want_shapes=True) for side, f in folders.items()
            }
            diff = differences(first["glueflow"].shapes, first["dagfactory"].shapes)
            samples = {side: [result.seconds] for side, result in first.items()}
            for _ in range(REPEATS - 1):
                for side, folder in folders.items():
                    if samples[side][0] <= REPEAT_LIMIT_SECONDS:
                        samples[side].append(parse_once(folder, size, home).seconds)
            rows.append(
                DagParseRow(
                    size,
                    statistics.median(samples["glueflow"]),
                    statistics.median(samples["dagfactory"]),
                    len(samples["glueflow"]),
                    len(samples["dagfactory"]),
                    tuple(diff),
                )
            )
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(rows: list[DagParseRow]) -> str:
    """The table, the issue's two targets at 500 jobs, and growth against linear."""
    lines = [
        "DAG parse: DagBag in a fresh process with the DAG processor's modules loaded;"
        " glueflow factory vs dag-factory 1.1.0 (one YAML)",
        f"  (median of {REPEATS} runs; 1 run where a parse took > {REPEAT_LIMIT_SECONDS:.0f} s)",
        f"  {'jobs':>6} {'glueflow s':>11} {'dag-factory s':>14} {'ratio':>6}"
        f" {'glueflow ms/DAG':>16} {'dag-factory ms/DAG':>19} {'runs':>5}",
    ]
    for r in rows:
        lines.append(
            f"  {r.jobs:>6} {r.glueflow:>11.3f} {r.dagfactory:>14.3f}"
            f" {r.dagfactory / r.glueflow:>5.1f}x {1000 * r.glueflow / r.jobs:>16.2f}"
            f" {1000 * r.dagfactory / r.jobs:>19.2f} {r.glueflow_runs:>2}/{r.dagfactory_runs}"
        )
    by_jobs = {r.jobs: r for r in rows}
    target = by_jobs.get(TARGET_JOBS)
    if target is not None:
        ratio = target.dagfactory / target.glueflow
        lines.append(
            f"  {TARGET_JOBS} jobs: glueflow {target.glueflow:.2f} s"
            f" (target < {TARGET_SECONDS:.0f} s): {_verdict(target.glueflow < TARGET_SECONDS)}"
        )
        lines.append(
            f"  ratio at {TARGET_JOBS}: {ratio:.1f}x"
            f" (target >= {TARGET_RATIO:.0f}x): {_verdict(ratio >= TARGET_RATIO)}"
        )
    base, last = by_jobs.get(GROWTH_BASE, rows[0]), rows[-1]
    if last.jobs > base.jobs:
        scale = last.jobs / base.jobs
        lines.append(
            f"  cost growth vs linear, {base.jobs} -> {last.jobs} jobs:"
            f" glueflow {(last.glueflow / base.glueflow) / scale:.2f}x,"
            f" dag-factory {(last.dagfactory / base.dagfactory) / scale:.2f}x"
        )
        # The fixed cost (importing the providers) flattens the growth figure; this is the rest.
        added = last.jobs - base.jobs
        lines.append(
            f"  marginal cost per DAG, {base.jobs} -> {last.jobs} jobs:"
            f" glueflow {1000 * (last.glueflow - base.glueflow) / added:.2f} ms,"
            f" dag-factory {1000 * (last.dagfactory - base.dagfactory) / added:.2f} ms"
        )
    for side, attr in (("glueflow", "glueflow"), ("dag-factory", "dagfactory")):
        over = [r.jobs for r in rows if getattr(r, attr) > AIRFLOW_IMPORT_TIMEOUT]
        if over:
            lines.append(
                f"  {side} parse exceeds Airflow's default dagbag_import_timeout"
                f" ({AIRFLOW_IMPORT_TIMEOUT:.0f} s) at {', '.join(map(str, over))} jobs:"
                " the file would fail to import"
            )
    differing = [r for r in rows if r.differences]
    if differing:
        worst = max(differing, key=lambda r: len(r.differences))
        lines.append(
            f"  NOT EQUIVALENT: {len(worst.differences)} fields differ at {worst.jobs} jobs"
            f" (sizes {', '.join(str(r.jobs) for r in differing)}), first ones:"
        )
        lines += [f"    {line}" for line in worst.differences[:3]]
    else:
        lines.append(
            "  equivalent: every DAG has the same tasks, classes, arguments, edges, schedule and"
            " outlets on both sides (doc_md and dag-factory's own tag aside)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2], want_shapes="--shapes" in sys.argv[3:])

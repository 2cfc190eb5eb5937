"""The anchor a team without a factory writes: the same DAGs as plain Airflow Python, one file
per DAG, each constructing its DAG with literal arguments.

`write_folder` writes, for every job of a compiled manifest, `<dag id>.py` as an engineer would
write it by hand: the DAG, its operators, the failure callback, the cost teardown, the
validation gate, the downstream steps, the asset it updates and its schedule, exactly as
`glueflow_runtime.dag_builder.build_dag` builds them, with every value spelled out. A file
imports only what its DAG uses. The callables (`on_task_failure`, `run_gate`,
`record_run_cost`) come from glueflow_runtime, as the factory's do, so the folder carries
glueflow_runtime/ and its .airflowignore, and `benchmarks.dag_equivalence` can check the DAGs
against the factory's field by field.

Numbers and task ids are read from dag_builder when the files are written, not when they are
parsed, as a hand-written file would have them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.dagfactory_mirror import ROOT, dag_builder, runtime_folder

HEADER = (
    '"""{dag_id}: {description}\n\n'
    'One DAG, written out in full (benchmarks/handwritten_dags.py).\n"""\n'
)
# What each name is imported from (`format_files` sorts the import lines).
IMPORTS = {
    "UTC": "datetime",
    "datetime": "datetime",
    "timedelta": "datetime",
    "S3KeySensor": "airflow.providers.amazon.aws.sensors.s3",
    "GlueJobOperator": "airflow.providers.amazon.aws.operators.glue",
    "RedshiftDataOperator": "airflow.providers.amazon.aws.operators.redshift_data",
    "PythonOperator": "airflow.providers.standard.operators.python",
    "TriggerDagRunOperator": "airflow.providers.standard.operators.trigger_dagrun",
    "DAG": "airflow.sdk",
    "Asset": "airflow.sdk",
    "Param": "airflow.sdk",
    "AssetOrTimeSchedule": "airflow.timetables.assets",
    "CronTriggerTimetable": "airflow.timetables.trigger",
    "on_task_failure": "glueflow_runtime.callbacks",
    "record_run_cost": "glueflow_runtime.cost",
    "run_gate": "glueflow_runtime.gate",
    "run_publish": "glueflow_runtime.publish",
}
STDLIB, THIRD_PARTY = ("datetime",), ("airflow",)


def _object_params(trigger: dict[str, Any]) -> str:
    """The params of a DAG started by files, written out (the object a run is for)."""
    bucket, prefix = trigger["bucket"], trigger["prefix"]
    pattern = "^" + re.escape(prefix)
    key_doc = (
        f"The object's key (under {prefix or 'the bucket'}); with reprocess_prefix, a prefix "
        "ending in '/' whose every object is read."
    )
    return f"""{{
        "bucket": Param(
            {bucket!r},
            type="string",
            enum=[{bucket!r}],
            description="The bucket of the object the run is for.",
        ),
        "key": Param(
            type="string",
            minLength=1,
            pattern={pattern!r},
            description={key_doc!r},
        ),
        "version_id": Param(
            None,
            type=["null", "string"],
            description="The object version: the run reads exactly it. Null: the key as it is.",
        ),
        "reprocess_prefix": Param(
            False,
            type="boolean",
            description="Reprocess every object under key, a prefix: a named action.",
        ),
    }}"""


def write_folder(target: Path, manifest: dict[str, Any]) -> Path:
    """One DAG file per job of `manifest` in `target`, with glueflow_runtime/ beside them."""
    runtime_folder(target)
    for name, job in sorted(manifest["jobs"].items()):
        (target / f"{name}.py").write_text(dag_file_text(job, manifest["environment"]))
    format_files(target)
    return target


def format_files(folder: Path) -> None:
    """Sort the imports and format the DAG files as this repository's ruff settings do, so they
    read as a team's own files would."""
    ruff = [str(Path(sys.executable).with_name("ruff")), "--config", str(ROOT / "pyproject.toml")]
    files = sorted(str(path) for path in folder.glob("*.py"))
    for command in (["check", "--fix", "--select", "I", "--quiet"], ["format", "--quiet"]):
        subprocess.run([*ruff, *command, "--no-cache", *files], check=True)


def _call(name: str, arguments: dict[str, str], indent: int) -> str:
    """`name(` one `key=value,` per line `)`, the values already source text."""
    inner = " " * (indent + 4)
    lines = [f"{name}("]
    lines += [f"{inner}{key}={value}," for key, value in arguments.items()]
    lines.append(" " * indent + ")")
    return "\n".join(lines)


class _DagFile:
    """The source of one DAG file, with the names it uses (for its imports)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def use(self, *names: str) -> None:
        self.used.update(names)

    def imports(self) -> str:
        groups: dict[str, dict[str, list[str]]] = {"std": {}, "third": {}, "local": {}}
        for name in self.used:
            module = IMPORTS[name]
            top = module.split(".")[0]
            group = "std" if top in STDLIB else "third" if top in THIRD_PARTY else "local"
            groups[group].setdefault(module, []).append(name)
        return "\n\n".join(
            "\n".join(
                f"from {module} import {', '.join(sorted(names))}"
                for module, names in sorted(group.items())
            )
            for group in groups.values()
            if group
        )


def _asset(file: _DagFile, env: str, job: str) -> str:
    file.use("Asset")
    asset = dag_builder().job_asset(env, job)
    return f"Asset(name={asset.name!r}, uri={asset.uri!r})"


def _cron(file: _DagFile, cron: str) -> str:
    file.use("CronTriggerTimetable")
    return f'CronTriggerTimetable({cron!r}, timezone="UTC")'


def _schedule(file: _DagFile, job: dict[str, Any], env: str) -> str:
    """dag_builder._schedule, spelled out."""
    upstream = [_asset(file, env, dep) for dep in job["depends_on"]]
    cron = job["trigger"].get("cron")
    if upstream and cron:
        file.use("AssetOrTimeSchedule")
        return _call(
            "AssetOrTimeSchedule",
            {"timetable": _cron(file, cron), "assets": f"[{', '.join(upstream)}]"},
            4,
        )
    if upstream:
        return f"[{', '.join(upstream)}]"
    if cron:
        return _cron(file, cron)
    return "None"


def dag_file_text(job: dict[str, Any], environment: dict[str, Any]) -> str:
    """The hand-written DAG file of one job (module docstring)."""
    builder = dag_builder()
    file = _DagFile()
    file.use("DAG", "UTC", "datetime", "timedelta")
    env, region = environment["name"], environment["region"]
    airflow, trigger_type = job["airflow"], job["trigger"]["type"]
    start = builder.START_DATE
    default_args = {
        '"owner"': repr(job["owner"]),
        '"retries"': repr(airflow["retries"]),
        '"retry_delay"': f"timedelta(minutes={airflow['retry_delay_minutes']!r})",
        '"on_failure_callback"': "on_task_failure" if airflow["alert_on_failure"] else "None",
    }
    if airflow["alert_on_failure"]:
        file.use("on_task_failure")
    default_args_text = "\n".join(f"        {k}: {v}," for k, v in default_args.items())
    dag_args = {
        "dag_id": repr(job["dag_id"]),
        "description": repr(job["description"]),
        "schedule": _schedule(file, job, env),
        "start_date": f"datetime({start.year}, {start.month}, {start.day}, tzinfo=UTC)",
        "catchup": "False",
        "max_active_runs": repr(job["glue"]["max_concurrent_runs"]),
        "tags": repr([job["owner"], f"env:{env}", f"trigger:{trigger_type}"]),
        "default_args": "{\n" + default_args_text + "\n    }",
        "doc_md": repr(job["description"]),
        "is_paused_upon_creation": "False",
    }
    if trigger_type == "s3":
        file.use("Param")
        dag_args["params"] = _object_params(job["trigger"])
    aws = {"aws_conn_id": repr(builder.AWS_CONN_ID), "region_name": repr(region)}
    # Each task: its variable (the task id), its class and its arguments as source text.
    tasks: dict[str, tuple[str, dict[str, str]]] = {}
    chain: list[str] = []
    if trigger_type == "schedule" and job["inputs"]:
        file.use("S3KeySensor")
        sensor = {
            "task_id": repr(builder.INPUT_SENSOR_TASK),
            "bucket_key": repr(f"{job['inputs'][0]['uri']}*"),
            "wildcard_match": "True",
            "poke_interval": repr(builder.POLL_S),
            "deferrable": "True",
            "timeout": repr(builder.SENSOR_TIMEOUT.total_seconds()),
            **aws,
        }
        tasks[builder.INPUT_SENSOR_TASK] = ("S3KeySensor", sensor)
        chain.append(builder.INPUT_SENSOR_TASK)
    file.use("GlueJobOperator")
    script_args = {
        **job["glue"]["arguments"],
        "--glueflow-trigger": "{{ dag_run.conf | tojson }}",
        "--glueflow-airflow-run-id": "{{ run_id }}",
    }
    glue = {
        "task_id": repr(builder.GLUE_TASK),
        "job_name": repr(job["glue_job_name"]),
        "script_args": repr(script_args),
        "deferrable": "True",
        "waiter_delay": repr(builder.GLUE_WAITER_DELAY_S),
        "waiter_max_attempts": repr(builder.glue_waiter_attempts(job["glue"]["timeout_minutes"])),
        "retries": repr(job["glue"]["max_retries"]),
        "stop_job_run_on_kill": "True",
        "wait_for_completion": "True",
        "verbose": "False",
        **aws,
    }
    tasks[builder.GLUE_TASK] = ("GlueJobOperator", glue)
    chain.append(builder.GLUE_TASK)
    file.use("PythonOperator", "record_run_cost")
    cost_kwargs = {
        "job": job["dag_id"],
        "glue_job_name": job["glue_job_name"],
        "glue_task_id": builder.GLUE_TASK,
        "budget_usd": job["cost_budget_usd"],
        "environment": environment,
        "aws_conn_id": builder.AWS_CONN_ID,
    }
    cost = {
        "task_id": repr(builder.COST_TASK),
        "python_callable": "record_run_cost",
        "op_kwargs": repr(cost_kwargs),
        "retries": "0",
    }
    tasks[builder.COST_TASK] = ("PythonOperator", cost)
    if job["validation"]:
        file.use("run_gate")
        validation = job["validation"]
        gate_kwargs = {
            "report_prefix": validation["report_prefix"],
            "max_invalid_ratio": validation["max_invalid_ratio"],
            "database": environment["catalog_database"],
            "glue_task_id": builder.GLUE_TASK,
            "aws_conn_id": builder.AWS_CONN_ID,
            "region_name": region,
        }
        gate = {
            "task_id": repr(builder.GATE_TASK),
            "python_callable": "run_gate",
            "op_kwargs": repr(gate_kwargs),
        }
        tasks[builder.GATE_TASK] = ("PythonOperator", gate)
        chain.append(builder.GATE_TASK)
    if job["outputs"]:
        file.use("run_publish")
        publish_kwargs = {
            "report_prefix": job["report_prefix"],
            "database": environment["catalog_database"],
            "glue_task_id": builder.GLUE_TASK,
            "aws_conn_id": builder.AWS_CONN_ID,
            "region_name": region,
            # Who its Table Published events say published (decision 20).
            "announce_as": {
                "environment": environment["name"],
                "name_prefix": environment["name_prefix"],
                "account": environment["account"],
                "region": environment["region"],
                "partition": environment["partition"],
                "database": environment["catalog_database"],
                "dag_id": job["dag_id"],
            },
        }
        tasks[builder.PUBLISH_TASK] = (
            "PythonOperator",
            {
                "task_id": repr(builder.PUBLISH_TASK),
                "python_callable": "run_publish",
                "op_kwargs": repr(publish_kwargs),
            },
        )
        chain.append(builder.PUBLISH_TASK)
    for step in job["downstream"]:
        tasks[step["name"]] = _step(file, step, job, region)
        chain.append(step["name"])
    # The last task of the chain updates the job's asset; the cost task is a teardown.
    tasks[chain[-1]][1]["outlets"] = f"[{_asset(file, env, job['dag_id'])}]"
    body = "\n".join(
        f"    {variable} = {_call(cls, arguments, 4)}"
        + (".as_teardown()" if variable == builder.COST_TASK else "")
        for variable, (cls, arguments) in tasks.items()
    )
    edges = f"    {' >> '.join(chain)}" if len(chain) > 1 else ""
    teardown = f"    {builder.GLUE_TASK} >> {builder.COST_TASK}"
    header = HEADER.format(dag_id=job["dag_id"], description=job["description"])
    statements = [_call("with DAG", dag_args, 0) + " as dag:", body, teardown, edges]
    return f"{header}\n{file.imports()}\n\n" + "\n".join(s for s in statements if s) + "\n"


def _step(
    file: _DagFile, step: dict[str, Any], job: dict[str, Any], region: str
) -> tuple[str, dict[str, str]]:
    """dag_builder._step, spelled out."""
    builder = dag_builder()
    if step["type"] == "redshift_sql":
        file.use("RedshiftDataOperator")
        arguments = {
            "task_id": repr(step["name"]),
            "database": repr(step["database"]),
            "sql": repr(step["sql"]),
            "workgroup_name": repr(step.get("workgroup")),
            "cluster_identifier": repr(step.get("cluster_identifier")),
            "secret_arn": repr(step.get("secret_arn")),
            "wait_for_completion": "True",
            "deferrable": "True",
            "aws_conn_id": repr(builder.AWS_CONN_ID),
            "region_name": repr(region),
        }
        return "RedshiftDataOperator", arguments
    if step["type"] == "trigger_job":
        file.use("TriggerDagRunOperator")
        conf = {**step["conf"], "triggered_by": {"dag_id": job["dag_id"], "run_id": "{{ run_id }}"}}
        arguments = {
            "task_id": repr(step["name"]),
            "trigger_dag_id": repr(step["job"]),
            "conf": repr(conf),
            "wait_for_completion": "False",
        }
        return "TriggerDagRunOperator", arguments
    raise ValueError(f"unknown downstream step type {step['type']!r} in job {job['dag_id']}")

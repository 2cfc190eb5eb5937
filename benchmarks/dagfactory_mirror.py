"""The two DAG folders the DAG benchmark parses: glueflow's, and dag-factory 1.1.0's building
the same DAGs from one YAML file.

The YAML mirrors `glueflow_runtime.dag_builder.build_dag` task for task: [input sensor] ->
Glue run -> [validation gate -> passed | failed] -> downstream steps, the cost task as a
teardown of the Glue run, the job's asset on the last task of the success path. Numbers,
task ids, operator classes and callables come from dag_builder itself, so the YAML follows it;
`benchmarks.dag_equivalence` then checks the built DAGs field by field.

One thing dag-factory 1.1.0's YAML cannot say: that a task is a teardown. It builds a task
from its constructor arguments (`DagBuilder.make_task`), BaseOperator's constructor has no
`is_teardown` argument, and only `as_teardown()` sets it; nothing in dag-factory calls that.
So its DAG file calls `as_teardown()` on the cost task of each DAG it loaded, as a dag-factory
user would have to.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GLUEFLOW_DAG_FILE = "glueflow_factory.py"
DAGFACTORY_DAG_FILE = "dagfactory_dags.py"

DAGFACTORY_DAG_FILE_TEXT = '''\
"""dag-factory's DAG file: every Airflow DAG in dags.yaml beside it.

dag-factory 1.1.0 cannot mark a task as a teardown from YAML, so the cost task is marked here.
"""

from pathlib import Path

from airflow.sdk import DAG
from dagfactory import load_yaml_dags

from glueflow_runtime.ids import COST_TASK

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_name("dags.yaml")))
for dag in [value for value in globals().values() if isinstance(value, DAG)]:
    dag.get_task(COST_TASK).as_teardown()
'''


def glueflow_folder(target: Path, manifest: dict[str, Any]) -> Path:
    """dags/ with the manifest beside the factory, as the deployment (and tests/dags) build it."""
    from configs.manifest import write_manifest

    shutil.copytree(
        ROOT / "dags", target, ignore=shutil.ignore_patterns("__pycache__", "README.md")
    )
    write_manifest(manifest, target / "manifest.json")
    return target


def dagfactory_folder(target: Path, manifest: dict[str, Any]) -> Path:
    """One DAG file calling dag-factory, one YAML file holding every DAG, beside
    glueflow_runtime/ (`runtime_folder`)."""
    import yaml

    runtime_folder(target)
    (target / DAGFACTORY_DAG_FILE).write_text(DAGFACTORY_DAG_FILE_TEXT)
    config = dagfactory_config(manifest)
    (target / "dags.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def runtime_folder(target: Path) -> Path:
    """`target` created with glueflow_runtime/ and the same .airflowignore as dags/, so every
    side of the benchmark calls the same callables (gate, cost, alerts)."""
    target.mkdir(parents=True)
    shutil.copytree(
        ROOT / "dags" / "glueflow_runtime",
        target / "glueflow_runtime",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "dags" / ".airflowignore", target / ".airflowignore")
    return target


def dag_builder() -> ModuleType:
    """glueflow_runtime.dag_builder, imported as the DAG file imports it (dags/ on the path)."""
    dags = str(ROOT / "dags")
    if dags not in sys.path:
        sys.path.append(dags)
    from glueflow_runtime import dag_builder

    return dag_builder


# The operators dag_builder imports where it uses them, by the paths it imports them from.
S3_KEY_SENSOR = "airflow.providers.amazon.aws.sensors.s3.S3KeySensor"
GLUE_JOB_OPERATOR = "airflow.providers.amazon.aws.operators.glue.GlueJobOperator"
PYTHON_OPERATOR = "airflow.providers.standard.operators.python.PythonOperator"
REDSHIFT_DATA_OPERATOR = "airflow.providers.amazon.aws.operators.redshift_data.RedshiftDataOperator"
TRIGGER_DAG_RUN_OPERATOR = (
    "airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator"
)


def _dotted(value: Any) -> str:
    """A class or function by the dotted path dag-factory imports it from."""
    return f"{value.__module__}.{value.__qualname__}"


def _asset(env: str, job: str) -> dict[str, str]:
    """dag_builder.job_asset, in dag-factory's `__type__` object syntax."""
    asset = dag_builder().job_asset(env, job)
    return {"__type__": "airflow.sdk.Asset", "name": asset.name, "uri": asset.uri}


def _cron(cron: str) -> dict[str, Any]:
    # Spelled out: a bare cron string becomes CronTriggerTimetable or CronDataIntervalTimetable
    # depending on [scheduler] create_cron_data_intervals.
    return {
        "__type__": "airflow.timetables.trigger.CronTriggerTimetable",
        "__args__": [cron],
        "timezone": "UTC",
    }


def dagfactory_config(manifest: dict[str, Any]) -> dict[str, Any]:
    """The dag-factory YAML for every job of `manifest`, mirroring dag_builder.build_dag."""
    builder = dag_builder()
    environment = manifest["environment"]
    config: dict[str, Any] = {
        # Shared by every DAG, as dag_builder.START_DATE and catchup=False are.
        "default": {"start_date": builder.START_DATE.date().isoformat(), "catchup": False},
    }
    for name, job in sorted(manifest["jobs"].items()):
        config[name] = _dagfactory_dag(job, environment)
    return config


def _schedule(job: dict[str, Any], env: str) -> Any:
    """dag_builder._schedule: asset-or-time, assets, a cron, or none."""
    cron, upstream = job["trigger"].get("cron"), [_asset(env, dep) for dep in job["depends_on"]]
    if cron and upstream:
        return {
            "__type__": "airflow.timetables.assets.AssetOrTimeSchedule",
            "timetable": _cron(cron),
            "assets": upstream,
        }
    if upstream:
        return upstream
    if cron:
        return _cron(cron)
    return None


def _dagfactory_dag(job: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    builder = dag_builder()
    env, region = environment["name"], environment["region"]
    airflow, trigger_type = job["airflow"], job["trigger"]["type"]
    aws = {"aws_conn_id": builder.AWS_CONN_ID, "region_name": region}
    tasks: dict[str, dict[str, Any]] = {}
    chain: list[str] = []
    if trigger_type == "schedule" and job["inputs"]:
        tasks[builder.INPUT_SENSOR_TASK] = {
            "operator": S3_KEY_SENSOR,
            "bucket_key": f"{job['inputs'][0]['uri']}*",
            "wildcard_match": True,
            "poke_interval": builder.POLL_S,
            "deferrable": True,
            "timeout": builder.SENSOR_TIMEOUT.total_seconds(),
            **aws,
        }
        chain.append(builder.INPUT_SENSOR_TASK)
    tasks[builder.GLUE_TASK] = {
        "operator": GLUE_JOB_OPERATOR,
        "job_name": job["glue_job_name"],
        "script_args": {
            **job["glue"]["arguments"],
            "--glueflow-trigger": "{{ dag_run.conf | tojson }}",
            "--glueflow-airflow-run-id": "{{ run_id }}",
        },
        "deferrable": True,
        "waiter_delay": builder.GLUE_WAITER_DELAY_S,
        "waiter_max_attempts": builder.glue_waiter_attempts(job["glue"]["timeout_minutes"]),
        "retries": job["glue"]["max_retries"],
        "stop_job_run_on_kill": True,
        "wait_for_completion": True,
        "verbose": False,
        **aws,
        "dependencies": chain[-1:],  # the input sensor, when there is one
    }
    chain.append(builder.GLUE_TASK)
    tasks[builder.COST_TASK] = {  # made a teardown by the DAG file (module docstring)
        "operator": PYTHON_OPERATOR,
        "python_callable": _dotted(builder.cost.record_run_cost),
        "op_kwargs": {
            "job": job["dag_id"],
            "glue_job_name": job["glue_job_name"],
            "glue_task_id": builder.GLUE_TASK,
            "budget_usd": job["cost_budget_usd"],
            "environment": environment,
            "aws_conn_id": builder.AWS_CONN_ID,
        },
        "retries": 0,
        "dependencies": [builder.GLUE_TASK],
    }
    if job["validation"]:
        validation = job["validation"]
        tasks[builder.GATE_TASK] = {
            "operator": PYTHON_OPERATOR,
            "python_callable": _dotted(builder.gate.run_gate),
            "op_kwargs": {
                "report_prefix": validation["report_prefix"],
                "max_invalid_ratio": validation["max_invalid_ratio"],
                "glue_task_id": builder.GLUE_TASK,
                **aws,
            },
            "dependencies": [builder.GLUE_TASK],
        }
        chain.append(builder.GATE_TASK)
    for step in job["downstream"]:
        tasks[step["name"]] = {**_step(step, job, region), "dependencies": chain[-1:]}
        chain.append(step["name"])
    tasks[chain[-1]]["outlets"] = [_asset(env, job["dag_id"])]
    for task in tasks.values():
        if not task.get("dependencies"):
            task.pop("dependencies", None)
    return {
        "description": job["description"],
        "doc_md": job["description"],
        "schedule": _schedule(job, env),
        "max_active_runs": job["glue"]["max_concurrent_runs"],
        "tags": [job["owner"], f"env:{env}", f"trigger:{trigger_type}"],
        "is_paused_upon_creation": False,
        "default_args": {
            "owner": job["owner"],
            "retries": airflow["retries"],
            "retry_delay": {
                "__type__": "datetime.timedelta",
                "minutes": airflow["retry_delay_minutes"],
            },
            "on_failure_callback": (
                _dotted(builder.on_task_failure) if airflow["alert_on_failure"] else None
            ),
        },
        "tasks": tasks,
    }


def _step(step: dict[str, Any], job: dict[str, Any], region: str) -> dict[str, Any]:
    """dag_builder._step's operator and arguments."""
    builder = dag_builder()
    if step["type"] == "redshift_sql":
        return {
            "operator": REDSHIFT_DATA_OPERATOR,
            "database": step["database"],
            "sql": step["sql"],
            "workgroup_name": step.get("workgroup"),
            "cluster_identifier": step.get("cluster_identifier"),
            "secret_arn": step.get("secret_arn"),
            "wait_for_completion": True,
            "deferrable": True,
            "aws_conn_id": builder.AWS_CONN_ID,
            "region_name": region,
        }
    if step["type"] == "trigger_job":
        return {
            "operator": TRIGGER_DAG_RUN_OPERATOR,
            "trigger_dag_id": step["job"],
            "conf": {
                **step["conf"],
                "triggered_by": {"dag_id": job["dag_id"], "run_id": "{{ run_id }}"},
            },
            "wait_for_completion": False,
        }
    raise ValueError(f"unknown downstream step type {step['type']!r} in job {job['dag_id']}")

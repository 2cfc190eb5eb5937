"""MWAA's Airflow configuration, for Airflow run locally by the tests.

MWAA starts every Airflow component with environment variables that override Airflow's
defaults. This module repeats the ones that mean something on one machine, per Airflow
version, so the tests run Airflow as MWAA does, not under Airflow's unit-test config (which
flips defaults: `dags_are_paused_at_creation` False instead of True, for one).

Source, for 3.3.1, in github.com/aws/amazon-mwaa-docker-images at commit
9d2bebb5c7858e27a1c6afb20b7827840217e3a0:

- images/airflow/3.3.1/python/mwaa/config/airflow.py: `get_essential_airflow_config` (the
  customer cannot override it) and `get_opinionated_airflow_config` (the customer can).
- images/airflow/3.3.1/python/mwaa/config/environ.py: `get_opinionated_environ`.
- images/airflow/3.3.1/python/mwaa/config/setup_environment.py: how the two are merged over
  Airflow's defaults (`setup_environment_variables`).
- images/airflow/3.3.1/python/mwaa/entrypoint.py: the executor comes from
  MWAA__CORE__EXECUTOR_TYPE (CeleryExecutor unless it says LocalExecutor).

MWAA sets nothing else in [core]: `dags_are_paused_at_creation` keeps Airflow's default,
True (airflow/config_templates/config.yml), and every DAG MWAA parses starts paused unless
the DAG itself says otherwise. `unit_test_mode` is never set.
"""

from __future__ import annotations

from configs.mwaa_version import AIRFLOW_VERSION

# What MWAA 3.3.1 sets that also makes sense on one machine, as MWAA writes it.
#
# Left out, with the reason:
# - Celery, SQS (executor branch "celeryexecutor", mwaa/config/celery.py, sqs.py): MWAA's
#   default executor is Celery over SQS. Its other supported branch, "localexecutor", runs
#   tasks in processes of the scheduler, which is what one machine can do.
# - Database (`sql_alchemy_conn`, `sql_alchemy_connect_args` =
#   mwaa.config.database.MWAA_CONNECT_ARGS): RDS PostgreSQL with IAM credentials; the
#   caller chooses the database.
# - Secrets: `core.fernet_key`, `api_auth.jwt_secret`, `api.secret_key` come from MWAA's
#   Secrets Manager entries; locally Airflow generates them once per AIRFLOW_HOME (in its
#   airflow.cfg), which every process of that home shares.
# - `[secrets] backend_kwargs` / `[workers] secrets_backend_kwargs`: a lookup pattern for a
#   secrets backend, and there is none locally.
# - Logging (`logging_config_class` = mwaa.logging.config.LOGGING_CONFIG) and CloudWatch
#   metrics (`[metrics] statsd_*` when MWAA__CLOUDWATCH_METRICS_INTEGRATION__ENABLED):
#   shipping to CloudWatch through MWAA's own handlers and sidecar.
# - `core.auth_manager` = FabAuthManager: MWAA's IAM ("mwaa-iam") sign-in. Without it MWAA
#   uses SimpleAuthManager with every user an admin, which is repeated here.
# - `fab.config_file`: a file in MWAA's image, for the FAB auth manager above.
# - Set by MWAA but not options of Airflow 3.3.1 (no effect there, so not repeated):
#   `scheduler.standalone_dag_processor` (Airflow 3 always runs `airflow dag-processor`
#   as its own process), `scheduler.schedule_after_task_execution`,
#   `usage_data_collection.enabled`.
#
# 3.0.6 is no longer supported (docs/architecture.md, decision 3), so its settings are gone.
_MWAA_AIRFLOW_CONFIG: dict[str, dict[str, str]] = {
    "3.3.1": {
        # mwaa/config/airflow.py, _get_essential_airflow_executor_config("localexecutor")
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # _get_essential_airflow_core_config: MWAA blocks 3.2's multi-team deployments
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__MULTI_TEAM": "False",
        # _get_opinionated_airflow_core_config
        "AIRFLOW__CORE__EXECUTE_TASKS_NEW_PYTHON_INTERPRETER": "True",
        "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "proxy,proxies",
        # _get_opinionated_airflow_api_config: the API server runs under gunicorn
        "AIRFLOW__API__SERVER_TYPE": "gunicorn",
        "AIRFLOW__API__WORKER_REFRESH_INTERVAL": "43200",
        "AIRFLOW__API__WORKER_REFRESH_BATCH_SIZE": "1",
        # _get_essential_airflow_auth_config, when MWAA__CORE__AUTH_TYPE is not "mwaa-iam"
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        # _get_essential_airflow_api_auth_config (the secret: see above)
        "AIRFLOW__API_AUTH__JWT_ALGORITHM": "HS256",
        # _get_essential_aiflow_execution_api_config
        "AIRFLOW__EXECUTION_API__JWT_EXPIRATION_TIME": "86400",
        # _get_essential_airflow_triggerer_config: one triggerer, no queues
        "AIRFLOW__TRIGGERER__QUEUES_ENABLED": "False",
        # _get_essential_airflow_logging_config, without the CloudWatch handlers
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        # _get_opinionated_airflow_scheduler_config
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800.0",
        # mwaa/config/environ.py, get_opinionated_environ: the connection Glueflow's
        # operators use (aws_default) exists and takes the environment's credentials.
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
    },
}


def mwaa_airflow_env(
    version: str = AIRFLOW_VERSION, *, api_server_url: str | None = None
) -> dict[str, str]:
    """The environment variables MWAA sets for Airflow `version`, for a local run.

    `api_server_url` is the API server's address, as MWAA__CORE__API_SERVER_URL is on MWAA:
    task processes reach the execution API under it (`core.execution_api_server_url`)."""
    try:
        env = dict(_MWAA_AIRFLOW_CONFIG[version])
    except KeyError:
        raise KeyError(
            f"no MWAA Airflow configuration for {version} in glueflow_local/mwaa.py: read "
            f"images/airflow/{version}/python/mwaa/config/ in aws/amazon-mwaa-docker-images"
        ) from None
    if api_server_url:
        # mwaa/config/airflow.py, _get_essential_airflow_core_config
        prefix = "" if "://" in api_server_url else "https://"
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{prefix}{api_server_url}/execution"
    return env

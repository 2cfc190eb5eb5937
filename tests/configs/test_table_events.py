"""Tables other Glueflow deployments depend on (docs/architecture.md, decision 20): an
environment's `external_tables` (another deployment's table whose publishing starts jobs here,
`trigger: {table: <key>}`) and `table_consumers` (accounts that get this environment's Table
Published events). validate refuses what cannot work, one `file: field: message` line each,
naming the value and what is accepted.

Why each refusal (AWS documentation):
- another region: the producer's rule forwards to a bus in its own region, as the cross-account
  delivery this project deploys does ("Sending and receiving events between AWS accounts in
  Amazon EventBridge", EventBridge User Guide);
- a consumer that is this account: its other environments read the events on this same default
  bus already (a rule of an account matches the events on that account's bus: "Event buses in
  Amazon EventBridge"), and forwarding a bus to itself is no delivery;
- this environment's own table: its jobs follow each other with depends_on (Airflow assets).
"""

from __future__ import annotations

from typing import Any

import pytest

from configs.loader import load_platform, validate_all
from configs.manifest import compile_manifest
from tests.configs.test_cli import project_args, run_cli
from tests.conftest import Project, valid_environment, valid_job

PRODUCER = "555555555555"


def fx(**fields: Any) -> dict[str, Any]:
    """Treasury's fx_rates table, published by its prod deployment."""
    return {"account": PRODUCER, "region": "eu-west-1", "environment": "prod",
            "table": "fx_rates", **fields}  # fmt: skip


def env(**fields: Any) -> dict[str, Any]:
    return {**valid_environment(), **fields}


def started_by_fx(**fields: Any) -> dict[str, Any]:
    return valid_job("convert", trigger={"table": "treasury_fx"}, **fields)


def problems(project: Project) -> list[str]:
    found = validate_all(root=project.root, strict_overrides=True, **project.paths())
    return [f"{p.file.rsplit('/', 1)[-1]}: {p.field}: {p.message}" for p in found]


def test_a_job_started_by_another_deployments_table(valid_project: Project) -> None:
    valid_project.write_env("dev", env(external_tables={"treasury_fx": fx()}))
    valid_project.write_job("convert", started_by_fx())

    assert problems(valid_project) == []
    platform = load_platform("dev", root=valid_project.root, **valid_project.paths())
    trigger = compile_manifest(platform)["jobs"]["convert"]["trigger"]
    assert trigger == {
        "type": "table", "key": "treasury_fx", "account": PRODUCER, "region": "eu-west-1",
        "name_prefix": "glueflow", "environment": "prod", "table": "fx_rates",
    }  # fmt: skip


def test_a_table_of_another_environment_of_this_account_is_accepted(
    valid_project: Project,
) -> None:
    """Same account, another environment: its events are on this bus already."""
    valid_project.write_env("dev", env(external_tables={"qa_sales": fx(
        account="123456789012", environment="qa", name_prefix="gf", table="sales_daily"
    )}))  # fmt: skip
    valid_project.write_job("convert", valid_job("convert", trigger={"table": "qa_sales"}))

    assert problems(valid_project) == []


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        (
            {"external_tables": {"treasury_fx": fx(region="us-east-1")}},
            "external_tables.treasury_fx.region",
            ("'us-east-1' is not the environment's region 'eu-west-1'",),
        ),
        (
            {"external_tables": {"own": fx(account="123456789012", environment="dev",
                                           name_prefix="gf", table="sales")}},
            "external_tables.own.environment",
            ("is this environment: table 'sales' is its own", "depends_on"),
        ),
        (
            {"external_tables": {"a_fx": fx(), "b_fx": fx()}},
            "external_tables.b_fx",
            ("also declared as external_tables.a_fx",),
        ),
        (
            {"external_tables": {"treasury_fx": fx(account="5555")}},
            "external_tables.treasury_fx.account",
            ("'5555' does not have the accepted form",),
        ),
        (
            {"external_tables": {"treasury_fx": fx(environment="Prod")}},
            "external_tables.treasury_fx.environment",
            ("'Prod' is not a valid environment name", "2-12 lowercase letters and digits"),
        ),
        (
            {"external_tables": {"treasury_fx": fx(table="FX-Rates")}},
            "external_tables.treasury_fx.table",
            ("'FX-Rates' is not a valid table name", "lowercase letters, digits and '_'"),
        ),
        (
            {"external_tables": {"Treasury": fx()}},
            "external_tables",
            ("key 'Treasury' is not accepted", "2-40 lowercase letters, digits and '_'"),
        ),
        (
            {"table_consumers": [{"account": "123456789012", "tables": ["ingest_out"]}]},
            "table_consumers[0].account",
            ("'123456789012' is this environment's own account", "external_tables"),
        ),
        (
            {"table_consumers": [{"account": PRODUCER, "tables": ["ingest_out"]},
                                 {"account": PRODUCER, "tables": ["ingest_out"]}]},
            "table_consumers[1].account",
            (f"'{PRODUCER}' is listed already (table_consumers[0])",),
        ),
        (
            {"table_consumers": [{"account": "55555555555X", "tables": ["ingest_out"]}]},
            "table_consumers[0].account",
            ("'55555555555X' does not have the accepted form",),
        ),
        (
            {"table_consumers": [{"account": PRODUCER, "tables": ["ghost"]}]},
            "table_consumers[0].tables[0]",
            ("'ghost' is not a table this environment's jobs write", "accepted: ingest_out"),
        ),
        (
            {"table_consumers": [{"account": PRODUCER, "tables": []}]},
            "table_consumers[0].tables",
            ("at least 1",),
        ),
    ],
    ids=["region", "own-table", "twice", "account", "environment", "table", "key",
         "consumer-own-account", "consumer-twice", "consumer-account", "unknown-table",
         "no-table"],
)  # fmt: skip
def test_an_environment_that_cannot_work_is_refused(
    valid_project: Project, fields: dict[str, Any], field: str, says: tuple[str, ...]
) -> None:
    valid_project.write_env("dev", env(**fields))

    found = [line for line in problems(valid_project) if line.startswith(f"dev.yaml: {field}: ")]

    assert found, problems(valid_project)
    for fragment in says:
        assert fragment in found[0], found[0]


def test_a_trigger_naming_an_unknown_table_is_refused_with_the_accepted_keys(
    valid_project: Project,
) -> None:
    valid_project.write_env("dev", env(external_tables={"treasury_fx": fx(), "hr_staff": fx(
        table="staff")}))  # fmt: skip
    valid_project.write_job("convert", valid_job("convert", trigger={"table": "treasury"}))

    assert "convert.yaml: trigger.table: unknown external table 'treasury' of environment " \
        "'dev' (configs/environments/dev.yaml); accepted: hr_staff, treasury_fx" in [
            line.replace(str(valid_project.root) + "/", "") for line in problems(valid_project)
        ]  # fmt: skip


def test_a_table_trigger_beside_a_schedule_is_refused(valid_project: Project) -> None:
    valid_project.write_env("dev", env(external_tables={"treasury_fx": fx()}))
    valid_project.write_job("convert", valid_job(
        "convert", trigger={"table": "treasury_fx", "schedule": "0 6 * * *"}
    ))  # fmt: skip

    found = [line for line in problems(valid_project) if "convert.yaml: trigger" in line]

    assert len(found) == 1
    assert "a job has one trigger: 'table' or 'schedule', not both" in found[0]


def test_validate_prints_the_refusals_one_line_each_without_a_traceback(
    valid_project: Project,
) -> None:
    valid_project.write_env("dev", env(
        external_tables={"treasury_fx": fx(region="us-east-1")},
        table_consumers=[{"account": "123456789012", "tables": ["ingest_out"]}],
    ))  # fmt: skip
    valid_project.write_job("convert", valid_job("convert", trigger={"table": "treasury"}))

    result = run_cli("validate", *project_args(valid_project), cwd=valid_project.root)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "configs/environments/dev.yaml: external_tables.treasury_fx.region: 'us-east-1' is not "
        "the environment's region 'eu-west-1'; an external table must be published in the same "
        "region (its Table Published events are forwarded bus to bus within one region)",
        "configs/environments/dev.yaml: table_consumers[0].account: '123456789012' is this "
        "environment's own account; its other environments get this environment's Table "
        "Published events on the default bus already: declare the table under their "
        "external_tables, not here",
        "configs/jobs/convert.yaml: trigger.table: unknown external table 'treasury' of "
        "environment 'dev' (configs/environments/dev.yaml); accepted: treasury_fx",
        "3 config problems",
    ]

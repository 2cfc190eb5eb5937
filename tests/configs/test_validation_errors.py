"""Every config error class yields one clear `file: field: message` line.

Each case starts from a valid project, breaks one thing, and names the line it expects: the
file it blames, the field, and fragments of the message (the bad value and what is accepted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from configs.loader import load_platform, validate_all
from configs.problems import ConfigError
from configs.steps import registry
from tests.conftest import Project, table_output, valid_environment, valid_job


@dataclass
class Case:
    id: str
    breaks: Callable[[Project], Any]
    file: str  # the blamed file, relative to the project root
    field: str
    says: tuple[str, ...]  # fragments the message must contain


def job_with(**fields: Any) -> Callable[[Project], Any]:
    return lambda p: p.write_job("ingest", valid_job("ingest", **fields))


def job_glue(**glue: Any) -> Callable[[Project], Any]:
    return job_with(glue=glue)


def env_with(**fields: Any) -> Callable[[Project], Any]:
    return lambda p: p.write_env("dev", {**valid_environment(), **fields})


def two_jobs(second: dict[str, Any], first: dict[str, Any] | None = None):
    def write(p: Project) -> None:
        p.write_job("ingest", first or valid_job("ingest"))
        p.write_job("second", second)

    return write


def cycle(p: Project) -> None:
    p.write_job("ingest", valid_job("ingest", depends_on=["c_job"]))
    p.write_job("b", valid_job("b_job", depends_on=["ingest"]))
    p.write_job("c", valid_job("c_job", depends_on=["b_job"]))


CASES = [
    # unknown keys
    Case(
        "unknown-top-level-key",
        job_with(colour="blue"),
        "configs/jobs/ingest.yaml",
        "colour",
        ("unknown key 'colour'", "accepted:", "description", "glue"),
    ),
    Case(
        "unknown-nested-key",
        job_glue(wokers=3),
        "configs/jobs/ingest.yaml",
        "glue.wokers",
        ("unknown key 'wokers'", "workers"),
    ),
    Case(
        "unknown-key-in-step-lists-that-step-type",
        job_with(
            downstream=[
                {"type": "trigger_job", "name": "next", "job": "ingest", "confg": {}},
            ]
        ),
        "configs/jobs/ingest.yaml",
        "downstream[0].confg",
        ("unknown key 'confg'", "accepted: after, conf, job, name, type"),
    ),
    Case(
        "unknown-environment-key",
        env_with(vpc="vpc-123"),
        "configs/environments/dev.yaml",
        "vpc",
        ("unknown key 'vpc'", "network"),
    ),
    # wrong types
    Case(
        "string-for-integer",
        job_glue(workers="ten"),
        "configs/jobs/ingest.yaml",
        "glue.workers",
        ("valid integer", "'ten'"),
    ),
    Case(
        "quoted-number-is-not-coerced",
        job_glue(timeout_minutes="60"),
        "configs/jobs/ingest.yaml",
        "glue.timeout_minutes",
        ("valid integer", "'60'"),
    ),
    Case(
        "list-for-mapping",
        job_with(tags=["a", "b"]),
        "configs/jobs/ingest.yaml",
        "tags",
        ("must be a mapping of keys", "got a list"),
    ),
    Case(
        "unknown-enum-value",
        job_glue(execution_class="CHEAP"),
        "configs/jobs/ingest.yaml",
        "glue.execution_class",
        ("'STANDARD' or 'FLEX'", "'CHEAP'"),
    ),
    Case(
        "unknown-step-type",
        job_with(downstream=[{"type": "airbyte", "name": "x"}]),
        "configs/jobs/ingest.yaml",
        "downstream[0]",
        ("type 'airbyte' is not accepted", "'step_functions', 'tableau', 'trigger_job'"),
    ),
    Case(
        "missing-required-field",
        lambda p: p.write_job(
            "ingest", {k: v for k, v in valid_job("ingest").items() if k != "owner"}
        ),
        "configs/jobs/ingest.yaml",
        "owner",
        ("required field is missing",),
    ),
    # duplicate names
    Case(
        "duplicate-job-name",
        two_jobs(valid_job("ingest")),
        "configs/jobs/second.yaml",
        "name",
        ("duplicate job name 'ingest'", "configs/jobs/ingest.yaml"),
    ),
    # depends_on
    Case(
        "unknown-dependency",
        job_with(depends_on=["ghost"]),
        "configs/jobs/ingest.yaml",
        "depends_on[0]",
        ("unknown job 'ghost'", "known: ingest"),
    ),
    Case(
        "files-and-upstream",
        two_jobs(valid_job("second", depends_on=["ingest"], trigger=valid_job("x")["trigger"])),
        "configs/jobs/second.yaml",
        "depends_on",
        ("runs once per object version", "drop depends_on"),
    ),
    Case(
        "self-dependency",
        job_with(depends_on=["ingest"]),
        "configs/jobs/ingest.yaml",
        "depends_on[0]",
        ("cannot depend on itself",),
    ),
    Case(
        "dependency-cycle",
        cycle,
        "configs/jobs/b.yaml",
        "depends_on",
        ("dependency cycle b_job -> ingest -> c_job -> b_job (each depends on the next)",),
    ),
    Case(
        "unknown-trigger-job-step",
        job_with(downstream=[{"type": "trigger_job", "name": "next", "job": "nope"}]),
        "configs/jobs/ingest.yaml",
        "downstream[0].job",
        ("unknown job 'nope'",),
    ),
    # the steps' graph (after:)
    Case(
        "step-after-an-unknown-step",
        job_with(
            downstream=[
                {"type": "trigger_job", "name": "a", "job": "second"},
                {"type": "trigger_job", "name": "b", "job": "second", "after": ["a", "nope"]},
            ]
        ),
        "configs/jobs/ingest.yaml",
        "downstream[1].after[1]",
        ("unknown step 'nope'", "this job's steps: a, b"),
    ),
    Case(
        "step-after-itself",
        job_with(
            downstream=[{"type": "trigger_job", "name": "a", "job": "second", "after": ["a"]}]
        ),
        "configs/jobs/ingest.yaml",
        "downstream[0].after[0]",
        ("cannot run after itself",),
    ),
    Case(
        "steps-after-each-other",
        job_with(
            downstream=[
                {"type": "trigger_job", "name": "a", "job": "second", "after": ["c"]},
                {"type": "trigger_job", "name": "b", "job": "second"},
                {"type": "trigger_job", "name": "c", "job": "second"},
            ]
        ),
        "configs/jobs/ingest.yaml",
        "downstream[0].after",
        ("in a circle", "a -> b -> c -> a"),
    ),
    # buckets the environment does not declare
    Case(
        "event-trigger-on-undeclared-bucket",
        job_with(trigger={"s3": {"bucket": "landing", "prefix": "in/"}}),
        "configs/jobs/ingest.yaml",
        "trigger.s3.bucket",
        ("bucket 'landing' is not declared by environment 'dev'", "declared: curated, raw"),
    ),
    Case(
        "input-on-undeclared-bucket",
        job_with(inputs=[{"bucket": "archive", "prefix": "x/"}]),
        "configs/jobs/ingest.yaml",
        "inputs[0].bucket",
        ("bucket 'archive' is not declared",),
    ),
    # trigger shape
    Case(
        "schedule-and-event-trigger",
        job_with(trigger={"schedule": "0 6 * * *", "s3": {"bucket": "raw", "prefix": "in/"}}),
        "configs/jobs/ingest.yaml",
        "trigger",
        ("either an S3 event trigger or a schedule, not both",),
    ),
    Case(
        "event-trigger-without-prefix-or-suffix",
        job_with(trigger={"s3": {"bucket": "raw"}}),
        "configs/jobs/ingest.yaml",
        "trigger.s3",
        ("needs a prefix and/or a suffix",),
    ),
    # scripts
    Case(
        "missing-script",
        job_with(script="glue_scripts/jobs/missing.py"),
        "configs/jobs/ingest.yaml",
        "script",
        ("'glue_scripts/jobs/missing.py' does not exist", "create it, or point script: at"),
    ),
    Case(
        "script-outside-repo",
        job_with(script="../elsewhere.py"),
        "configs/jobs/ingest.yaml",
        "script",
        ("'../elsewhere.py' is not accepted", "relative to the repository root"),
    ),
    # worker types per Glue version
    Case(
        "streaming-worker-type-on-batch-job",
        job_glue(version="5.1", worker_type="G.025X"),
        "configs/jobs/ingest.yaml",
        "glue",
        ("worker_type 'G.025X' is not allowed on Glue 5.1", "accepted: G.1X, G.2X"),
    ),
    Case(
        "legacy-worker-type-on-glue-6",
        job_glue(version=6.0, worker_type="Standard"),
        "configs/jobs/ingest.yaml",
        "glue",
        ("worker_type 'Standard' is not allowed on Glue 6.0",),
    ),
    # Glue 6.1's Graviton workers ("Migrating AWS Glue for Spark jobs to AWS Glue version 6.1"):
    # offered on 6.1 only; the Flex page names no Graviton type.
    Case(
        "graviton-worker-type-before-glue-6-1",
        job_glue(version="6.0", worker_type="G.2X.GRAVITON"),
        "configs/jobs/ingest.yaml",
        "glue",
        (
            "worker_type 'G.2X.GRAVITON' is not allowed on Glue 6.0",
            "accepted: G.1X,",
            "G.2X.GRAVITON runs on Glue 6.1",
        ),
    ),
    Case(
        "unknown-graviton-size",
        job_glue(version="6.1", worker_type="G.025X.GRAVITON"),
        "configs/jobs/ingest.yaml",
        "glue",
        (
            "worker_type 'G.025X.GRAVITON' is not allowed on Glue 6.1",
            "accepted: G.1X.GRAVITON, G.2X.GRAVITON,",
            "R.8X.GRAVITON, G.1X,",
        ),
    ),
    Case(
        "flex-on-graviton",
        job_glue(version="6.1", worker_type="G.1X.GRAVITON", execution_class="FLEX"),
        "configs/jobs/ingest.yaml",
        "glue",
        ("'FLEX' does not run on worker_type 'G.1X.GRAVITON'", "Flex accepts: G.1X, G.2X"),
    ),
    Case(
        "flex-on-glue-6-1-default-worker-type",
        job_glue(version=6.1, execution_class="FLEX"),
        "configs/jobs/ingest.yaml",
        "glue",
        (
            "'FLEX' needs a worker_type on Glue 6.1",
            "runs on G.1X.GRAVITON",
            "set worker_type to one of: G.1X, G.2X",
        ),
    ),
    Case(
        "flex-on-large-workers",
        job_glue(worker_type="G.8X", execution_class="FLEX"),
        "configs/jobs/ingest.yaml",
        "glue",
        ("'FLEX' does not run on worker_type 'G.8X'", "G.1X, G.2X"),
    ),
    Case(
        "typical-run-longer-than-its-timeout",
        job_glue(timeout_minutes=30, typical_minutes=45),
        "configs/jobs/ingest.yaml",
        "glue",
        ("typical_minutes 45 is longer than timeout_minutes 30", "accepted: 1 to timeout_minutes"),
    ),
    Case(
        "unknown-glue-version",
        job_glue(version="3.0"),
        "configs/jobs/ingest.yaml",
        "glue.version",
        ("'4.0', '5.0', '5.1', '6.0' or '6.1'", "'3.0'"),
    ),
    # names
    Case(
        "name-with-uppercase-and-hyphen",
        lambda p: p.write_job("ingest", {**valid_job("ingest"), "name": "Sales-Daily"}),
        "configs/jobs/ingest.yaml",
        "name",
        ("'Sales-Daily' is not a valid job name", "lowercase letters, digits and '_'"),
    ),
    Case(
        "name-too-long",
        lambda p: p.write_job("ingest", {**valid_job("ingest"), "name": "a" * 65}),
        "configs/jobs/ingest.yaml",
        "name",
        ("is not a valid job name", "3-64 characters"),
    ),
    Case(
        "name-prefix-with-capitals",
        env_with(name_prefix="GlueFlow"),
        "configs/environments/dev.yaml",
        "name_prefix",
        ("'GlueFlow' is not a valid name_prefix",),
    ),
    # cron
    Case(
        "cron-with-four-fields",
        job_with(trigger={"schedule": "0 6 * *"}),
        "configs/jobs/ingest.yaml",
        "trigger.schedule",
        ("'0 6 * *' is not a valid cron expression", "five fields"),
    ),
    Case(
        "cron-out-of-range",
        job_with(trigger={"schedule": "61 * * * *"}),
        "configs/jobs/ingest.yaml",
        "trigger.schedule",
        ("'61 * * * *' is not a valid cron expression",),
    ),
    Case(
        "unknown-cron-preset",
        job_with(trigger={"schedule": "@often"}),
        "configs/jobs/ingest.yaml",
        "trigger.schedule",
        ("'@often' is not a cron preset", "@daily"),
    ),
    # monitoring
    Case(
        "alarm-minutes-off-the-5-minute-periods",
        env_with(monitoring={"queued_tasks_minutes": 7}),
        "configs/environments/dev.yaml",
        "monitoring.queued_tasks_minutes",
        ("multiple of 5", "7"),
    ),
    Case(
        "unknown-monitoring-key",
        env_with(monitoring={"daily_cost_usd": 50.0}),
        "configs/environments/dev.yaml",
        "monitoring.daily_cost_usd",
        ("unknown key 'daily_cost_usd'", "daily_cost_alarm_usd"),
    ),
    # environment overrides
    Case(
        "bad-override-blames-the-environment",
        env_with(job_overrides={"ingest": {"glue": {"workers": 1}}}),
        "configs/environments/dev.yaml",
        "job_overrides.ingest.glue.workers",
        ("greater than or equal to 2", "1"),
    ),
    Case(
        "override-for-unknown-job",
        env_with(job_overrides={"ingets": {"glue": {"workers": 4}}}),
        "configs/environments/dev.yaml",
        "job_overrides.ingets",
        ("unknown job 'ingets'", "known: ingest"),
    ),
    Case(
        "override-adds-unknown-dependency",
        env_with(job_overrides={"ingest": {"depends_on": ["ghost"]}}),
        "configs/environments/dev.yaml",
        "job_overrides.ingest.depends_on[0]",
        ("unknown job 'ghost'",),
    ),
    Case(
        "override-points-at-missing-script",
        env_with(job_overrides={"ingest": {"script": "glue_scripts/jobs/gone.py"}}),
        "configs/environments/dev.yaml",
        "job_overrides.ingest.script",
        ("'glue_scripts/jobs/gone.py' does not exist",),
    ),
    Case(
        "override-uses-undeclared-bucket",
        env_with(job_overrides={"ingest": {"inputs": [{"bucket": "archive", "prefix": "a/"}]}}),
        "configs/environments/dev.yaml",
        "job_overrides.ingest.inputs[0].bucket",
        ("bucket 'archive' is not declared",),
    ),
    Case(
        "job-triggers-itself",
        job_with(downstream=[{"type": "trigger_job", "name": "again", "job": "ingest"}]),
        "configs/jobs/ingest.yaml",
        "downstream[0].job",
        ("cannot trigger itself",),
    ),
    Case(
        "name-with-trailing-newline",
        env_with(name_prefix="glueflow\n"),
        "configs/environments/dev.yaml",
        "name_prefix",
        ("'glueflow\\n' is not a valid name_prefix",),
    ),
    Case(
        "yaml-boolean-key",
        job_with(tags={True: "x"}),
        "configs/jobs/ingest.yaml",
        "tags",
        ("key True is not accepted", "quote it"),
    ),
    Case(
        "unquoted-account-number",
        env_with(account=123456789012),
        "configs/environments/dev.yaml",
        "account",
        ("must be text; quote it", "123456789012 as a number"),
    ),
    Case(
        "workgroup-without-its-arn",
        job_with(
            downstream=[
                {
                    "type": "redshift_sql",
                    "name": "load",
                    "workgroup": "analytics",
                    "database": "dev",
                    "sql": "select 1",
                }
            ]
        ),
        "configs/jobs/ingest.yaml",
        "downstream[0]",
        ("'workgroup_arn' goes with 'workgroup'", "get-workgroup"),
    ),
    Case(
        "step-without-type",
        job_with(downstream=[{"name": "x", "job": "ingest"}]),
        "configs/jobs/ingest.yaml",
        "downstream[0]",
        (f"needs a 'type'; accepted: {', '.join(registry())}",),  # every registered type
    ),
    # YAML itself
    Case(
        "duplicate-yaml-key",
        lambda p: p.write_job("ingest", "name: ingest\nowner: a\nowner: b\n"),
        "configs/jobs/ingest.yaml",
        "(line 3, column 1)",
        ("duplicate key 'owner' (first at line 2)",),
    ),
    Case(
        "invalid-yaml",
        lambda p: p.write_job("ingest", "name: [unclosed\n"),
        "configs/jobs/ingest.yaml",
        "(line 2, column 1)",
        ("invalid YAML",),
    ),
    # What would pass here and fail on AWS (see also configs/loader.py, _run_time_problems)
    Case(
        "name-too-long-for-the-invoke-rest-api-path",
        lambda p: p.write_job("ingest", valid_job("j" * 51)),
        "configs/jobs/ingest.yaml",
        "name",
        ("51 characters", "at most 50", "/dags/<name>/dagRuns", "64"),
    ),
    Case(
        "step-named-like-a-task-of-the-factory",
        two_jobs(
            valid_job("second"),
            valid_job(
                "ingest",
                downstream=[{"type": "trigger_job", "name": "record_cost", "job": "second"}],
            ),
        ),
        "configs/jobs/ingest.yaml",
        "downstream[0].name",
        ("'record_cost' is a task id of the job's own DAG", "run_glue_job", "validation_gate"),
    ),
    Case(
        "trigger-for-objects-the-role-cannot-read",
        job_with(trigger={"s3": {"bucket": "raw", "prefix": "elsewhere/", "suffix": ".csv"}}),
        "configs/jobs/ingest.yaml",
        "trigger.s3.prefix",
        ("raw:elsewhere/", "may read only its inputs", "raw:ingest/in/"),
    ),
    Case(
        "writes-where-its-own-trigger-listens",
        job_with(outputs=[table_output("raw", "ingest/in/parquet/")]),
        "configs/jobs/ingest.yaml",
        "outputs[0].prefix",
        ("raw:ingest/in/parquet/", "start it again", "raw:ingest/in/"),
    ),
    Case(
        "table-partitioned-by-an-undeclared-column",
        job_with(outputs=[{**table_output("curated", "ingest/out/"), "partitioned_by": ["dt"]}]),
        "configs/jobs/ingest.yaml",
        "outputs[0]",
        ("partitioned_by ['dt'] are not in columns", "accepted: id, day"),
    ),
    Case(
        "column-type-athena-cannot-read",
        job_with(
            outputs=[
                {
                    **table_output("curated", "ingest/out/"),
                    "columns": {"id": "varchar(10)", "day": "date"},
                }
            ]
        ),
        "configs/jobs/ingest.yaml",
        "outputs[0].columns.id",
        ("'varchar(10)' is not a valid column type", "decimal(p,s)"),
    ),
    Case(
        "replace-by-source-object-without-files",
        job_with(
            trigger={"schedule": "0 6 * * *"},
            outputs=[{**table_output("curated", "ingest/out/"), "replace": "source_object"}],
        ),
        "configs/jobs/ingest.yaml",
        "outputs[0].replace",
        ("'source_object'", "only a job started by files (trigger.s3)", "use 'partitions'"),
    ),
    Case(
        "input-format-contradicts-the-trigger-suffix",
        job_with(inputs=[{"bucket": "raw", "prefix": "ingest/in/", "format": "parquet"}]),
        "configs/jobs/ingest.yaml",
        "inputs[0].format.type",
        ("'parquet'", "files ending '.csv', which are csv", "declare format 'csv'"),
    ),
    Case(
        "csv-option-on-a-json-input",
        job_with(
            inputs=[
                {
                    "bucket": "raw",
                    "prefix": "ingest/in/",
                    "format": {"type": "json", "header": True},
                }
            ],
            trigger={"s3": {"bucket": "raw", "prefix": "ingest/in/", "suffix": ".jsonl.gz"}},
        ),
        "configs/jobs/ingest.yaml",
        "inputs[0].format",
        ("header: only for type csv, not json",),
    ),
    Case(
        "one-table-two-definitions",
        two_jobs(
            valid_job(
                "second",
                outputs=[
                    {
                        **table_output("curated", "shared/", "shared"),
                        "columns": {"id": "bigint", "day": "date"},
                    }
                ],
            ),
            valid_job("ingest", outputs=[table_output("curated", "shared/", "shared")]),
        ),
        "configs/jobs/second.yaml",
        "outputs[0].table",
        ("'shared' is also written by ingest (outputs[0])", "a table has one definition"),
    ),
    Case(
        "two-tables-one-location",
        two_jobs(
            valid_job("second", outputs=[table_output("curated", "shared/", "second")]),
            valid_job("ingest", outputs=[table_output("curated", "shared/", "first")]),
        ),
        "configs/jobs/second.yaml",
        "outputs[0].prefix",
        ("curated:shared/ is the location of table 'first' (ingest)",),
    ),
    Case(
        "two-jobs-start-each-other",
        two_jobs(
            valid_job("second", outputs=[table_output("raw", "ingest/in/")]),
            valid_job("ingest", outputs=[table_output("raw", "second/in/")]),
        ),
        "configs/jobs/ingest.yaml",
        "outputs",
        ("start each other without end", "ingest -[writes where its trigger listens]-> second"),
    ),
    Case(
        "yaml-alias",
        lambda p: p.write_job("ingest", "a: &x [1, 2]\nb: *x\nname: ingest\n"),
        "configs/jobs/ingest.yaml",
        "(line 2, column 4)",
        ("YAML alias '*x' is not accepted",),
    ),
    Case(
        "huge-file",
        lambda p: p.write_job("ingest", "# " + "x" * (1024 * 1024) + "\n"),
        "configs/jobs/ingest.yaml",
        "(file)",
        ("1,048,579 bytes", "1,048,576"),
    ),
    Case(
        "empty-file",
        lambda p: p.write_job("ingest", "# nothing yet\n"),
        "configs/jobs/ingest.yaml",
        "(top level)",
        ("must be a mapping", "empty"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_class_yields_one_clear_line(valid_project: Project, case: Case) -> None:
    case.breaks(valid_project)

    problems = validate_all(root=valid_project.root, strict_overrides=True, **valid_project.paths())

    blamed = str(valid_project.root / case.file)
    matching = [p for p in problems if p.file == blamed and p.field == case.field]
    assert matching, f"no problem for {case.file}: {case.field}; got:\n" + "\n".join(
        map(str, problems)
    )
    message = matching[0].message
    for fragment in case.says:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert str(matching[0]) == f"{blamed}: {case.field}: {message}"
    assert "\n" not in str(matching[0])


def test_valid_project_has_no_problems(valid_project: Project) -> None:
    assert validate_all(root=valid_project.root, **valid_project.paths()) == []


def test_every_problem_in_every_file_is_reported_at_once(valid_project: Project) -> None:
    valid_project.write_job("ingest", valid_job("ingest", colour="blue"))
    valid_project.write_job("b", valid_job("b_job", glue={"workers": "many"}))
    valid_project.write_job("c", valid_job("c_job", trigger={"schedule": "every day"}))
    valid_project.write_env("prod", {**valid_environment(), "region": "moon-1"})

    problems = validate_all(root=valid_project.root, **valid_project.paths())

    assert [(p.file.rsplit("/", 1)[-1], p.field) for p in problems] == [
        ("prod.yaml", "region"),
        ("b.yaml", "glue.workers"),
        ("c.yaml", "trigger.schedule"),
        ("ingest.yaml", "colour"),
    ]


def test_load_platform_raises_with_all_problems_and_unknown_environment(
    valid_project: Project,
) -> None:
    valid_project.write_job("b", valid_job("b_job", depends_on=["ghost"]))

    with pytest.raises(ConfigError) as raised:
        load_platform("qa", root=valid_project.root, **valid_project.paths())

    text = str(raised.value)
    assert "env: no environment 'qa'; accepted: dev" in text
    assert "depends_on[0]: unknown job 'ghost'" in text
    assert len(raised.value.problems) == 2


def test_override_for_job_missing_from_another_jobs_folder_is_not_an_error(
    valid_project: Project,
) -> None:
    """Scale tests and benchmarks synthesize the dev environment with generated jobs."""
    valid_project.write_env(
        "dev", {**valid_environment(), "job_overrides": {"not_here": {"glue": {"workers": 4}}}}
    )
    platform = load_platform("dev", root=valid_project.root, **valid_project.paths())
    assert sorted(platform.jobs) == ["ingest"]


def test_an_environment_file_in_a_subfolder_is_not_an_environment(valid_project: Project) -> None:
    old = valid_project.environments_dir / "old"
    old.mkdir()
    (old / "dev.yaml").write_text("account: '999999999999'\n")
    platform = load_platform("dev", root=valid_project.root, **valid_project.paths())
    assert platform.environment.config.account == "123456789012"


def test_an_exponential_alias_bomb_is_refused_before_it_is_expanded(project: Project) -> None:
    """Nine levels of nine aliases would expand to 9**9 (387 million) items ("billion laughs");
    the file is refused at its first alias, without building anything."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    project.write_env("dev", valid_environment())
    project.write_job("ingest", "\n".join(lines) + "\n")

    problems = validate_all(root=project.root, **project.paths())

    assert any("YAML alias '*a0' is not accepted" in p.message for p in problems)

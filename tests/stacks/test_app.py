"""The CDK app: config -> manifest -> synth, per environment, and refusal on bad config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match, Template

import app as cdk_app
from configs.manifest import manifest_path
from stacks.summary import render, stacks_in
from tests.conftest import REPO_ROOT, valid_job


def synth(tmp_path: Path, **context: str) -> tuple[cdk_app.GlueflowStage, Path]:
    outdir = tmp_path / "cdk.out"
    application = cdk.App(context=context, outdir=str(outdir))
    stage = cdk_app.build_app(application)
    application.synth()
    return stage, outdir


@pytest.fixture(scope="module")
def dev_template(tmp_path_factory) -> Template:
    stage, _ = synth(tmp_path_factory.mktemp("dev"), env="dev")
    return Template.from_stack(stage.jobs)


def test_one_glue_job_per_config_with_deterministic_names(dev_template: Template) -> None:
    jobs = dev_template.find_resources("AWS::Glue::Job")
    names = sorted(job["Properties"]["Name"] for job in jobs.values())
    assert names == [
        "glueflow-dev-customer_ltv",
        "glueflow-dev-marketing_events_ingest",
        "glueflow-dev-sales_daily_aggregate",
        "glueflow-dev-sales_ingest",
    ]


def test_glue_job_properties_come_from_config_and_overrides(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::Glue::Job",
        {
            "Name": "glueflow-dev-customer_ltv",
            "Command": {
                "Name": "glueetl",
                "PythonVersion": "3",
                "ScriptLocation": "s3://glueflow-dev-artifacts-111111111111/glue_scripts/jobs/customer_ltv.py",
            },
            "GlueVersion": "5.1",
            "WorkerType": "G.2X",
            "NumberOfWorkers": 2,  # dev override of 4
            "ExecutionClass": "FLEX",  # dev override
            "Timeout": 90,
            "DefaultArguments": Match.object_like(
                {"--glueflow-job": "customer_ltv", "--glueflow-env": "dev"}
            ),
            "Tags": Match.object_like({"glueflow:owner": "marketing-analytics@example.com"}),
        },
    )


def test_every_job_has_a_role_of_its_own(dev_template: Template) -> None:
    role = Capture()
    dev_template.has_resource_properties("AWS::Glue::Job", {"Role": role})
    role_refs = [
        json.dumps(job["Properties"]["Role"])
        for job in dev_template.find_resources("AWS::Glue::Job").values()
    ]
    assert len(set(role_refs)) == 4
    dev_template.resource_count_is("AWS::IAM::Role", 4)
    dev_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Action": "sts:AssumeRole", "Principal": {"Service": "glue.amazonaws.com"}}
                    )
                ]
            }
        },
    )


def test_environment_is_chosen_by_context_and_summary_lists_it(tmp_path: Path) -> None:
    stage, outdir = synth(tmp_path, env="prod")

    assert stage.stage_name == "prod"
    assert stage.jobs.stack_name == "glueflow-prod-jobs"
    assert stage.jobs.account == "222222222222"
    stacks = stacks_in(outdir, "prod")
    assert [(s.name, s.resources) for s in stacks] == [("glueflow-prod-jobs", 8)]
    manifest = json.loads(manifest_path(outdir, "prod").read_text())
    text = render("prod", stacks, manifest)
    assert "Glueflow prod: account 222222222222, eu-west-1, 1 stacks, 8 resources, 4 jobs" in text
    assert "sales_daily_aggregate" in text
    assert "cron 0 6 * * *" in text


def test_jobs_dir_context_reads_another_folder(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    for i in range(7):
        job = valid_job(f"gen_job_{i}", script="glue_scripts/jobs/sales_ingest.py")
        (jobs_dir / f"gen_{i}.yaml").write_text(json.dumps(job))  # JSON is YAML

    stage, _ = synth(tmp_path, env="dev", jobs_dir=str(jobs_dir))

    Template.from_stack(stage.jobs).resource_count_is("AWS::Glue::Job", 7)


def run_app(tmp_path: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    outdir = tmp_path / "out"
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bad_config_stops_the_app_before_synthesis(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    bad = valid_job("bad_job", script="glue_scripts/jobs/sales_ingest.py")
    bad["trigger"] = {"schedule": "0 25 * * *"}
    (jobs_dir / "bad.yaml").write_text(json.dumps(bad))

    result = run_app(tmp_path, {"env": "dev", "jobs_dir": str(jobs_dir)})

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "bad.yaml: trigger.schedule: '0 25 * * *' is not a valid cron expression" in result.stderr
    )
    assert list((tmp_path / "out").rglob("*.json")) == []  # nothing synthesized


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"env": "staging"})
    assert result.returncode == 1
    assert "env: no environment 'staging'; accepted: dev, prod" in result.stderr


def test_cdk_cli_synthesizes_offline_without_credentials(tmp_path: Path) -> None:
    """The path `make synth` takes: the pinned aws-cdk CLI running cdk.json's app."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_EC2_METADATA_DISABLED"
    }
    env |= {
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [
            str(REPO_ROOT / "node_modules" / ".bin" / "cdk"),
            "synth",
            "-c",
            "env=prod",
            "--quiet",
            "-o",
            str(out),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert [s.name for s in stacks_in(out, "prod")] == ["glueflow-prod-jobs"]

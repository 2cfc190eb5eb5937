"""The CDK app: config -> manifest -> synth, per environment, and refusal on bad config."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest

import app as cdk_app
from configs.loader import load_platform
from configs.manifest import manifest_path
from stacks.summary import render, stacks_in
from tests.conftest import REPO_ROOT, valid_job
from tests.synth import Synthesized, run_app


def glue_jobs(synth: Synthesized) -> dict[str, dict]:
    """Every AWS::Glue::Job of an environment, by its Name."""
    found = {}
    for template in synth.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Glue::Job":
                found[resource["Properties"]["Name"]] = resource["Properties"]
    return found


def test_one_glue_job_per_config_with_deterministic_names(dev: Synthesized) -> None:
    assert sorted(glue_jobs(dev)) == [
        "glueflow-dev-agency_spend_ingest",
        "glueflow-dev-customer_ltv",
        "glueflow-dev-marketing_events_ingest",
        "glueflow-dev-sales_daily_aggregate",
        "glueflow-dev-sales_daily_eur",
        "glueflow-dev-sales_ingest",
    ]


def test_glue_job_properties_come_from_config_and_overrides(dev: Synthesized) -> None:
    job = glue_jobs(dev)["glueflow-dev-customer_ltv"]
    assert job["Command"] == {
        "Name": "glueetl",
        "PythonVersion": "3",
        "ScriptLocation": "s3://glueflow-dev-artifacts-111111111111/glue_scripts/jobs/customer_ltv.py",
    }
    assert job["GlueVersion"] == "5.1"
    assert job["WorkerType"] == "G.2X"
    assert job["NumberOfWorkers"] == 2  # dev override of 4
    assert job["ExecutionClass"] == "FLEX"  # dev override
    assert job["Timeout"] == 90
    assert job["DefaultArguments"]["--glueflow-job"] == "customer_ltv"
    assert job["DefaultArguments"]["--glueflow-env"] == "dev"
    assert job["Tags"]["glueflow:owner"] == "marketing-analytics@example.com"


def test_environment_is_chosen_by_context_and_summary_lists_it(prod: Synthesized) -> None:
    """`prod` is app.py's app given `-c env=prod`, synthesized in-process (tests/synth.py)."""
    outdir, stage = prod.outdir, prod.stage

    assert stage.stage_name == "prod"
    assert stage.storage.account == "222222222222"
    stacks = stacks_in(outdir, "prod")
    names = [s.name for s in stacks]
    assert {"glueflow-prod-network", "glueflow-prod-orchestration", "glueflow-prod-storage"} <= set(
        names
    )
    manifest = json.loads(manifest_path(outdir, "prod").read_text())
    text = render("prod", stacks, manifest, load_platform("prod").environment.config)
    assert f"Glueflow prod: account 222222222222, eu-west-1, {len(stacks)} stacks" in text
    assert "sales_daily_aggregate" in text
    assert "cron 0 6 * * *" in text
    assert "internet egress: none (no NAT gateway, no internet gateway)" in text
    assert "all allowlisted" in text
    channels = "slack (glueflow/prod/slack-webhook), teams (glueflow/prod/teams-webhook)"
    assert f"alerts: notifier -> {channels}" in text
    assert "MWAA mw1.medium environment" in text
    cfg = load_platform("prod").environment.config
    # Each stack's template file, as the assembly manifest names it.
    for stack in stacks:
        assert f"{stack.name}" in text
        assert (outdir / stack.template_file).is_file()
        assert stack.template_file.startswith("assembly-prod/")
        assert stack.template_file in text
    # Per job: what it reads and writes, its gate, its steps, and what starts it.
    assert "in:  s3://glueflow-prod-raw-222222222222/sales/incoming/" in text
    assert "out: s3://glueflow-prod-curated-222222222222/sales/orders/" in text
    assert "gate: at most 5.0% invalid" in text
    assert "step: refresh_orders_mart (redshift_sql analytics)" in text
    # customer_ltv starts after the aggregate's asset and from marketing's rescore step.
    assert "after sales_daily_aggregate; step marketing_events_ingest.rescore_customer_ltv" in text
    # The MWAA worker range, priced from the environment's config.
    mwaa = cfg.mwaa
    assert f"MWAA workers range from {mwaa.min_workers} to {mwaa.max_workers}:" in text


@pytest.mark.slow  # not in `make test-fast`: a whole app of 7 jobs synthesized with cdk-nag
def test_jobs_dir_context_reads_another_folder(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    for i in range(7):
        job = valid_job(f"gen_job_{i}", script="glue_scripts/jobs/sales_ingest.py")
        (jobs_dir / f"gen_{i}.yaml").write_text(json.dumps(job))  # JSON is YAML

    application = cdk.App(
        context=cdk_app.project_context(env="dev", jobs_dir=str(jobs_dir)),
        outdir=str(tmp_path / "cdk.out"),
    )
    stage = cdk_app.build_app(application)
    application.synth()

    assert sum(len(s.glue_jobs) for s in stage.job_shards.values()) == 7


@pytest.mark.slow  # not in `make test-fast`: runs app.py in a new process
def test_bad_config_stops_the_app_before_synthesis(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    bad = valid_job("bad_job", script="glue_scripts/jobs/sales_ingest.py")
    bad["trigger"] = {"schedule": "0 25 * * *"}
    (jobs_dir / "bad.yaml").write_text(json.dumps(bad))

    result = run_app({"env": "dev", "jobs_dir": str(jobs_dir)}, tmp_path / "out")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "bad.yaml: trigger.schedule: '0 25 * * *' is not a valid cron expression" in result.stderr
    )
    assert list((tmp_path / "out").rglob("*.json")) == []  # nothing synthesized


@pytest.mark.slow  # not in `make test-fast`: runs app.py in a new process
def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    result = run_app({"env": "staging"}, tmp_path / "out")
    assert result.returncode == 1
    assert "env: no environment 'staging'; accepted: dev, prod" in result.stderr


@pytest.mark.slow  # not in `make test-fast`: runs the cdk CLI's synth
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
    names = [s.name for s in stacks_in(out, "prod")]
    assert "glueflow-prod-orchestration" in names
    assert any(name.startswith("glueflow-prod-jobs-") for name in names)

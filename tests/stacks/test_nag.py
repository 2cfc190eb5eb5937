"""cdk-nag: every pack runs, findings fail synth, and every acknowledgement is listed here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

import app as cdk_app
from configs.loader import load_platform
from stacks.nag import acknowledgements, render_acknowledgements
from tests.conftest import REPO_ROOT
from tests.synth import Synthesized

ACKNOWLEDGEMENTS_FILE = Path(__file__).with_name("acknowledgements.txt")


def test_every_acknowledgement_is_listed_for_review(dev: Synthesized) -> None:
    """A new acknowledgement fails here until acknowledgements.txt lists it, so it shows in
    the pull request's diff with its construct path and reason."""
    found = acknowledgements(dev.stage)
    listed = render_acknowledgements(found)
    assert listed == ACKNOWLEDGEMENTS_FILE.read_text(), (
        f"acknowledgements changed; if intended, write this to {ACKNOWLEDGEMENTS_FILE.name}:\n"
        f"{listed}"
    )
    for ack in found:
        assert len(ack.reason) >= 30, ack  # a specific reason, not "ok"
        if ack.rule.startswith("CloudFormation-Validate::"):
            continue  # aws-cdk-lib's own, for the AZs it writes into the template
        assert not ack.path.endswith(("/Storage", "/Network", "/Orchestration")), ack


def test_synth_reports_no_violation(dev: Synthesized, prod: Synthesized) -> None:
    for synth in (dev, prod):
        report = json.loads((synth.outdir / "validation-report.json").read_text())
        plugins = {r["pluginName"]: r for r in report["pluginReports"]}
        for name, plugin in plugins.items():
            assert plugin["conclusion"] == "success", name
            assert plugin["violations"] == [], name


@pytest.mark.slow  # a whole app synthesized with cdk-nag
def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    application = cdk.App(context=cdk_app.project_context(), outdir=str(tmp_path / "cdk.out"))
    stage = cdk_app.add_environment(application, load_platform("dev"))
    s3.Bucket(stage.storage, "Careless")  # no encryption key, no logging, no TLS policy
    lambda_.Function(
        stage.storage,
        "Loose",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )

    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        application.synth()

    message = str(failure.value)
    assert "AwsSolutions-S1" in message
    assert "dev/Storage/Careless/Resource" in message
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    failed = {r["pluginName"] for r in report["pluginReports"] if r["conclusion"] == "failure"}
    # Each of the three packs runs on the whole app and reports its own findings.
    assert {"AwsSolutions", "NIST.800.53.R5", "Serverless"} <= failed


# The app with one careless bucket added to the environment's storage stack, run by the CDK
# CLI as `make synth` runs app.py.
CARELESS_APP = """
import sys
sys.path.insert(0, {root!r})
from aws_cdk import aws_s3 as s3
import app

original = app.add_environment

def add_environment(application, platform):
    stage = original(application, platform)
    s3.Bucket(stage.storage, "Careless")
    return stage

app.add_environment = add_environment
app.main()
"""


@pytest.mark.slow  # the CDK CLI synthesizes a whole app with cdk-nag
def test_an_unacknowledged_finding_fails_synth_through_the_cdk_cli(tmp_path: Path) -> None:
    """`make synth` runs the app through the CDK CLI, which sets
    `@aws-cdk/core:failSynthOnValidationErrors` to false and reports only the selected
    stacks' violations (aws-cdk's `loadUnifiedValidationReport`): with no stack named, none of
    the Stage's. The app must stop on its own report, with the rule and the construct."""
    driver = tmp_path / "careless_app.py"
    driver.write_text(CARELESS_APP.format(root=str(REPO_ROOT)))
    done = subprocess.run(
        [str(REPO_ROOT / "node_modules" / ".bin" / "cdk"), "synth", "-c", "env=dev", "--quiet",
         "--app", f"{sys.executable} {driver}", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "AwsSolutions-S1 (error) at dev/Storage/Careless/Resource" in done.stderr
    assert "synth stopped" in done.stderr


@pytest.mark.slow  # a whole app synthesized with cdk-nag
def test_a_glue_6_1_job_on_its_default_graviton_worker_synthesizes_clean(tmp_path: Path) -> None:
    """A 6.1 job that names no worker type runs on G.1X.GRAVITON, as Glue gives it ("Migrating
    AWS Glue for Spark jobs to AWS Glue version 6.1"). CloudFormation Validate's list of worker
    types predates Graviton (W3030); the job acknowledges that, so a config that validates
    synthesizes with no violation."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for source in (Path(cdk_app.__file__).parent / "configs" / "jobs").glob("*.yaml"):
        text = source.read_text()
        if source.stem == "sales_ingest":
            text = "\n".join(line for line in text.splitlines() if "worker_type:" not in line)
        (jobs / source.name).write_text(text)
    platform = load_platform("dev", jobs_dir=jobs)
    assert platform.jobs["sales_ingest"].glue.worker_type == "G.1X.GRAVITON"
    application = cdk.App(context=cdk_app.project_context(), outdir=str(tmp_path / "cdk.out"))
    cdk_app.add_environment(application, platform)
    application.synth()
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), plugin
    suppressed = [
        v["ruleName"]
        for plugin in report["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
        if any(c["constructPath"].endswith("/SalesIngest/Job") for c in v["violatingConstructs"])
    ]
    assert suppressed == ["W3030"]


def test_a_plugin_that_failed_without_a_violation_fails_synth(tmp_path: Path) -> None:
    """aws-cdk-lib turns a validation plugin that throws into a failed report with no violation
    and the error in its metadata (core/lib/private/synthesis-validation.js, mkPluginFailure):
    that fails synth too, with the error."""
    report = {"pluginReports": [
        {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [],
         "metadata": {"error": "TypeError: x is undefined"}},
        {"pluginName": "Serverless", "conclusion": "success", "violations": []},
    ]}  # fmt: skip
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    assert cdk_app.validation_failures(tmp_path) == [
        "AwsSolutions: failed: TypeError: x is undefined"
    ]

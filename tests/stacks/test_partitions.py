"""ARNs in the partition of the environment's region, in the templates and in the manifest.

An ARN starts with its partition: `aws`, `aws-cn` for the China regions, `aws-us-gov` for
AWS GovCloud (US) ("Identify AWS resources with Amazon Resource Names (ARNs)", IAM User Guide).
An ARN with a literal `aws` names nothing in the other partitions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from configs.loader import load_platform
from configs.manifest import compile_manifest
from tests.conftest import Project, valid_environment, valid_job
from tests.synth import synthesize_project


def project_in(project: Project, region: str) -> Project:
    environment = valid_environment()
    environment["region"] = region
    project.write_env("dev", environment)
    project.write_job("ingest", valid_job("ingest", validation={"max_invalid_ratio": 0.1}))
    return project


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-west-1", "aws")],
)
def test_the_manifest_names_arns_and_consoles_in_the_region_s_partition(
    project: Project, region: str, partition: str
) -> None:
    manifest = compile_manifest(
        load_platform("dev", root=project.root, **project_in(project, region).paths())
    )
    environment = manifest["environment"]

    assert environment["partition"] == partition
    assert environment["alert_topic_arn"].startswith(f"arn:{partition}:sns:{region}:")
    for arn in re.findall(r"arn:[a-z-]+:", json.dumps(manifest)):
        assert arn == f"arn:{partition}:", arn
    if partition != "aws":
        assert "amazon.com" not in environment["console_url"]


# MWAA is not in every region of the other partitions: cfn-lint's resource specification, which
# synth runs, refuses AWS::MWAA::Environment in us-gov-west-1.
@pytest.mark.slow  # not in `make test-fast`: a whole environment synthesized with cdk-nag
@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn")])
def test_no_template_names_an_arn_in_another_partition(
    project: Project, tmp_path: Path, region: str, partition: str
) -> None:
    synth = synthesize_project(project_in(project, region), "dev", tmp_path / "cdk.out")

    found = set()
    for name, template in synth.templates.items():
        found.update((name, arn) for arn in re.findall(r"arn:([a-z-]+):", json.dumps(template)))
    partitions = {p for _, p in found}
    assert partitions == {partition}, sorted(a for a in found if a[1] != partition)[:10]
    notifier_env = [
        r["Properties"]["Environment"]["Variables"]
        for t in synth.templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "CONSOLE_URL" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert notifier_env
    assert all("amazon.com" not in v["CONSOLE_URL"] for v in notifier_env)

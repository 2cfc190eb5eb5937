"""MWAA: version, privacy, logging, size from config, secrets prefix, requirements, DAG deploy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk.assertions import Match

from configs.mwaa_version import mwaa_packages
from tests.conftest import REPO_ROOT
from tests.synth import Synthesized


def mwaa(synth: Synthesized) -> dict:
    template = synth.template(synth.stage.orchestration)
    (resource,) = template.find_resources("AWS::MWAA::Environment").values()
    return resource["Properties"]


def test_private_airflow_of_the_pinned_version_with_every_log_module_on(dev: Synthesized) -> None:
    props = mwaa(dev)
    assert props["Name"] == "glueflow-dev"
    # The one value the Makefile's install and this stack share.
    assert props["AirflowVersion"] == (REPO_ROOT / "mwaa" / "AIRFLOW_VERSION").read_text().strip()
    assert props["WebserverAccessMode"] == "PRIVATE_ONLY"
    assert props["LoggingConfiguration"] == {
        "DagProcessingLogs": {"Enabled": True, "LogLevel": "INFO"},
        "SchedulerLogs": {"Enabled": True, "LogLevel": "INFO"},
        "TaskLogs": {"Enabled": True, "LogLevel": "INFO"},
        "WebserverLogs": {"Enabled": True, "LogLevel": "WARNING"},
        "WorkerLogs": {"Enabled": True, "LogLevel": "INFO"},
    }
    assert "KmsKey" in props
    assert len(props["NetworkConfiguration"]["SubnetIds"]) == 2
    assert len(props["NetworkConfiguration"]["SecurityGroupIds"]) == 2


def test_size_and_log_levels_come_from_config(prod: Synthesized) -> None:
    props = mwaa(prod)
    assert (
        props["EnvironmentClass"],
        props["MinWorkers"],
        props["MaxWorkers"],
        props["Schedulers"],
        props["MinWebservers"],
        props["MaxWebservers"],
    ) == ("mw1.medium", 2, 10, 2, 2, 3)
    assert props["LoggingConfiguration"]["SchedulerLogs"]["LogLevel"] == "WARNING"


def test_secrets_backend_looks_up_only_the_connections_steps_name(
    dev: Synthesized, prod: Synthesized
) -> None:
    """The amazon provider's SecretsManagerBackend (secrets/secrets_manager.py): a connection
    id that `connections_lookup_pattern` does not match is not asked of Secrets Manager, and
    a None `variables_prefix` sends no variable request there. MWAA's documented prefix is
    airflow/connections ("Configuring an Apache Airflow connection using a AWS Secrets
    Manager secret", Amazon MWAA User Guide). Both run sales_daily_aggregate's http step
    (finance_reporting_api); dev also customer_ltv's dbt Cloud and Tableau steps."""
    for synth, names in ((dev, "dbt_cloud|finance_reporting_api|tableau_cloud"),
                         (prod, "finance_reporting_api")):  # fmt: skip
        options = mwaa(synth)["AirflowConfigurationOptions"]
        assert options["secrets.backend"] == (
            "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
        )
        assert json.loads(options["secrets.backend_kwargs"]) == {
            "connections_prefix": "airflow/connections",
            "connections_lookup_pattern": f"^({names})$",
            "variables_prefix": None,
        }


def test_each_connection_is_a_secret_created_without_a_value(dev: Synthesized) -> None:
    """ "If you omit both GenerateSecretString and SecretString, you create an empty secret"
    (CloudFormation, AWS::SecretsManager::Secret): the app never holds the credential."""
    template = dev.template(dev.stage.orchestration)
    secrets = template.find_resources("AWS::SecretsManager::Secret").values()
    assert sorted(s["Properties"]["Name"] for s in secrets) == [
        "airflow/connections/dbt_cloud",
        "airflow/connections/finance_reporting_api",
        "airflow/connections/tableau_cloud",
    ]
    for secret in secrets:
        props = secret["Properties"]
        assert "SecretString" not in props
        assert "GenerateSecretString" not in props
        assert "KmsKeyId" in props  # the environment's key, not the account's default


def test_requirements_are_deployed_and_pinned_by_object_version(dev: Synthesized) -> None:
    template = dev.template(dev.stage.orchestration)
    props = mwaa(dev)
    assert props["RequirementsS3Path"] == "requirements/requirements.txt"
    version = props["RequirementsS3ObjectVersion"]["Fn::GetAtt"]
    assert version[1] == "VersionId"
    readers = template.find_resources("Custom::AWS")
    assert version[0] in readers  # and plugins.zip's (tests/stacks/test_mwaa_files.py)
    reader = readers[version[0]]
    create = json.loads(reader["Properties"]["Create"])
    assert create["action"] == "headObject"
    assert create["parameters"] == {
        "Bucket": "glueflow-dev-mwaa-111111111111",
        "Key": "requirements/requirements.txt",
    }
    # The physical id carries the file's hash: a changed file reads its new version.
    assert re.fullmatch(
        r"requirements/requirements\.txt@[0-9a-f]{16}", create["physicalResourceId"]["id"]
    )
    template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {"DestinationBucketKeyPrefix": "requirements/", "Prune": True},
    )


def test_requirements_pin_what_the_mwaa_image_has() -> None:
    """With no route to PyPI, MWAA can only 'install' what its image already holds."""
    image = mwaa_packages()
    lines = (REPO_ROOT / "mwaa" / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith(("#", "-"))]
    assert "--no-index" in lines
    assert pins
    for pin in pins:
        name, version = pin.split("==")
        assert image.get(name) == version, pin


def test_dags_and_manifest_are_deployed_with_pruning(dev: Synthesized) -> None:
    template = dev.template(dev.stage.orchestration)
    deployments = [
        r["Properties"]
        for r in template.find_resources("Custom::CDKBucketDeployment").values()
        if r["Properties"]["DestinationBucketKeyPrefix"] == "dags/"
    ]
    assert len(deployments) == 1
    assert deployments[0]["Prune"] is True
    assert deployments[0]["DestinationBucketName"] == "glueflow-dev-mwaa-111111111111"
    assert len(deployments[0]["SourceObjectKeys"]) == 2  # dags/ and the manifest folder
    assembly = Path(dev.outdir) / f"assembly-{dev.stage.stage_name}"
    staged = [assembly / p for p in _asset_paths(dev)]
    assert any((p / "manifest.json").is_file() for p in staged)
    assert mwaa(dev)["DagS3Path"] == "dags"
    assert mwaa(dev)["SourceBucketArn"] == "arn:aws:s3:::glueflow-dev-mwaa-111111111111"


def _asset_paths(synth: Synthesized) -> list[str]:
    stack = synth.stage.orchestration
    metadata = json.loads(
        (
            Path(synth.outdir)
            / f"assembly-{synth.stage.stage_name}"
            / f"{stack.artifact_id}.assets.json"
        ).read_text()
    )
    return [
        entry["source"]["path"]
        for entry in metadata["files"].values()
        if entry["source"].get("packaging") == "zip"
    ]


def test_execution_role_trusts_only_mwaa(dev: Synthesized) -> None:
    template = dev.template(dev.stage.orchestration)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {
                                "Service": ["airflow-env.amazonaws.com", "airflow.amazonaws.com"]
                            }
                        }
                    )
                ]
            }
        },
    )

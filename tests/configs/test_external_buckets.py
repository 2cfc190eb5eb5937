"""External buckets: another account's bucket that jobs read and are triggered by, declared by
the environment. validate refuses what cannot work on AWS, one `file: field: message` line
each, naming the value and what is accepted; a job uses a declared one exactly as its own.

Why each refusal (AWS documentation):
- another region: "Amazon S3 sends events to Amazon EventBridge in the same Region as the
  bucket" ("Using EventBridge", Amazon S3 User Guide), and the source side forwards them with
  a rule whose target is this environment's bus, which must be in the rule's region for the
  same-region cross-account delivery this project deploys ("Sending and receiving events
  between AWS accounts in Amazon EventBridge", EventBridge User Guide);
- this environment's own account: there is no cross-account pair to grant; it is an own bucket;
- a prefix the source does not offer: the source's bucket policy and forwarding rule cover
  only the declared prefixes, so a read or trigger elsewhere would be denied or never fire.
"""

from __future__ import annotations

from typing import Any

import pytest

from configs import naming
from configs.loader import load_platform, validate_all
from tests.conftest import Project, valid_environment, valid_job

SOURCE_ACCOUNT = "333333333333"
KEY = f"arn:aws:kms:eu-west-1:{SOURCE_ACCOUNT}:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def external(**fields: Any) -> dict[str, Any]:
    return {
        "account": SOURCE_ACCOUNT,
        "region": "eu-west-1",
        "name": "partner-exports",
        "kms_key_arn": KEY,
        "prefixes": ["orders/", "returns/"],
        **fields,
    }


def env(**sources: dict[str, Any]) -> dict[str, Any]:
    return {**valid_environment(), "external_buckets": sources}


def reading(prefix: str, trigger_prefix: str | None = None) -> dict[str, Any]:
    return valid_job(
        "ingest",
        inputs=[{"bucket": "partner", "prefix": prefix}],
        trigger={"s3": {"bucket": "partner", "prefix": trigger_prefix or prefix}},
    )


def problems(project: Project) -> list[str]:
    found = validate_all(root=project.root, strict_overrides=True, **project.paths())
    return [f"{p.file.rsplit('/', 1)[-1]}: {p.field}: {p.message}" for p in found]


def test_a_job_reads_and_is_triggered_by_a_declared_prefix(valid_project: Project) -> None:
    valid_project.write_env("dev", env(partner=external()))
    valid_project.write_job("ingest", reading("orders/2026/"))

    assert problems(valid_project) == []
    platform = load_platform("dev", root=valid_project.root, **valid_project.paths())
    config = platform.environment.config
    assert naming.data_bucket_name(config, "dev", "partner") == "partner-exports"


@pytest.mark.parametrize(
    ("source", "field", "says"),
    [
        (
            external(region="us-east-1"),
            "external_buckets.partner.region",
            ("'us-east-1' is not the environment's region 'eu-west-1'",),
        ),
        (
            external(account="123456789012"),
            "external_buckets.partner.account",
            ("'123456789012' is this environment's own account", "under 'buckets'"),
        ),
        (
            external(kms_key_arn=KEY.replace(SOURCE_ACCOUNT, "444444444444")),
            "external_buckets.partner.kms_key_arn",
            ("a key of account 444444444444", f"({SOURCE_ACCOUNT}, eu-west-1)"),
        ),
        (
            external(kms_key_arn="alias/partner"),
            "external_buckets.partner.kms_key_arn",
            ("'alias/partner' is not a KMS key ARN", "not an alias"),
        ),
        (
            external(prefixes=[""]),
            "external_buckets.partner.prefixes",
            ("would offer the whole bucket",),
        ),
        (
            external(prefixes=[]),
            "external_buckets.partner.prefixes",
            ("at least 1",),
        ),
        (
            external(name="Partner_Exports"),
            "external_buckets.partner.name",
            ("'Partner_Exports' is not a valid S3 bucket name",),
        ),
    ],
    ids=["region", "own-account", "key-account", "key-alias", "whole-bucket", "no-prefix", "name"],
)
def test_a_source_that_cannot_work_is_refused(
    valid_project: Project, source: dict[str, Any], field: str, says: tuple[str, ...]
) -> None:
    valid_project.write_env("dev", env(partner=source))

    found = [line for line in problems(valid_project) if line.startswith(f"dev.yaml: {field}: ")]

    assert found, problems(valid_project)
    for fragment in says:
        assert fragment in found[0], found[0]


def test_an_external_key_that_an_own_bucket_uses_is_refused(valid_project: Project) -> None:
    valid_project.write_env("dev", env(raw=external()))

    assert "dev.yaml: external_buckets.raw: key 'raw' is also one of this environment's own " \
        "buckets; give the external bucket another key" in problems(valid_project)  # fmt: skip


@pytest.mark.parametrize(
    ("job", "field", "says"),
    [
        (
            reading("invoices/"),
            "inputs[0].prefix",
            ("'invoices/' is not under a prefix that external bucket 'partner' offers",
             "accepted: prefixes starting with 'orders/', 'returns/'"),
        ),
        (
            reading("orders/", trigger_prefix="order"),
            "trigger.s3.prefix",
            ("'order' is not under a prefix",),
        ),
        (
            valid_job(
                "ingest",
                inputs=[{"bucket": "partner", "prefix": "orders/"}],
                trigger={"s3": {"bucket": "partner", "suffix": ".csv"}},
            ),
            "trigger.s3.prefix",
            ("'' is not under a prefix",),
        ),
        (
            valid_job("ingest", outputs=[{
                "bucket": "partner", "prefix": "orders/out/", "table": "t",
                "columns": {"id": "string", "day": "date"}, "partitioned_by": ["day"],
                "replace": "partitions",
            }]),
            "outputs[0].bucket",
            (f"bucket 'partner' is external (account {SOURCE_ACCOUNT})", "write only to"),
        ),
        (
            valid_job("ingest", inputs=[{"bucket": "elsewhere", "prefix": "x/"}]),
            "inputs[0].bucket",
            ("bucket 'elsewhere' is not declared", "declared: curated, partner, raw"),
        ),
    ],
    ids=["input-prefix", "trigger-prefix", "trigger-suffix-only", "output", "undeclared"],
)  # fmt: skip
def test_a_job_outside_what_the_source_offers_is_refused(
    valid_project: Project, job: dict[str, Any], field: str, says: tuple[str, ...]
) -> None:
    valid_project.write_env("dev", env(partner=external()))
    valid_project.write_job("ingest", job)

    found = [line for line in problems(valid_project) if line.startswith(f"ingest.yaml: {field}: ")]

    assert found, problems(valid_project)
    for fragment in says:
        assert fragment in found[0], found[0]


def test_a_scheduled_job_waiting_on_an_external_input_is_refused(valid_project: Project) -> None:
    """The DAG's S3KeySensor (wait_for_input) lists the first input as MWAA's execution role,
    which the source's bucket policy does not name (dags/glueflow_runtime/dag_builder.py)."""
    valid_project.write_env("dev", env(partner=external()))
    valid_project.write_job("ingest", valid_job(
        "ingest", inputs=[{"bucket": "partner", "prefix": "orders/"}],
        trigger={"schedule": "0 6 * * *"},
    ))  # fmt: skip

    found = [line for line in problems(valid_project) if "inputs[0].bucket" in line]

    assert found == [
        "ingest.yaml: inputs[0].bucket: bucket 'partner' is external: a scheduled job waits for "
        "its first input as MWAA's role, which the source does not grant; list an own bucket's "
        "input first, or start the job by an S3 trigger on the external prefix"
    ]

"""The review's Access lines (review/access.py): one line per principal, from the statements
@aws-cdk/cloudformation-diff reports (review/cfn_diff.js).

The statements below are shaped as a Glue job role's are in the synthesized templates. What a
resource names is IAM's: `arn:aws:s3:::bucket/key`, with `*` for a prefix, and `s3:ListBucket`
on the bucket limited by the `s3:prefix` condition key ("Actions, resources, and condition
keys for Amazon S3", Service Authorization Reference); a Glue table is
`arn:aws:glue:<region>:<account>:table/<database>/<table>` ("Specifying AWS Glue resource
ARNs", AWS Glue Developer Guide).
"""

from __future__ import annotations

from typing import Any

from review.access import describe

ROLE = "AWS:${ReturnsAccessRole7B32A452}"
RAW = "arn:aws:s3:::glueflow-dev-raw-111111111111"
CURATED = "arn:aws:s3:::glueflow-dev-curated-111111111111"
ARTIFACTS = "arn:aws:s3:::glueflow-dev-artifacts-111111111111"
WRITE = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject",
         "s3:ListMultipartUploadParts", "s3:PutObject"]  # fmt: skip


def allow(actions: list[str], resources: list[str], principal: str = ROLE,
          condition: dict | None = None) -> dict[str, Any]:  # fmt: skip
    return {"allow": True, "principals": [principal], "actions": actions, "resources": resources,
            "notActions": False, "notResources": False, "condition": condition}  # fmt: skip


def job_role(inputs: str, output: str, principal: str = ROLE) -> list[dict[str, Any]]:
    """The statements of a job role that reads `inputs` and writes `output` (prefixes)."""
    return [
        allow(["s3:GetObject", "s3:GetObjectVersion"],
              [f"{RAW}/{inputs}*", f"{ARTIFACTS}/glue_scripts/jobs/returns.py"], principal),
        allow(["s3:GetObject"], [f"{RAW}/{inputs.rstrip('/')}", f"{CURATED}/{output.rstrip('/')}"],
              principal),
        allow(WRITE, [f"{CURATED}/{output}*", f"{ARTIFACTS}/temp/returns/*"], principal),
        allow(["s3:ListBucket"], [CURATED], principal,
              {"StringLike": {"s3:prefix": [output.rstrip("/"), f"{output}*"]}}),
        allow(["s3:ListBucketMultipartUploads"], [CURATED], principal),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"],
              ["arn:aws:logs:eu-west-1:111111111111:log-group:/aws-glue/jobs/r/error",
               "arn:aws:logs:eu-west-1:111111111111:log-group:/aws-glue/jobs/r/error:log-stream:*"],
              principal),
        allow(["cloudwatch:PutMetricData"], ["*"], principal,
              {"StringEquals": {"cloudwatch:namespace": "Glue"}}),
    ]  # fmt: skip


def who(principal: str) -> str:
    return {ROLE: "dev/Jobs020/Returns/Access/Role"}.get(principal, principal)


def test_a_new_jobs_role_is_one_line_of_what_it_reads_and_writes() -> None:
    trust = allow(["sts:AssumeRole"], ["${ReturnsAccessRole7B32A452.Arn}"],
                  "Service:glue.amazonaws.com")  # fmt: skip
    lines = describe([*job_role("returns/incoming/", "returns/"), trust], [], [], who)
    assert lines == [
        "dev/Jobs020/Returns/Access/Role (new): "
        "reads s3://glueflow-dev-raw-111111111111/returns/incoming/; "
        "writes s3://glueflow-dev-curated-111111111111/returns/; "
        "and a Glue job's standard grants (1 artifacts read, 2 artifacts writes, 1 log group, "
        "metrics in namespace Glue); assumed by glue.amazonaws.com"
    ]


def test_a_renamed_output_prefix_is_one_change_with_what_it_adds_and_removes() -> None:
    """The statements that name the prefix are removed and added again; only the difference
    is said, and reading what it writes is not said twice."""
    before = job_role("returns/incoming/", "returns/")
    after = job_role("returns/incoming/", "returns_v2/")
    changed_before = [s for s in before if s not in after]
    changed_after = [s for s in after if s not in before]
    lines = describe(changed_after, changed_before, before, who)
    assert lines == [
        "dev/Jobs020/Returns/Access/Role: writes s3://glueflow-dev-curated-111111111111/"
        "returns_v2/ instead of s3://glueflow-dev-curated-111111111111/returns/"
    ]


def test_a_wider_input_prefix_says_what_it_was() -> None:
    before = job_role("returns/incoming/", "returns/")
    after = job_role("returns/", "out/")[:1]
    lines = describe(after, before[:1], before, who)
    assert lines == [
        "dev/Jobs020/Returns/Access/Role: reads s3://glueflow-dev-raw-111111111111/returns/ "
        "(wider: was s3://glueflow-dev-raw-111111111111/returns/incoming/) instead of "
        "s3://glueflow-dev-raw-111111111111/returns/incoming/"
    ]


def test_a_table_no_longer_read_is_said() -> None:
    table = "arn:aws:glue:eu-west-1:111111111111:table/glueflow_dev/marketing_events"
    catalog = "arn:aws:glue:eu-west-1:111111111111:catalog"
    before = [allow(["glue:GetPartitions", "glue:GetTable"], [catalog, table])]
    after = [allow(["glue:GetPartitions", "glue:GetTable"], [catalog])]
    assert describe(after, before, before, who) == [
        "dev/Jobs020/Returns/Access/Role: no longer reads tables glueflow_dev.marketing_events"
    ]

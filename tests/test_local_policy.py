"""glueflow_local/policy.py, the local run's policy evaluator (no process started):
resource policies evaluated as IAM documents evaluation, on the
statements the local run crosses accounts with. The statements and expected answers follow
AWS's pages: "Policy evaluation logic" and "Cross-account policy evaluation logic" (an explicit
Deny wins; without an Allow, denied), "IAM JSON policy elements: Condition operators"
(StringEquals, StringLike, ArnEquals, Bool, ForAllValues and ...IfExists on missing keys), "AWS
JSON policy elements: Principal" (an account's root is every principal of the account), and
"Example policy: Send events to a custom bus in a different account" (EventBridge User Guide).
"""

from __future__ import annotations

import pytest

from glueflow_local.errors import LocalRunError
from glueflow_local.policy import Request, decide

ROLE = "arn:aws:iam::111111111111:role/glueflow-dev-agency_spend_ingest"
BUCKET = "arn:aws:s3:::partner"
READ = {
    "Sid": "Read",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
    "Resource": [f"{BUCKET}/orders/*"],
    "Condition": {"StringEquals": {"aws:PrincipalArn": [ROLE]}},
}
LIST = {
    "Sid": "List",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": "s3:ListBucket",
    "Resource": BUCKET,
    "Condition": {"StringLike": {"s3:prefix": ["orders", "orders/*"]},
                  "StringEquals": {"aws:PrincipalArn": [ROLE]}},
}  # fmt: skip
TLS_ONLY = {
    "Sid": "TlsOnly",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": [BUCKET, f"{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
POLICY = [READ, LIST, TLS_ONLY]


def get(key: str, role: str = ROLE, tls: str = "true") -> Request:
    return Request(role, "s3:GetObject", f"{BUCKET}/{key}",
                   {"aws:PrincipalArn": role, "aws:SecureTransport": tls})  # fmt: skip


def test_the_named_role_reads_under_the_prefix() -> None:
    assert decide(POLICY, get("orders/2026/a.csv")) == (True, "allowed by Read")


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (get("invoices/a.csv"), "no statement allows it"),
        (get("orders/a.csv", role="arn:aws:iam::111111111111:role/other"),
         "no statement allows it"),
        (get("orders/a.csv", role="arn:aws:iam::999999999999:role/glueflow-dev-x"),
         "no statement allows it"),
        (get("orders/a.csv", tls="false"), "denied by TlsOnly"),
    ],
    ids=["other-prefix", "other-role", "other-account", "not-tls"],
)  # fmt: skip
def test_what_the_policy_does_not_grant_is_denied(request_: Request, why: str) -> None:
    assert decide(POLICY, request_) == (False, why)


def test_listing_is_held_to_the_prefix_by_its_condition() -> None:
    def listing(prefix: str) -> Request:
        return Request(ROLE, "s3:ListBucket", BUCKET,
                       {"aws:PrincipalArn": ROLE, "s3:prefix": prefix})  # fmt: skip

    assert decide(POLICY, listing("orders/2026/"))[0]
    assert decide(POLICY, listing("orders"))[0]
    assert not decide(POLICY, listing(""))[0]
    assert not decide(POLICY, listing("ordersX/"))[0]


def test_a_bus_statement_takes_only_s3_object_created_from_the_forwarding_role() -> None:
    forward = "arn:aws:iam::333333333333:role/glueflow-dev-agency-forward"
    bus = "arn:aws:events:eu-west-1:111111111111:event-bus/default"
    statement = {
        "Sid": "glueflow-dev-agency-objects",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
        "Action": "events:PutEvents",
        "Resource": bus,
        "Condition": {
            "StringEquals": {"aws:PrincipalArn": forward, "events:detail-type": "Object Created"},
            "ForAllValues:StringEquals": {"events:source": ["aws.s3"]},
        },
    }

    def put(role: str, source: str, detail_type: str = "Object Created") -> bool:
        context = {"aws:PrincipalArn": role, "events:source": [source],
                   "events:detail-type": detail_type}  # fmt: skip
        return decide([statement], Request(role, "events:PutEvents", bus, context))[0]

    assert put(forward, "aws.s3")
    assert not put(forward, "com.example")
    assert not put(forward, "aws.s3", "Object Deleted")
    assert not put("arn:aws:iam::333333333333:role/someone-else", "aws.s3")


def test_an_operator_it_does_not_evaluate_is_an_error_not_a_pass() -> None:
    statement = {**READ, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    with pytest.raises(LocalRunError, match="'IpAddress' is not evaluated locally"):
        decide([statement], get("orders/a.csv"))

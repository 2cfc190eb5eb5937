"""IAM policy statements as plain JSON, with no CDK import: what both the constructs and the
documents a person applies by hand (`make source-policy`) are built from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def allow(
    actions: Sequence[str], resources: Sequence[str], conditions: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An Allow statement as IAM's policy JSON ("IAM JSON policy element reference", IAM User
    Guide). Plain data: a role built from such statements only costs one call to the jsii
    process for its whole policy, where each PolicyStatement is one call of its own."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions),
                                 "Resource": list(resources)}  # fmt: skip
    if conditions:
        statement["Condition"] = dict(conditions)
    return statement

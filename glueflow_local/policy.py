"""Resource policies evaluated as AWS evaluates them, for the parts the local run crosses between
accounts: a bucket policy letting another account's role read, and an event bus policy letting
another account's role put events. moto stores such policies and does not evaluate them (its
S3 lets any account read any bucket, `MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS`), so the local run asks
here before it lets a read or a forwarded event through.

What is evaluated, after "Policy evaluation logic" and "Cross-account policy evaluation logic"
(IAM User Guide): an explicit Deny that applies wins; otherwise some Allow must apply. A
statement applies when its Principal names the caller (the role's ARN, its account's root or
bare id, or `*`), its Action and Resource match (`*` and `?` as "IAM JSON policy elements:
Action / Resource" read them; actions without case), and every condition holds ("IAM JSON
policy elements: Condition operators"): String(Equals|Like), Arn(Equals|Like), Bool, with
`ForAllValues:` and `...IfExists`. An operator not listed here is an error, never a pass.
Identity policies on the caller's side are the stacks' tests' concern (tests/stacks).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from glueflow_local.errors import LocalRunError


@dataclass(frozen=True)
class Request:
    """One call, as the policy sees it."""

    principal_arn: str  # arn:aws:iam::<account>:role/<name>
    action: str
    resource: str
    context: Mapping[str, Any]  # condition keys: a value or a list of values

    @property
    def account(self) -> str:
        return self.principal_arn.split(":")[4]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    names = {request.principal_arn, request.account,
             f"arn:aws:iam::{request.account}:root"}  # fmt: skip
    values = [v for vs in (principal or {}).values() for v in _list(vs)]
    return any(v == "*" or v in names for v in values)


def _like(pattern: str, value: str, case: bool = True) -> bool:
    pattern = pattern.replace("[", "[[]")
    if case:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _test(operator: str, expected: list[Any], actual: Any) -> bool:
    """One condition operator on one key ("IAM JSON policy elements: Condition operators")."""
    quantifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    compare = {
        "StringEquals": lambda e, a: str(a) == str(e),
        "StringLike": lambda e, a: _like(str(e), str(a)),
        "ArnEquals": lambda e, a: str(a) == str(e),
        "ArnLike": lambda e, a: _like(str(e), str(a)),
        "Bool": lambda e, a: str(a).lower() == str(e).lower(),
    }.get(base)
    if compare is None or quantifier not in ("", "ForAllValues", "ForAnyValue"):
        raise LocalRunError(f"condition operator {operator!r} is not evaluated locally")
    if actual is None:
        # A missing key: IfExists and ForAllValues hold; everything else fails.
        return if_exists or quantifier == "ForAllValues"
    values = _list(actual)
    if quantifier == "ForAllValues":
        return all(any(compare(e, a) for e in expected) for a in values)
    return any(compare(e, a) for e in expected for a in values)


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if not _principal_matches(statement.get("Principal"), request):
        return False
    if not any(_like(str(a), request.action, case=False) for a in _list(statement.get("Action"))):
        return False
    if not any(_like(str(r), request.resource) for r in _list(statement.get("Resource"))):
        return False
    return all(
        _test(operator, _list(expected), request.context.get(key))
        for operator, tests in (statement.get("Condition") or {}).items()
        for key, expected in tests.items()
    )


def decide(statements: Iterable[Mapping[str, Any]], request: Request) -> tuple[bool, str]:
    """Whether the statements allow the request, and the Sid (or why not) that decided."""
    applying = [s for s in statements if _applies(s, request)]
    denied = [s for s in applying if s.get("Effect") == "Deny"]
    if denied:
        return False, f"denied by {denied[0].get('Sid') or 'a Deny statement'}"
    allowed = [s for s in applying if s.get("Effect") == "Allow"]
    if allowed:
        return True, f"allowed by {allowed[0].get('Sid') or 'an Allow statement'}"
    return False, "no statement allows it"

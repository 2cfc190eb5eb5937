"""What crosses between accounts, both sides, in a reviewer's words: the lines of `make review`
that say which cross-account grant a change adds or removes (docs/architecture.md, decision
19).

Read from the synthesized templates, as IAM and EventBridge evaluate them:
- a resource policy statement whose principal is another account (an event bus policy, a
  bucket policy): who, in that account, it names (`aws:PrincipalArn`, "AWS global condition
  context keys", IAM User Guide), the actions, and where;
- an identity policy statement on another account's resource: an S3 object or bucket ARN of
  an external bucket, or a KMS key ARN of another account ("Amazon S3 resource ARNs" and "AWS
  KMS key ARNs" in "Actions, resources, and condition keys"), and the role it belongs to;
- a rule target in another account (the source side's forwarding rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from stacks.iam_review import allow_statements

_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$|^(\d{12})$")
_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _principal_accounts(principal: Any) -> list[str]:
    values = [principal] if isinstance(principal, str) else [
        v for vs in (principal or {}).values() for v in _list(vs)
    ]  # fmt: skip
    found = []
    for value in values:
        match = _ROOT.fullmatch(value) if isinstance(value, str) else None
        if match:
            found.append(match.group(1) or match.group(2))
    return found


def _role_names(template: Mapping[str, Any], logical_id: str) -> list[str]:
    """The roles a policy resource is attached to, by their RoleName where it is literal."""
    resources = template.get("Resources", {})
    props = resources.get(logical_id, {}).get("Properties", {})
    names = []
    for ref in _list(props.get("Roles")):
        role = ref.get("Ref") if isinstance(ref, dict) else None
        name = resources.get(role, {}).get("Properties", {}).get("RoleName") if role else ref
        names.append(_show(name or role or ref))
    if resources.get(logical_id, {}).get("Type") == "AWS::IAM::Role":
        names.append(_show(props.get("RoleName") or logical_id))
    return names or [logical_id]


def _condition_text(condition: Mapping[str, Any] | None) -> str:
    if not condition:
        return ""
    parts = [
        f"{key} {' or '.join(_show(v) for v in _list(value))}"
        for test in condition.values()
        for key, value in sorted(test.items())
    ]
    return f" when {', '.join(sorted(parts))}"


def grants(
    templates: Mapping[str, Mapping[str, Any]],
    accounts: Mapping[str, str],
    external_buckets: Mapping[str, str],
) -> set[str]:
    """One line per cross-account grant in `templates`: the environment's and, beside them,
    its sources' (`accounts`: each stack's own account; `external_buckets`: bucket name -> its
    account)."""
    lines: set[str] = set()
    for st in allow_statements(templates):
        template = templates[st.stack]
        own_account = accounts.get(st.stack, "")
        actions = ", ".join(sorted(st.actions))
        others = [a for a in _principal_accounts(st.body.get("Principal")) if a != own_account]
        where = ", ".join(sorted(_show(r) for r in st.resources))
        if others and st.resource_type == "AWS::Events::EventBusPolicy":
            for account in others:
                lines.add(f"{st.stack}: the default bus accepts {actions} from account "
                          f"{account}{_condition_text(st.body.get('Condition'))}")  # fmt: skip
            continue
        if "Principal" in st.body:
            for account in others:
                lines.add(f"{st.stack}: {st.resource_type} lets account {account} {actions} on "
                          f"{where}{_condition_text(st.body.get('Condition'))}")  # fmt: skip
            continue
        for resource in st.resources:
            if not isinstance(resource, str):
                continue
            account = None
            if resource.startswith("arn:") and ":s3:::" in resource:
                account = external_buckets.get(resource.split(":::", 1)[1].split("/", 1)[0])
            elif (found := _ACCOUNT_IN_ARN.match(resource)) and found.group(1) != own_account:
                account = found.group(1)
            if account is None or account == own_account:
                continue
            for role in _role_names(template, st.logical_id):
                lines.add(f"{st.stack}: {role} may {actions} on {resource} (account {account})"
                          f"{_condition_text(st.body.get('Condition'))}")  # fmt: skip
    for stack, template in templates.items():
        own_account = accounts.get(stack, "")
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::Events::Rule":
                continue
            for target in resource.get("Properties", {}).get("Targets", []):
                arn = target.get("Arn")
                found = _ACCOUNT_IN_ARN.match(arn) if isinstance(arn, str) else None
                if found and found.group(1) != own_account:
                    pattern = json.dumps(resource["Properties"].get("EventPattern"), sort_keys=True)
                    lines.add(f"{stack}: rule {logical_id} forwards {pattern} to {arn}")
    return lines


def compare(base: set[str], head: set[str]) -> list[str]:
    """The review's lines: each grant added, then each removed."""
    return [f"cross-account grant added: {line}" for line in sorted(head - base)] + [
        f"cross-account grant removed: {line}" for line in sorted(base - head)
    ]

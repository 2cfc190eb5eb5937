"""What the synthesized IAM allows, read from the templates, and the wildcard allowlist.

docs/architecture.md, decision 9: no wildcard action in any Allow statement, and a wildcard
resource only where this allowlist names it with its reason. Tests enforce it on every
synthesized template; `make synth` prints the totals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from configs.steps import registry

# Actions with no resource-level permission: IAM only accepts Resource "*" for them.
NO_RESOURCE_LEVEL_ACTIONS = {
    "cloudwatch:PutMetricData": "CloudWatch metrics have no ARN; a namespace condition narrows it",
    "logs:DescribeLogGroups": "MWAA lists log groups; the action has no resource-level scope",
    "s3:GetAccountPublicAccessBlock": "MWAA checks the account's public access block",
    "ec2:DescribeNetworkInterfaces": "a Lambda in a VPC reads its network interfaces",
    "xray:PutTelemetryRecords": "X-Ray tracing of the trigger Lambda",
    "xray:PutTraceSegments": "X-Ray tracing of the trigger Lambda",
    # and those the step types declare (glueflow_steps/), each with what limits it
    **{
        action: why for kind in registry().values() for action, why in kind.wildcard_actions.items()
    },
}


@dataclass(frozen=True)
class AllowedWildcard:
    """A family of wildcard resources that is allowed, and why."""

    name: str
    pattern: re.Pattern[str]
    reason: str


_ARN = r"arn:aws[a-z-]*"
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
WILDCARD_ALLOWLIST: tuple[AllowedWildcard, ...] = (
    AllowedWildcard(
        "objects under a key prefix",
        re.compile(rf"^{_ARN}:s3:::[a-z0-9.-]+/[^*]+/\*$"),
        "S3 object ARNs under a declared input/output, a job's temp or report prefix, or a "
        "deployment prefix: the keys are written at run time",
    ),
    AllowedWildcard(
        "MWAA source bucket objects",
        re.compile(rf"^{_ARN}:s3:::[a-z0-9-]+-mwaa-\d{{12}}/\*$"),
        "MWAA reads its whole source bucket (DAGs, manifest, requirements)",
    ),
    AllowedWildcard(
        "CDK asset objects",
        re.compile(rf"^{_ARN}:s3:::cdk-[a-z0-9]+-assets-\d{{12}}-{_REGION}/\*$"),
        "deploy-time handlers read assets named by content hash at publish time",
    ),
    AllowedWildcard(
        "log streams of one log group",
        re.compile(rf"^{_ARN}:logs:{_REGION}:\d{{12}}:log-group:[^*]+:log-stream:\*$"),
        "log streams are named by run id inside a log group the principal owns",
    ),
    AllowedWildcard(
        "this environment's Glue run logs",
        re.compile(
            rf"^{_ARN}:logs:{_REGION}:\d{{12}}:log-group:/aws-glue/jobs/[a-z0-9]+-[a-z0-9]+"
            rf"-jobs-\*:log-stream:\*$"
        ),
        "the failure callback reads the tail of a failed run's log streams (read only)",
    ),
    AllowedWildcard(
        "tables of this environment's catalog database",
        re.compile(rf"^{_ARN}:glue:{_REGION}:\d{{12}}:table/[a-z0-9]+_[a-z0-9]+/\*$"),
        "the publish task repoints the partitions of any job's table in the environment's own "
        "database",
    ),
    AllowedWildcard(
        "MWAA log groups",
        re.compile(rf"^{_ARN}:logs:{_REGION}:\d{{12}}:log-group:airflow-[a-z0-9-]+-\*$"),
        "MWAA names a log group per module: airflow-<environment>-<module>",
    ),
    AllowedWildcard(
        "MWAA Celery queue",
        re.compile(rf"^{_ARN}:sqs:{_REGION}:\*:airflow-celery-\*$"),
        "the queue lives in an account MWAA owns; its account and name are not known",
    ),
    AllowedWildcard(
        "VPC network interfaces of a Lambda",
        re.compile(
            rf"^{_ARN}:ec2:{_REGION}:\d{{12}}:(network-interface|subnet|security-group)/\*$"
        ),
        "a Lambda in a VPC creates and deletes its interfaces, named at creation, in the "
        "account's subnets and security groups",
    ),
    AllowedWildcard(
        "a named secret's ARN suffix",
        re.compile(
            rf"^{_ARN}:secretsmanager:{_REGION}:\d{{12}}:secret:glueflow/[A-Za-z0-9/_+=.@-]+"
            rf"-\?{{6}}$"
        ),
        "Secrets Manager ends a secret's ARN with 6 random characters; '??????' matches those "
        "of one named webhook secret, and no other secret",
    ),
    AllowedWildcard(
        "this environment's Glue jobs",
        re.compile(rf"^{_ARN}:glue:{_REGION}:\d{{12}}:job/[a-z0-9]+-[a-z0-9]+-\*$"),
        "jobs named <prefix>-<env>-*; one ARN per job outgrows the policy size limit at 500 jobs",
    ),
    # and those the step types declare (glueflow_steps/), resources named at run time
    *(
        AllowedWildcard(f"{kind.name} steps", re.compile(pattern), why)
        for kind in registry().values()
        for pattern, why in kind.wildcard_resources.items()
    ),
)

POLICY_PROPERTIES = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
}


@dataclass(frozen=True)
class Statement:
    """One policy statement and where it is."""

    stack: str
    logical_id: str
    resource_type: str
    body: Mapping[str, Any]

    @property
    def actions(self) -> list[str]:
        return _as_list(self.body.get("Action"))

    @property
    def resources(self) -> list[Any]:
        return _as_list(self.body.get("Resource"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def allow_statements(templates: Mapping[str, Mapping[str, Any]]) -> Iterator[Statement]:
    """Every Allow statement of every permission policy (not trust policies) in `templates`."""
    for stack, template in sorted(templates.items()):
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            kind = resource.get("Type", "")
            props = resource.get("Properties", {})
            documents = []
            if kind in POLICY_PROPERTIES:
                documents.append(props.get(POLICY_PROPERTIES[kind], {}))
            elif kind == "AWS::IAM::Role":
                documents += [policy["PolicyDocument"] for policy in props.get("Policies", [])]
            elif kind == "AWS::Events::EventBusPolicy" and props.get("Statement"):
                # One statement per resource ("AWS::Events::EventBusPolicy", CloudFormation).
                documents.append({"Statement": props["Statement"]})
            for document in documents:
                for body in _as_list(document.get("Statement")):
                    if body.get("Effect") == "Allow":
                        yield Statement(stack, logical_id, kind, body)


def wildcard_problems(templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Wildcard actions, and wildcard resources the allowlist does not name; empty when clean."""
    problems = []
    for st in allow_statements(templates):
        where = f"{st.stack}/{st.logical_id}"
        for action in st.actions:
            if "*" in action or "?" in action:
                problems.append(f"{where}: wildcard action {action!r}")
        for resource in st.resources:
            wildcard = isinstance(resource, str) and ("*" in resource or "?" in resource)
            if wildcard and allowed_wildcard(st, resource) is None:
                problems.append(f"{where}: wildcard resource {resource!r} is not allowlisted")
    return problems


def allowed_wildcard(st: Statement, resource: str) -> str | None:
    """The allowlist entry that permits `resource` in `st`, or None."""
    if resource == "*":
        if st.resource_type == "AWS::KMS::Key":
            return "in a key policy, '*' is the key itself"
        if st.actions and all(a in NO_RESOURCE_LEVEL_ACTIONS for a in st.actions):
            return "actions with no resource-level permission: " + ", ".join(sorted(st.actions))
        return None
    for entry in WILDCARD_ALLOWLIST:
        if entry.pattern.fullmatch(resource):
            return entry.name
    return None


# Conditions that name who, within another account, a resource policy lets in: a role (its
# ARN, "aws:PrincipalArn") or the resource acting for it ("aws:SourceArn"), "AWS global
# condition context keys", IAM User Guide.
NAMING_CONDITIONS = ("aws:PrincipalArn", "aws:SourceArn")
_ACCOUNT_ROOT = re.compile(r"^(?:arn:aws[a-z-]*:iam::(\d{12}):root|(\d{12}))$")


def principal_problems(
    templates: Mapping[str, Mapping[str, Any]], own_accounts: set[str]
) -> list[str]:
    """A resource policy that lets in anyone (a wildcard principal), or a whole other account
    where a role can be named: another account's root is accepted only with a condition that
    names the role or resource (NAMING_CONDITIONS). Empty when clean."""
    problems = []
    for st in allow_statements(templates):
        principal = st.body.get("Principal")
        if principal is None:
            continue
        where = f"{st.stack}/{st.logical_id}"
        values = (
            [principal]
            if isinstance(principal, str)
            else [v for vs in principal.values() for v in _as_list(vs)]
        )
        conditions = {key for test in (st.body.get("Condition") or {}).values() for key in test}
        for value in values:
            if not isinstance(value, str):
                continue  # a token (Fn::GetAtt of a role, a partition join): a named principal
            if "*" in value:
                problems.append(f"{where}: wildcard principal {value!r}")
                continue
            root = _ACCOUNT_ROOT.fullmatch(value)
            account = root and (root.group(1) or root.group(2))
            if account and account not in own_accounts and not conditions & set(NAMING_CONDITIONS):
                problems.append(
                    f"{where}: account {account} as a whole; name its role with "
                    f"{' or '.join(NAMING_CONDITIONS)}"
                )
    return problems

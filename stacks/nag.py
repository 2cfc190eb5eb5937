"""cdk-nag: the rule packs every synth runs, and how findings are acknowledged.

An unacknowledged finding fails synth (docs/architecture.md, decision 10). Acknowledge only through
`acknowledge`, on the narrowest construct, with a reason specific to it; `acknowledgements(app)`
lists them all, and a test pins that list so that its growth shows in review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks
from constructs import IConstruct

from cdk_constructs.nag import (
    acknowledge,
    acknowledge_deploy_time_handlers,
    acknowledge_wildcards,
)

__all__ = [
    "Acknowledged",
    "acknowledge",
    "acknowledge_deploy_time_handlers",
    "acknowledge_wildcards",
    "acknowledgements",
    "register_checks",
]


def register_checks(app: App) -> None:
    """Run the AwsSolutions, NIST 800-53 R5 and Serverless packs on the whole app."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), NIST80053R5Checks(app), ServerlessChecks(app)
    )


@dataclass(frozen=True)
class Acknowledged:
    """One acknowledgement, where it sits, and why."""

    path: str
    rule: str
    reason: str


def acknowledgements(root: IConstruct) -> list[Acknowledged]:
    """Every acknowledgement under `root`, sorted by path and rule."""
    found = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            data = entry.data
            items = data.items() if isinstance(data, Mapping) else []
            for rule, reason in items:
                rule_id = str(rule).removeprefix("Annotation::")
                found.append(Acknowledged(construct.node.path, rule_id, str(reason)))
    return sorted(found, key=lambda a: (a.path, a.rule))


def render_acknowledgements(found: list[Acknowledged]) -> str:
    """One line per acknowledgement: `path | rule | reason`, as committed for review."""
    return "".join(f"{a.path} | {a.rule} | {a.reason}\n" for a in found)

"""ManagedPolicyRole: an IAM role whose permissions live in one customer managed policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.security.policy_json import allow

__all__ = ["ManagedPolicyRole", "Statement", "allow"]

# A policy statement: a CDK PolicyStatement, or its JSON in IAM's policy grammar (`allow`).
Statement = iam.PolicyStatement | Mapping[str, Any]


def _statement(statement: Statement) -> iam.PolicyStatement:
    if isinstance(statement, iam.PolicyStatement):
        return statement
    return iam.PolicyStatement.from_json(statement)


class ManagedPolicyRole(Construct):
    """A role for one principal, with its statements in a customer managed policy attached to it
    alone, rather than inline (NIST 800-53 IAMNoInlinePolicy).

    Pass `role_for_grants` to CDK constructs that would grant themselves into the role: it is
    immutable, so their wildcard grants are dropped and only `allow(...)` adds permissions.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        assumed_by: iam.IPrincipal,
        description: str,
        role_name: str | None = None,
        statements: Sequence[Statement] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self, "Role", assumed_by=assumed_by, description=description, role_name=role_name
        )
        if statements and not any(isinstance(s, iam.PolicyStatement) for s in statements):
            # All JSON: the whole document in one call.
            document = iam.PolicyDocument.from_json(
                {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}
            )
            self.policy = iam.ManagedPolicy(
                self, "Policy", description=description, roles=[self.role], document=document
            )
        else:
            self.policy = iam.ManagedPolicy(
                self,
                "Policy",
                description=description,
                roles=[self.role],
                statements=[_statement(s) for s in statements],
            )
        self.role_for_grants = self.role.without_policy_updates()

    def allow(self, *statements: Statement) -> None:
        """Add statements to the role's policy."""
        self.policy.add_statements(*(_statement(s) for s in statements))

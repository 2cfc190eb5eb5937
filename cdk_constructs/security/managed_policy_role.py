"""ManagedPolicyRole: an IAM role whose permissions live in one customer managed policy."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct


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
        statements: Sequence[iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self, "Role", assumed_by=assumed_by, description=description, role_name=role_name
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy", description=description, roles=[self.role], statements=list(statements)
        )
        self.role_for_grants = self.role.without_policy_updates()

    def allow(self, *statements: iam.PolicyStatement) -> None:
        """Add statements to the role's policy."""
        self.policy.add_statements(*statements)

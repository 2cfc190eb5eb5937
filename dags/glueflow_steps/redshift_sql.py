"""`redshift_sql`: SQL through the Redshift Data API, waiting for the statement (deferred)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from glueflow_steps.base import Grant, StepModel, StepType, Where

# How a deferrable RedshiftDataOperator follows its statement: no resource-level permission
# ("Actions, resources, and condition keys for Amazon Redshift Data API", Service
# Authorization Reference), so limited to the role's own statements by condition.
STATEMENT_ACTIONS = (
    "redshift-data:CancelStatement",
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
)
OWN_STATEMENTS = (
    "statement ids are not resources; a condition limits it to the caller's own statements"
)


class RedshiftSqlStep(StepModel):
    """Run SQL through the Redshift Data API after the job succeeds."""

    type: Literal["redshift_sql"]
    sql: str = Field(min_length=1, description="SQL to run.")
    database: str = Field(min_length=1, description="Redshift database.")
    workgroup: str | None = Field(default=None, description="Redshift Serverless workgroup.")
    workgroup_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:redshift-serverless:[a-z0-9-]+:\d{12}:workgroup/[0-9a-f-]{36}$",
        description="The workgroup's ARN (it holds the workgroup id, not its name); required "
        "with 'workgroup', so that MWAA may run statements on this workgroup only.",
    )
    cluster_identifier: str | None = Field(default=None, description="Provisioned cluster.")
    secret_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:secretsmanager:",
        description="Database credentials secret (provisioned clusters).",
    )

    @model_validator(mode="after")
    def _one_target(self) -> RedshiftSqlStep:
        if (self.workgroup is None) == (self.cluster_identifier is None):
            raise ValueError("set exactly one of 'workgroup' or 'cluster_identifier'")
        if (self.workgroup is None) != (self.workgroup_arn is None):
            raise ValueError(
                "'workgroup_arn' goes with 'workgroup' (aws redshift-serverless get-workgroup "
                "--workgroup-name NAME shows it)"
            )
        return self


class RedshiftSql(StepType):
    name = "redshift_sql"
    model = RedshiftSqlStep
    endpoints: ClassVar[dict[str, str]] = {
        "redshift-data": "redshift_sql steps: the Redshift Data API"
    }
    wildcard_actions: ClassVar[dict[str, str]] = dict.fromkeys(STATEMENT_ACTIONS, OWN_STATEMENTS)

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.amazon.aws.operators.redshift_data import RedshiftDataOperator

        from glueflow_runtime.ids import AWS_CONN_ID

        return RedshiftDataOperator(
            task_id=step["name"],
            database=step["database"],
            sql=step["sql"],
            workgroup_name=step.get("workgroup"),
            cluster_identifier=step.get("cluster_identifier"),
            secret_arn=step.get("secret_arn"),
            wait_for_completion=True,
            deferrable=True,
            aws_conn_id=AWS_CONN_ID,
            region_name=region,
        )

    def grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """Statements on their own workgroups and clusters only, with IAM credentials or
        their secret."""
        if not steps:
            return []
        redshift = f"arn:{where.partition}:redshift:{where.region}:{where.account}"
        targets, credentials, secrets = set(), set(), set()
        for step in steps:
            if step.workgroup_arn:
                targets.add(step.workgroup_arn)
                credentials.add(("redshift-serverless:GetCredentials", step.workgroup_arn))
            else:
                targets.add(f"{redshift}:cluster:{step.cluster_identifier}")
                if not step.secret_arn:
                    credentials.add((
                        "redshift:GetClusterCredentialsWithIAM",
                        f"{redshift}:dbname:{step.cluster_identifier}/{step.database}",
                    ))  # fmt: skip
            if step.secret_arn:
                secrets.add(step.secret_arn)
        grants = [
            Grant(("redshift-data:ExecuteStatement",), tuple(sorted(targets))),
            Grant(
                STATEMENT_ACTIONS,
                ("*",),
                {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
                why="the redshift-data statement reads of redshift_sql steps, limited to the "
                "role's own statements",
            ),
        ]
        for action in sorted({action for action, _ in credentials}):
            arns = tuple(sorted(arn for a, arn in credentials if a == action))
            grants.append(Grant((action,), arns))
        if secrets:
            grants.append(Grant(("secretsmanager:GetSecretValue",), tuple(sorted(secrets))))
        return grants

    def target(self, step: dict[str, Any]) -> str:
        return step.get("workgroup") or step.get("cluster_identifier") or ""

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """moto's Redshift Data API leaves every statement STARTED, so a step waiting for it
        would wait forever. Here the warehouse answers at once: each statement is FINISHED."""
        from moto.redshiftdata.models import RedshiftDataAPIServiceBackend

        execute = RedshiftDataAPIServiceBackend.execute_statement
        if getattr(execute, "glueflow_local", False):
            return

        def execute_at_once(backend: Any, *args: Any, **kwargs: Any) -> Any:
            statement = execute(backend, *args, **kwargs)
            statement.status = "FINISHED"
            return statement

        execute_at_once.glueflow_local = True  # type: ignore[attr-defined]
        RedshiftDataAPIServiceBackend.execute_statement = execute_at_once  # type: ignore[method-assign]


STEP = RedshiftSql()

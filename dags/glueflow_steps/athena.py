"""`athena`: run a read-only query in an Athena workgroup and wait for it (deferred); a query
that ends FAILED or CANCELLED fails the step.

The operator is the Amazon provider's AthenaOperator (airflow/providers/amazon/aws/operators/
athena.py, provider 9.34.0), deferrable. Its calls, all on the step's workgroup:
- StartQueryExecution with QueryString, QueryExecutionContext {Database, Catalog
  "AwsDataCatalog"}, ResultConfiguration {OutputLocation} and WorkGroup (hooks/athena.py
  `run_query`);
- GetQueryExecution, from the triggerer: AthenaTrigger and its waiter `query_complete`
  (waiters/athena.json) end on QueryExecution.Status.State SUCCEEDED (success), FAILED or
  CANCELLED (failure), the terminal states of QueryExecutionState (Athena API Reference,
  QueryStatus). A failure or an exhausted wait comes back as an error event whose message
  holds QueryExecution.Status (its StateChangeReason too), and `execute_complete` raises it
  as AirflowException("Error while waiting for operation on cluster to complete: ...") (the
  provider's wording; triggers/base.py, operators/athena.py);
- StopQueryExecution, from `on_kill`, which Airflow does not call for a deferred task: the
  provider says a killed deferrable task leaves its query running.
It never calls GetQueryResults (the results stay in S3). Its OpenLineage extraction, which
would call GetTableMetadata, runs only with the openlineage provider, which MWAA's image
lacks: not granted.

Athena reads the tables' catalog entries and S3 data with the caller's permissions and
writes the results the same way, so MWAA's role holds them all (grants()). Objects encrypted
with the environment's data key are already readable and writable through S3 by that role
(stacks/orchestration_stack.py: the data key through s3.<region>.amazonaws.com); a bucket
under another KMS key is not granted its key.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from glueflow_steps.base import Grant, StepModel, StepType, Where

# StartQueryExecution's WorkGroup (Athena API Reference; botocore's athena service model,
# shape WorkGroupName: [a-zA-Z0-9._-]{1,128}).
WORKGROUP = r"^[A-Za-z0-9._-]{1,128}$"
# Athena lowercases database and table names and supports no special character but '_'
# ("Name databases, tables, and columns", Amazon Athena User Guide); a Glue name is at most
# 255 characters (botocore, DatabaseString).
NAME = r"[a-z0-9_]{1,255}"
TABLE_RE = re.compile(rf"^(?:({NAME})\.)?({NAME})$")
# s3://bucket/prefix/: an S3 bucket name (3-63 lowercase letters, digits, '.' and '-', no
# '..', not 'xn--') and a key prefix of whole folders, without IAM's wildcards '*' and '?'.
S3_PREFIX_RE = re.compile(
    r"^s3://((?!xn--)(?![^/]*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[A-Za-z0-9_.=-]+/)+)$"
)
# Athena's query string quota: 262,144 bytes, UTF-8 ("Service Quotas", Amazon Athena User
# Guide), the QueryString maximum (botocore).
MAX_QUERY_BYTES = 262_144
# A query's first keyword, after comments and opening parentheses: SELECT or WITH reads;
# INSERT, CREATE TABLE AS, UNLOAD, MERGE and DDL write, which MWAA may not.
READ_ONLY_RE = re.compile(r"^(?:\s+|--[^\n]*|/\*.*?\*/|\()*(select|with)\b", re.I | re.S)
# Airflow reads a templated value ending in an operator's template_ext (AthenaOperator:
# '.sql') as a template file's name (airflow/sdk/definitions/_internal/templater.py).
TEMPLATE_EXT = ".sql"
# The waiter's delay; the provider's default is 30 s.
POLL_SECONDS = 10
# Athena cancels a DML query at the account's "DML query timeout" quota, which can be raised
# to at most 240 minutes ("Service Quotas", Amazon Athena User Guide).
MAX_TIMEOUT_MINUTES = 240

# Run, follow and stop queries: each takes the workgroup as its resource ("Actions,
# resources, and condition keys for Amazon Athena", Service Authorization Reference:
# workgroup*, arn:${Partition}:athena:${Region}:${Account}:workgroup/${WorkGroupName}).
QUERY_ACTIONS = (
    "athena:GetQueryExecution",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
)
# Glue's read actions that Athena calls to plan a query on a table (AmazonAthenaFullAccess's
# read actions, on the named tables only); each needs the table, its database and the
# catalog ("Configure access to databases and tables in the AWS Glue Data Catalog", Amazon
# Athena User Guide: an action needs the resource and all its ancestors; "Actions,
# resources, and condition keys for AWS Glue": rootcatalog*, database*, table*).
TABLE_ACTIONS = (
    "glue:BatchGetPartition",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
)
# What Athena writes and reads at the query result location (the result location actions
# of "Cross-account access" in "Setting User and Amazon S3 Bucket Permissions", and of
# AmazonAthenaFullAccess, Amazon Athena User Guide).
RESULT_OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)


class AthenaStep(StepModel):
    """Run a read-only query in an Athena workgroup after the job succeeds, and wait for it."""

    type: Literal["athena"]
    sql: str = Field(
        min_length=1,
        description="The query, as its text: one SELECT (or WITH ... SELECT) statement, in "
        "Athena's SQL. Airflow renders it as a Jinja template first, so '{{ ds }}' and "
        "'{{ run_id }}' are the run's and a literal '{{' must be escaped. MWAA may only read: "
        "a statement that writes (INSERT, CREATE TABLE AS, UNLOAD, DDL) is refused, and so is "
        "text ending in '.sql', which Airflow would take for a template file's name. At most "
        "262,144 bytes.",
    )
    workgroup: str = Field(
        pattern=WORKGROUP,
        description="The Athena workgroup the query runs in (1-128 letters, digits, '.', '_' "
        "and '-', e.g. 'primary'): MWAA may start, follow and stop queries in the workgroups "
        "its steps name, and no other.",
    )
    database: str = Field(
        pattern=f"^{NAME}$",
        description="The AWS Glue Data Catalog database the query runs in: its unqualified "
        "table names are this database's.",
    )
    tables: list[str] = Field(
        min_length=1,
        description="Every table and view the query reads, as 'table' (in 'database') or "
        "'database.table', with the tables under each view: MWAA may read their catalog "
        "entries and partitions, and no other table's.",
    )
    reads: list[str] = Field(
        min_length=1,
        description="Where those tables keep their data, as s3://bucket/prefix/ (a table's "
        "LOCATION, or a folder above it; not a whole bucket): MWAA may list and read objects "
        "under these prefixes only, so a query reading elsewhere fails with Access Denied. "
        "Data under a KMS key other than the environment's data key is not readable.",
    )
    output_location: str = Field(
        description="Where Athena writes the query's results, s3://bucket/prefix/ (not a "
        "whole bucket): MWAA may write and read objects there only. A workgroup that "
        "overrides client-side settings writes to its own result location instead: give "
        "that location here. Objects under a KMS key other than the environment's data key "
        "cannot be written.",
    )
    timeout_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_TIMEOUT_MINUTES,
        description="How long the step waits for the query (polling every 10 s). A query "
        "still queued or running then fails the step but goes on: a deferred wait cannot "
        "stop it. Athena itself cancels a query at the account's DML query timeout quota, "
        "at most 240 minutes.",
    )

    @field_validator("sql")
    @classmethod
    def _read_only(cls, sql: str) -> str:
        if len(sql.encode()) > MAX_QUERY_BYTES:
            raise ValueError(
                f"the query is {len(sql.encode())} bytes; Athena accepts at most "
                f"{MAX_QUERY_BYTES} (UTF-8)"
            )
        if sql.endswith(TEMPLATE_EXT):
            raise ValueError(
                f"the query ends in {TEMPLATE_EXT!r}, which Airflow reads as the name of a "
                "template file; give the query's text, ending otherwise (e.g. with a newline)"
            )
        if not READ_ONLY_RE.match(sql):
            start = " ".join(sql.split())[:40]
            raise ValueError(
                f"{start!r} is not a read-only query: use one SELECT or WITH ... SELECT "
                "statement (MWAA may read the tables the step names, and write its results "
                "only)"
            )
        return sql

    @field_validator("tables")
    @classmethod
    def _tables(cls, tables: list[str]) -> list[str]:
        for table in tables:
            if not TABLE_RE.fullmatch(table):
                raise ValueError(
                    f"{table!r} is not a table: use 'table' or 'database.table', each name "
                    "1-255 lowercase letters, digits and '_'"
                )
        return tables

    @field_validator("reads")
    @classmethod
    def _prefixes(cls, uris: list[str]) -> list[str]:
        for uri in uris:
            s3_prefix(uri)
        return uris

    @field_validator("output_location")
    @classmethod
    def _output_location(cls, uri: str) -> str:
        s3_prefix(uri)
        return uri


class Athena(StepType):
    name = "athena"
    model = AthenaStep
    endpoints: ClassVar[dict[str, str]] = {
        "athena": "athena steps: StartQueryExecution, GetQueryExecution, StopQueryExecution"
    }

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.amazon.aws.operators.athena import AthenaOperator

        from glueflow_runtime.ids import AWS_CONN_ID

        return AthenaOperator(
            task_id=step["name"],
            query=step["sql"],
            database=step["database"],
            catalog="AwsDataCatalog",
            workgroup=step["workgroup"],
            output_location=step["output_location"],
            sleep_time=POLL_SECONDS,
            max_polling_attempts=polls(step["timeout_minutes"]),
            deferrable=True,
            aws_conn_id=AWS_CONN_ID,
            region_name=region,
        )

    def grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """Queries in the named workgroups; the catalog entries of the named tables; the
        objects under the named prefixes; the results under the output locations."""
        if not steps:
            return []
        return [
            *self._query_grants(steps, where),
            *self._catalog_grants(steps, where),
            *self._s3_grants(steps, where),
        ]

    def _query_grants(self, steps: list[Any], where: Where) -> list[Grant]:
        athena = f"arn:{where.partition}:athena:{where.region}:{where.account}"
        workgroups = sorted({f"{athena}:workgroup/{step.workgroup}" for step in steps})
        return [Grant(QUERY_ACTIONS, tuple(workgroups))]

    def _catalog_grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """The catalog, the databases and the tables the steps name. Athena also needs
        GetDatabase and CreateDatabase on the catalog and its `default` database: "For Athena
        to work with the AWS Glue Data Catalog, the following access policy to the default
        database and to the AWS Glue Data Catalog per AWS Region for GetDatabase and
        CreateDatabase must be present" ("Fine-grained access to databases and tables in the
        AWS Glue Data Catalog", Amazon Athena User Guide, section "Configure AWS Glue access
        to your catalog and database per AWS Region", formerly "Mandatory: ...")."""
        glue = f"arn:{where.partition}:glue:{where.region}:{where.account}"
        catalog = f"{glue}:catalog"
        tables = sorted({table(step, name) for step in steps for name in step.tables})
        databases = {step.database for step in steps} | {db for db, _ in tables}
        default = f"{glue}:database/default"
        return [
            Grant(
                ("glue:GetDatabase",),
                (catalog, *sorted({default} | {f"{glue}:database/{db}" for db in databases})),
            ),
            Grant(("glue:CreateDatabase",), (catalog, default)),
            Grant(
                TABLE_ACTIONS,
                (
                    catalog,
                    *sorted({f"{glue}:database/{db}" for db, _ in tables}),
                    *[f"{glue}:table/{db}/{name}" for db, name in tables],
                ),
            ),
        ]

    def _s3_grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """Read: s3:GetObject under each read prefix. Results: Athena's result actions
        under each output location and ListBucketMultipartUploads on its bucket. Both: list
        the bucket under those prefixes only (s3:ListBucket with an s3:prefix condition,
        "Actions, resources, and condition keys for Amazon S3"), and GetBucketLocation."""
        reads = sorted({s3_prefix(uri) for step in steps for uri in step.reads})
        results = sorted({s3_prefix(step.output_location) for step in steps})
        s3 = f"arn:{where.partition}:s3:::"
        grants = [
            Grant(
                RESULT_OBJECT_ACTIONS,
                tuple(f"{s3}{bucket}/{key}*" for bucket, key in results),
                why="Athena writes each athena step's results under its output location, "
                "named by query id",
            ),
            Grant(
                ("s3:GetObject",),
                tuple(f"{s3}{bucket}/{key}*" for bucket, key in reads),
                why="athena steps read their tables' objects under the prefixes they name",
            ),
        ]
        for bucket in sorted({bucket for bucket, _ in [*reads, *results]}):
            keys = sorted({f"{key}*" for b, key in [*reads, *results] if b == bucket})
            grants.append(
                Grant(("s3:ListBucket",), (f"{s3}{bucket}",), {"StringLike": {"s3:prefix": keys}})
            )
        buckets = sorted({f"{s3}{bucket}" for bucket, _ in [*reads, *results]})
        grants.append(Grant(("s3:GetBucketLocation",), tuple(buckets)))
        result_buckets = sorted({f"{s3}{bucket}" for bucket, _ in results})
        grants.append(Grant(("s3:ListBucketMultipartUploads",), tuple(result_buckets)))
        return grants

    def target(self, step: dict[str, Any]) -> str:
        return f"{step['database']} in {step['workgroup']}"

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """The workgroups, in moto's Athena, which refuses a query in a workgroup it does not
        know ('primary' it has). A query there ends at once: moto's execution goes QUEUED,
        RUNNING, SUCCEEDED, and its "immediate" progression (set here, moto's default) reads
        SUCCEEDED on the first GetQueryExecution. moto reads no table and writes no result."""
        import json
        import urllib.request

        immediate = urllib.request.Request(  # noqa: S310 - the local moto server
            f"{local.endpoint}/moto-api/state-manager/set-transition",
            data=json.dumps(
                {"model_name": "athena::execution", "transition": {"progression": "immediate"}}
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(immediate, timeout=30).close()  # noqa: S310
        athena = local.client("athena")
        known = {group["Name"] for group in athena.list_work_groups()["WorkGroups"]}
        for name in sorted({step["workgroup"] for step in steps} - known):
            athena.create_work_group(Name=name, Description="glueflow local athena steps")


def table(step: Any, name: str) -> tuple[str, str]:
    """(database, table) of a validated `tables` entry: 'table' is in the step's database."""
    database, _, name = name.rpartition(".")
    return database or step.database, name


def s3_prefix(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of s3://bucket/prefix/, or the error saying what is accepted."""
    found = S3_PREFIX_RE.fullmatch(uri)
    if not found:
        raise ValueError(
            f"{uri!r} is not an S3 prefix: use s3://bucket/prefix/, a bucket name and one or "
            "more folders each ending in '/' (letters, digits, '_', '.', '=', '-'), not a "
            "whole bucket"
        )
    return found.group(1), found.group(2)


def polls(timeout_minutes: int) -> int:
    """GetQueryExecution calls that cover `timeout_minutes`: the first at once, then one
    every POLL_SECONDS (utils/waiter_with_logging.py `async_wait`)."""
    return -(-timeout_minutes * 60 // POLL_SECONDS) + 1


STEP = Athena()

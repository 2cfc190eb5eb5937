"""Publish: make a run's output visible, by pointing its tables' partitions at the run's folders.

Write, audit, publish with Parquet and the Glue Data Catalog (docs/architecture.md, decision
15). A Glue run writes each table under `<location>runs/<Glue run id>/`, where no reader looks,
and lists in its report every partition it wrote. After the gate passes, this module points
the table's catalog partitions there: readers (Athena, Redshift Spectrum, Glue jobs reading the
table) see the run's rows from then on, and not before. Data is never copied or rewritten.

What a run replaces, per table:
- `source_object`: every partition of the run's source object (the `source_id` partition
  column, one value per bucket and key). Partitions the new version wrote are created or
  repointed; partitions only an earlier version had are dropped. The same object version
  published again (a retry, a redelivery, a replay, a cleared task) changes nothing: every
  partition already names that version.
- `partitions`: each partition the run wrote is created or repointed, wholly; a partition
  the run found has no input left (`dropped`) is dropped.

Each partition changes in one catalog write, so a reader sees a partition's rows from one run,
never a mix. The partitions of one publish are written in batches (BatchCreatePartition and
BatchUpdatePartition take 100 entries, BatchDeletePartition 25: AWS Glue API reference); a
reader that lists the table between two batches can see some partitions of the new version
and some of the old. Rows of two source objects never share a partition, so two runs, of one
job or two, never lose each other's rows.

Standard library and boto3 only: MWAA runs it in the DAG's publish and gate tasks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from glueflow_runtime.validation_report import SOURCE_PARTITION, TableWritten

log = logging.getLogger(__name__)

CREATE_BATCH = 100  # BatchCreatePartition: PartitionInputList, at most 100
UPDATE_BATCH = 100  # BatchUpdatePartition: Entries, at most 100
DELETE_BATCH = 25  # BatchDeletePartition: PartitionsToDelete, at most 25
GET_BATCH = 1000  # BatchGetPartition: PartitionsToGet, at most 1000
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Partition parameters: which run a partition's folder is from, and for which source version.
RUN_PARAMETER = "glueflow.run_id"
VERSION_PARAMETER = "glueflow.source_version"
ROWS_PARAMETER = "glueflow.rows"


class PublishError(RuntimeError):
    """The catalog refused part of a publish; what was written stays, and a retry finishes it."""


@dataclass(frozen=True)
class Published:
    """What one table's publish did."""

    table: str
    rows: int  # the run's rows now visible in the table
    created: int
    updated: int
    dropped: int
    unchanged: bool = False  # the same source version was published already

    def line(self) -> str:
        if self.unchanged:
            return f"{self.table}: unchanged, this source version is published already"
        return (
            f"{self.table}: {self.rows} rows published ({self.created} partitions added, "
            f"{self.updated} replaced, {self.dropped} dropped)"
        )


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _values(values: list[str | None]) -> list[str]:
    return [DEFAULT_PARTITION if v is None else v for v in values]


def _existing(glue: Any, database: str, written: TableWritten) -> dict[tuple[str, ...], dict]:
    """The table's partitions this publish replaces, by values."""
    if written.replace == "source_object":
        source_id = (written.source or {}).get("id")
        if not source_id:
            raise PublishError(f"{written.table}: the run's report names no source_id")
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName=database,
            TableName=written.table,
            Expression=f"{SOURCE_PARTITION} = '{source_id}'",
        )
        found = [p for page in pages for p in page["Partitions"]]
    else:
        found = []
        wanted = [{"Values": _values(p.values)} for p in written.partitions]
        for chunk in _chunks(wanted, GET_BATCH):
            answer = glue.batch_get_partition(
                DatabaseName=database, TableName=written.table, PartitionsToGet=chunk
            )
            found += answer.get("Partitions", [])
    return {tuple(p["Values"]): p for p in found}


def publish_table(glue: Any, database: str, written: TableWritten, run_id: str) -> Published:
    """Point `written.table`'s partitions at the run's folders (see the module doc)."""
    table = glue.get_table(DatabaseName=database, Name=written.table)["Table"]
    descriptor = table["StorageDescriptor"]
    source = written.source or {}
    version = source.get("version_id")
    existing = _existing(glue, database, written)
    new = {tuple(_values(p.values)): p for p in written.partitions}
    versions = {p.get("Parameters", {}).get(VERSION_PARAMETER) for p in existing.values()}
    if (
        written.replace == "source_object"
        and version
        and set(existing) == set(new)
        and versions == {version}
    ):
        return Published(written.table, 0, 0, 0, 0, unchanged=True)

    def partition_input(values: tuple[str, ...]) -> dict[str, Any]:
        part = new[values]
        return {
            "Values": list(values),
            "StorageDescriptor": {
                **{
                    k: descriptor[k]
                    for k in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo")
                    if k in descriptor
                },
                "Location": f"{written.location}{part.path}",
            },
            "Parameters": {
                **part.parameters,
                RUN_PARAMETER: run_id,
                ROWS_PARAMETER: str(part.rows),
                **({VERSION_PARAMETER: version} if version else {}),
                **({"glueflow.source_uri": source["uri"]} if source.get("uri") else {}),
            },
        }

    create = [v for v in new if v not in existing]
    update = [v for v in new if v in existing]
    drop = [v for v in existing if v not in new]
    # A partitions-replaced table: the partitions the run found have no input left.
    drop += [tuple(v) for v in written.dropped if tuple(v) not in new and tuple(v) not in drop]
    for chunk in _chunks(create, CREATE_BATCH):
        answer = glue.batch_create_partition(
            DatabaseName=database,
            TableName=written.table,
            PartitionInputList=[partition_input(v) for v in chunk],
        )
        for error in answer.get("Errors", []):
            # Another publish created it since we looked: replace it instead.
            if error["ErrorDetail"].get("ErrorCode") == "AlreadyExistsException":
                update.append(tuple(error["PartitionValues"]))
            else:
                raise PublishError(f"{written.table}: BatchCreatePartition: {error}")
    for chunk in _chunks(update, UPDATE_BATCH):
        answer = glue.batch_update_partition(
            DatabaseName=database,
            TableName=written.table,
            Entries=[
                {"PartitionValueList": list(v), "PartitionInput": partition_input(v)} for v in chunk
            ],
        )
        if answer.get("Errors"):
            raise PublishError(f"{written.table}: BatchUpdatePartition: {answer['Errors']}")
    for chunk in _chunks(drop, DELETE_BATCH):
        answer = glue.batch_delete_partition(
            DatabaseName=database,
            TableName=written.table,
            PartitionsToDelete=[{"Values": list(v)} for v in chunk],
        )
        errors = [
            e
            for e in answer.get("Errors", [])
            if e["ErrorDetail"].get("ErrorCode") != "EntityNotFoundException"
        ]
        if errors:
            raise PublishError(f"{written.table}: BatchDeletePartition: {errors}")
    return Published(written.table, written.rows, len(create), len(update), len(drop))


def publish_all(
    glue: Any, database: str, tables: list[TableWritten], run_id: str
) -> list[Published]:
    """Publish each table of a run, in the report's order, logging what each did."""
    done = []
    for written in tables:
        published = publish_table(glue, database, written, run_id)
        log.info("published %s", published.line())
        done.append(published)
    return done


def glue_client(aws_conn_id: str | None, region_name: str) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(
        aws_conn_id=aws_conn_id, client_type="glue", region_name=region_name
    ).get_conn()


def run_publish(
    *,
    report_prefix: str,
    database: str,
    glue_task_id: str,
    aws_conn_id: str | None,
    region_name: str,
    ti: Any,
    **_: Any,
) -> dict[str, Any]:
    """The publish task: the run's tables (not its quarantine, which the gate publishes).

    Its XCom, for the run's record: per table, the rows this run made visible."""
    from glueflow_runtime.gate import read_report

    run_id = ti.xcom_pull(task_ids=glue_task_id)
    report = read_report(report_prefix, run_id, aws_conn_id, region_name)
    tables = [t for t in report.tables if not t.quarantine]
    done = publish_all(glue_client(aws_conn_id, region_name), database, tables, run_id)
    return {p.table: {"rows": p.rows, "unchanged": p.unchanged} for p in done}

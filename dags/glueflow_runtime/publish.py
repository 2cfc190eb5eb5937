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

Once its tables are published, the publish task says so: one `Table Published` event per
table on the environment's default bus (`announce`, docs/architecture.md, decision 20), which
other deployments' jobs start from. It fails, and Airflow retries it, when an event is not
accepted: the publish itself is repeated harmlessly (the same partitions point at the same run's
folders again), and a lost event would leave a consumer waiting for a run that never starts.

Standard library and boto3 only: MWAA runs it in the DAG's publish and gate tasks.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from glueflow_runtime.validation_report import RUNS_FOLDER, SOURCE_PARTITION, TableWritten

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
    announce_as: dict[str, Any] | None = None,
    run_id: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The publish task: the run's tables (not its quarantine, which the gate publishes), then
    a Table Published event for each (`announce_as`: the environment and DAG, from the
    manifest; `run_id`: the DAG run's, from Airflow's context).

    Its XCom, for the run's record: per table, the rows this run made visible."""
    from glueflow_runtime.gate import read_report

    glue_run_id = ti.xcom_pull(task_ids=glue_task_id)
    report = read_report(report_prefix, glue_run_id, aws_conn_id, region_name)
    tables = [t for t in report.tables if not t.quarantine]
    done = publish_all(glue_client(aws_conn_id, region_name), database, tables, glue_run_id)
    if announce_as is not None and tables:
        entries = [
            table_published_entry(announce_as, written, published, run_id or "", glue_run_id)
            for written, published in zip(tables, done, strict=True)
        ]
        announce(events_client(aws_conn_id, region_name), entries)
    return {p.table: {"rows": p.rows, "unchanged": p.unchanged} for p in done}


# --- Table Published events (docs/architecture.md, decision 20) ---------------------------------

EVENT_SOURCE = "glueflow"  # configs/naming.py: TABLE_EVENT_SOURCE
EVENT_DETAIL_TYPE = "Table Published"  # configs/naming.py: TABLE_PUBLISHED
# PutEvents takes at most 10 entries a request ("Amazon EventBridge quotas"), of at most 256 KB
# together ("Calculating Amazon EventBridge PutEvents event entry size"): a detail lists at most
# this many partitions, so that ten entries always fit, and says how many there were.
MAX_EVENT_PARTITIONS = 100
PUT_EVENTS_BATCH = 10
# Entries EventBridge did not accept are sent again this many times, after these pauses, before
# the task fails (Airflow's retry then runs it again).
PUT_EVENTS_ATTEMPTS = 3
PUT_EVENTS_PAUSE_S = 1.0


class EventNotSent(RuntimeError):
    """EventBridge did not accept a Table Published event: the task fails, and its retry
    publishes again (no change) and sends the event again."""


def table_location(written: TableWritten) -> str:
    """The table's own location: the run's folder is `<location>runs/<Glue run id>/`."""
    cut = written.location.rfind(RUNS_FOLDER)
    return written.location[:cut] if cut >= 0 else written.location


def table_published_entry(
    announce_as: dict[str, Any],
    written: TableWritten,
    published: Published,
    run_id: str,
    glue_run_id: str | None,
) -> dict[str, Any]:
    """One PutEvents entry: which table of which environment, which run, and where its rows are.

    `announce_as` is the manifest's: environment, name_prefix, account, region, partition,
    database, dag_id. A consumer's trigger starts its run with an id derived from the account,
    name_prefix, environment, table, DAG, run id and Glue run id, so the same publish announced
    twice (a retried task) starts one run there."""
    env = announce_as
    partitions = [list(p.values) for p in written.partitions]
    detail = {
        "environment": env["environment"],
        "name_prefix": env["name_prefix"],
        "account": env["account"],
        "region": env["region"],
        "database": env["database"],
        "table": written.table,
        "dag_id": env["dag_id"],
        "run_id": run_id,
        "glue_run_id": glue_run_id,
        "location": table_location(written),
        "run_location": written.location,
        "replace": written.replace,
        "partition_columns": list(written.partition_columns),
        "partitions": partitions[:MAX_EVENT_PARTITIONS],
        "partition_count": len(partitions),
        "partitions_truncated": len(partitions) > MAX_EVENT_PARTITIONS,
        "dropped": [list(v) for v in written.dropped][:MAX_EVENT_PARTITIONS],
        "rows": written.rows,
        # The same source version was published already: the table did not change.
        "unchanged": published.unchanged,
    }
    table_arn = (
        f"arn:{env['partition']}:glue:{env['region']}:{env['account']}:table/"
        f"{env['database']}/{written.table}"
    )
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": json.dumps(detail, sort_keys=True),
        "Resources": [table_arn],
    }


def announce(events: Any, entries: list[dict[str, Any]], sleep: Any = None) -> None:
    """PutEvents on the caller's default bus (no EventBusName: this environment's, as MWAA's
    role is this account's). A request answers 200 with per-entry failures: `FailedEntryCount`,
    and `ErrorCode`/`ErrorMessage` on each failed entry, in the request's order ("PutEvents",
    Amazon EventBridge API Reference; "Sending events with PutEvents", EventBridge User Guide:
    "You must detect unsuccessful entries and include them in a subsequent call"). Those are
    sent again; what is still refused fails the task."""
    for start in range(0, len(entries), PUT_EVENTS_BATCH):
        pending = entries[start : start + PUT_EVENTS_BATCH]
        for attempt in range(1, PUT_EVENTS_ATTEMPTS + 1):
            answer = events.put_events(Entries=pending)
            results = answer.get("Entries", [])
            failed = [
                (entry, result)
                for entry, result in zip(pending, results, strict=False)
                if result.get("ErrorCode") or not result.get("EventId")
            ]
            if not answer.get("FailedEntryCount") and not failed:
                for entry, result in zip(pending, results, strict=False):
                    log.info("announced %s (event %s)", _table_of(entry), result.get("EventId"))
                break
            if attempt == PUT_EVENTS_ATTEMPTS:
                reasons = "; ".join(
                    f"{_table_of(entry)}: {result.get('ErrorCode')} {result.get('ErrorMessage')}"
                    for entry, result in failed
                )
                raise EventNotSent(
                    f"EventBridge did not accept {len(failed) or answer.get('FailedEntryCount')} "
                    f"Table Published event(s) after {attempt} attempts "
                    f"({reasons or 'FailedEntryCount ' + str(answer.get('FailedEntryCount'))}); "
                    "the tables are published, and a retry of this task announces them again"
                )
            log.warning("EventBridge refused %d of %d events; sending them again",
                        len(failed), len(pending))  # fmt: skip
            pending = [entry for entry, _ in failed] or pending
            (sleep or time.sleep)(PUT_EVENTS_PAUSE_S * attempt)


def _table_of(entry: dict[str, Any]) -> str:
    return json.loads(entry["Detail"]).get("table", "?")


def events_client(aws_conn_id: str | None, region_name: str) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(
        aws_conn_id=aws_conn_id, client_type="events", region_name=region_name
    ).get_conn()

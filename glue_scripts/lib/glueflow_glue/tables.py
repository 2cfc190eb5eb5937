"""Write a run's output where no reader looks; read another job's published table.

Write, audit, publish (docs/architecture.md, decision 15):

- `write_table(run, df)` writes the run's rows under `<table location>runs/<Glue run id>/`,
  partitioned as the config declares. Nothing reads there: readers read the table in the Glue
  Data Catalog, whose partitions point at the folders of published runs only. A table replaced
  by source object gets one more partition column, `source_id`, one value per source object
  (bucket and key), so a run's rows never share a folder with another object's.
- The run's report (`glueflow_runtime.validation_report`) lists each partition the run wrote,
  its folder and its rows. After the gate passes, the DAG's publish task points the catalog's
  partitions at them (`glueflow_runtime.publish`). A failed attempt, or a run the gate
  rejects, is never pointed at: it stays in its own folder, which the alert names.
- Rows that fail the checks go to `<table location>quarantine/runs/<Glue run id>/`, with their
  reasons; the gate publishes them to the `<table>_quarantine` table, whether or not it passes.
- `read_table(spark, run, index)` reads an input that is another job's table: the partitions the
  catalog lists (glue:GetPartitions), never the folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from glueflow_runtime.validation_report import (
    INPUT_PARAMETER,
    RUNS_FOLDER,
    SOURCE_PARTITION,
    PartitionWritten,
    TableWritten,
)

QUARANTINE_FOLDER = "quarantine/"
QUARANTINE_COLUMNS = ("record", "reasons", "source_uri", "glue_run_id")
# Spark's partition directory names (ExternalCatalogUtils.escapePathName and
# DEFAULT_PARTITION_NAME, sql/catalyst/.../catalog/ExternalCatalogUtils.scala): these
# characters become %XX, and a null or empty value is the default partition.
_ESCAPED = frozenset("\"#%'*/:=?\\\x7f{[]^") | frozenset(chr(c) for c in range(0x20))
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


class SchemaMismatch(ValueError):
    """The rows a script writes do not have the columns and types its table declares."""


@dataclass(frozen=True)
class TableSpec:
    """One output table, as the stacks pass it in `--glueflow-tables`."""

    uri: str
    table: str
    columns: dict[str, str]
    partitioned_by: list[str]
    replace: str
    quarantine_table: str | None = None

    @property
    def partition_columns(self) -> list[str]:
        """The partition columns as written: the declared ones, then source_id when the table
        is replaced by source object."""
        extra = [SOURCE_PARTITION] if self.replace == "source_object" else []
        return [*self.partitioned_by, *extra]


@dataclass
class Ledger:
    """What a run wrote, in order: the report's `tables`."""

    written: list[TableWritten] = field(default_factory=list)


def parse_tables(text: str | None) -> tuple[str | None, list[TableSpec], dict[str, str]]:
    """(catalog database, output tables, input table by location) from `--glueflow-tables`."""
    if not text:
        return None, [], {}
    data = json.loads(text)
    outputs = [TableSpec(**spec) for spec in data.get("outputs", [])]
    inputs = {item["uri"]: item["table"] for item in data.get("inputs", []) if item.get("table")}
    return data.get("database"), outputs, inputs


def source_id(source_uri: str) -> str:
    """The source_id partition value of an object: the same for every version of a key."""
    return hashlib.sha256(source_uri.encode()).hexdigest()[:16]


def escape_path_name(value: str) -> str:
    """One partition value as Spark names its directory."""
    if value == "":
        return DEFAULT_PARTITION
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


def partition_path(columns: list[str], values: list[str | None]) -> str:
    """`col=value/...` of a partition, as Spark writes it."""
    return "".join(
        f"{escape_path_name(c)}={DEFAULT_PARTITION if v is None else escape_path_name(v)}/"
        for c, v in zip(columns, values, strict=True)
    )


def check_schema(df: Any, spec: TableSpec) -> None:
    """Refuse rows whose columns or types differ from the table's declaration, naming each
    difference: the catalog table is what readers see, so the files must match it."""
    have = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    problems = [
        f"{name}: declared {kind}, written {have.get(name, 'missing')}"
        for name, kind in spec.columns.items()
        if have.get(name) != kind
    ]
    problems += [f"{name}: written but not declared" for name in have if name not in spec.columns]
    if problems:
        raise SchemaMismatch(
            f"{spec.table}: the rows differ from the table's columns in the job config "
            f"({'; '.join(problems)}); change the script or the config's columns"
        )


def _write(
    df: Any,
    folder: str,
    partition_columns: list[str],
    parameters: dict[tuple[str | None, ...], dict[str, str]] | None = None,
) -> list[PartitionWritten]:
    from pyspark.sql import functions as F

    df = df.cache()
    counts = (
        df.groupBy(*[F.col(c).cast("string").alias(c) for c in partition_columns]).count().collect()
    )
    df.write.mode("errorifexists").partitionBy(*partition_columns).parquet(folder)
    df.unpersist()
    partitions = [
        PartitionWritten(
            values=[row[c] if row[c] is not None else None for c in partition_columns],
            path=partition_path(partition_columns, [row[c] for c in partition_columns]),
            rows=int(row["count"]),
            parameters=(parameters or {}).get(tuple(row[c] for c in partition_columns), {}),
        )
        for row in counts
    ]
    return sorted(partitions, key=lambda p: p.path)


def write_table(run: Any, df: Any, index: int = 0) -> TableWritten:
    """Write `df` as the run's output for its `index`th table, where no reader looks yet.

    `df` has exactly the table's declared columns (partition columns included), with the
    declared types; anything else fails the run with the differences (SchemaMismatch)."""
    from pyspark.sql import functions as F

    spec = run.tables[index]
    check_schema(df, spec)
    data = [c for c in spec.columns if c not in spec.partitioned_by]
    ordered = df.select(*data, *spec.partitioned_by)
    if spec.replace == "source_object":
        ordered = ordered.withColumn(SOURCE_PARTITION, F.lit(run.source_id))
    folder = f"{spec.uri}{RUNS_FOLDER}{run.run_id}/"
    changed = run.changed.get(index)
    written = TableWritten(
        table=spec.table,
        location=folder,
        partition_columns=spec.partition_columns,
        replace=spec.replace,
        partitions=_write(
            ordered, folder, spec.partition_columns, changed.parameters if changed else None
        ),
        source={**(run.source or {}), "id": run.source_id},
        dropped=[list(v) for v in changed.gone] if changed else [],
    )
    run.ledger.written.append(written)
    print(f"glueflow: wrote {written.rows} rows of {spec.table} to {folder}", flush=True)
    return written


def write_quarantine(run: Any, rejected: Any, index: int = 0) -> TableWritten | None:
    """Write the rejected rows (a `record` JSON text and its `reasons`) for the `index`th
    table's quarantine table, partitioned by source_id: published whatever the gate says."""
    from pyspark.sql import functions as F

    spec = run.tables[index] if len(run.tables) > index else None
    if spec is None or spec.quarantine_table is None:
        return None
    folder = f"{spec.uri}{QUARANTINE_FOLDER}{RUNS_FOLDER}{run.run_id}/"
    rows = rejected.select(
        "record",
        "reasons",
        F.lit(run.source.get("uri") if run.source else None).cast("string").alias("source_uri"),
        F.lit(run.run_id).alias("glue_run_id"),
        F.lit(run.source_id).alias(SOURCE_PARTITION),
    )
    written = TableWritten(
        table=spec.quarantine_table,
        location=folder,
        partition_columns=[SOURCE_PARTITION],
        replace="source_object",
        partitions=_write(rows, folder, [SOURCE_PARTITION]),
        source={**(run.source or {}), "id": run.source_id},
        quarantine=True,
    )
    run.ledger.written.append(written)
    print(
        f"glueflow: quarantined {written.rows} rows in {spec.quarantine_table} at {folder}",
        flush=True,
    )
    return written


@dataclass
class Changed:
    """What `read_changed` found, for the output it feeds: the input fingerprint of each
    partition it recomputes (set on the partition when published), and the partitions whose
    input is gone (dropped when published)."""

    parameters: dict[tuple[str | None, ...], dict[str, str]] = field(default_factory=dict)
    gone: list[tuple[str, ...]] = field(default_factory=list)


def _partitions(glue: Any, database: str, table: str) -> list[dict[str, Any]]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
    return [p for page in pages for p in page["Partitions"]]


def read_changed(spark: Any, run: Any, index: int, by: str, output: int = 0) -> Any:
    """The published rows of the `index`th input for only the values of its partition column
    `by` whose input changed since the `output`th table last published them; None when none
    did. The output must be partitioned by `by` alone and replaced by partition.

    Changed is decided from the catalog, not from clocks: each output partition records, when
    published, a fingerprint of the input partitions (their folders, which name the run that
    wrote them) it was computed from. A value whose input partitions now differ (a new file,
    a new version of one, a file that no longer has that value) is recomputed; a value with
    no input left is dropped from the output when the run is published. A run the gate stops
    publishes nothing, so its values are recomputed next time."""
    import boto3

    uri = run.inputs[index]
    table = run.input_tables.get(uri)
    spec = run.tables[output]
    if table is None or spec.partitioned_by != [by] or spec.replace != "partitions":
        raise ValueError(
            f"read_changed: input {uri} must be a table of this environment, and output "
            f"{spec.table} partitioned by [{by!r}] alone with replace: partitions"
        )
    glue = boto3.client("glue")
    inputs = _partitions(glue, run.database, table)
    keys = [k["Name"] for k in glue.get_table(DatabaseName=run.database, Name=table)["Table"][
        "PartitionKeys"]]  # fmt: skip
    if by not in keys:
        raise ValueError(f"read_changed: {table} is not partitioned by {by!r} ({keys})")
    position = keys.index(by)
    folders: dict[str, list[str]] = {}
    for partition in inputs:
        value = partition["Values"][position]
        folders.setdefault(value, []).append(partition["StorageDescriptor"]["Location"])
    fingerprints = {
        value: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:32]
        for value, found in folders.items()
    }
    published = {
        p["Values"][0]: p.get("Parameters", {}).get(INPUT_PARAMETER)
        for p in _partitions(glue, run.database, spec.table)
    }
    changed = sorted(v for v, fp in fingerprints.items() if published.get(v) != fp)
    run.changed[output] = Changed(
        parameters={(v,): {INPUT_PARAMETER: fingerprints[v]} for v in changed},
        gone=[(v,) for v in sorted(published) if v not in fingerprints],
    )
    print(
        f"glueflow: {table}: {len(changed)} of {len(fingerprints)} {by} values changed "
        f"since {spec.table} was published; {len(run.changed[output].gone)} have no input left",
        flush=True,
    )
    if not changed:
        return None
    keys = glue.get_table(DatabaseName=run.database, Name=table)["Table"]["PartitionKeys"]
    return read_partitions(spark, sorted(loc for v in changed for loc in folders[v]), keys)


def read_partitions(spark: Any, locations: list[str], keys: list[dict[str, str]]) -> Any:
    """The rows of partition folders, with their partition columns (`keys`: the catalog's
    PartitionKeys, Name and Type) taken from each file's path (`col=value/`).

    Not Spark's partition discovery: folders of different runs (`runs/<id>/...`) have
    different roots, which it refuses ("Conflicting directory structures"). Given the folders
    themselves, Spark reads their files as they are, and `_metadata.file_path` (Spark's file
    metadata column, 3.3 and later) gives each row's path."""
    from pyspark.sql import functions as F

    frame = spark.read.parquet(*locations)
    path = F.col("_metadata.file_path")
    for key in keys:
        name = key["Name"]
        value = F.regexp_extract(path, f"/{re.escape(name)}=([^/]*)/", 1)
        # Undo escape_path_name: %XX back to its character (url_decode, Spark 3.4 and later,
        # would also read '+' as a space, which Spark never escapes: so '+' is kept).
        value = F.url_decode(F.regexp_replace(value, r"\+", "%2B"))
        value = F.when(value == DEFAULT_PARTITION, F.lit(None)).otherwise(value)
        frame = frame.withColumn(name, value.cast(key["Type"]))
    return frame


def read_table(spark: Any, run: Any, index: int) -> Any:
    """The published rows of the `index`th input, another job's table: the partitions the
    catalog lists, with their partition columns. None when nothing is published yet."""
    import boto3

    uri = run.inputs[index]
    table = run.input_tables.get(uri)
    if table is None:
        raise ValueError(
            f"input {uri} is not a table of this environment; read it with spark.read, or "
            "declare the job that writes it"
        )
    glue = boto3.client("glue")
    partitions = _partitions(glue, run.database, table)
    if not partitions:
        return None
    keys = glue.get_table(DatabaseName=run.database, Name=table)["Table"]["PartitionKeys"]
    return read_partitions(
        spark, sorted(p["StorageDescriptor"]["Location"] for p in partitions), keys
    )

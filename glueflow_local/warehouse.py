"""The tables a local run published, as a catalog reader sees them, kept to count and to query.

`export` copies, for every table of the environment's catalog database, the files of the
partitions the catalog lists (and nothing else: a run's folder that was never published is not
a table's) to `<workdir>/warehouse/<database>/<table>/<col>=<value>/...`, with `catalog.json`
(each table's columns, partition keys and partitions, with the run each came from). The local
run's moto ends with it; this stays.

`connect` opens DuckDB on that copy with one view per table, named as in the catalog
(`<database>.<table>`): `make query ENV=dev SQL="select ..."`.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

CATALOG_FILE = "catalog.json"
RUN_PARAMETER = "glueflow.run_id"  # dags/glueflow_runtime/publish.py sets it on each partition

# Glue/Hive column types as DuckDB names them ("Data types in Amazon Athena"; DuckDB's data
# types); decimal(p,s) and array<t> are handled in duck_type.
_DUCK = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


def duck_type(hive: str) -> str:
    """A catalog column type as DuckDB spells it."""
    if match := re.fullmatch(r"array<(.+)>", hive):
        return f"{duck_type(match.group(1))}[]"
    if hive.startswith("decimal("):
        return hive.upper()
    return _DUCK[hive]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def export(glue: Any, s3: Any, database: str, target: Path) -> dict[str, Any]:
    """Copy the published partitions of every table of `database` under `target`; the catalog
    as written to `target/catalog.json`."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    catalog: dict[str, Any] = {"database": database, "tables": {}}
    tables = [
        t for page in glue.get_paginator("get_tables").paginate(DatabaseName=database)
        for t in page["TableList"]
    ]  # fmt: skip
    for table in sorted(tables, key=lambda t: t["Name"]):
        name = table["Name"]
        keys = [(k["Name"], k["Type"]) for k in table.get("PartitionKeys", [])]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        partitions = []
        pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
        for partition in (p for page in pages for p in page["Partitions"]):
            folder = "/".join(
                f"{k}={urllib.parse.quote(v, safe='')}"
                for (k, _), v in zip(keys, partition["Values"], strict=True)
            )
            bucket, prefix = _split(partition["StorageDescriptor"]["Location"])
            files = 0
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rest = obj["Key"][len(prefix) :]
                    # The partition's own data files; Spark's markers start with _ or .
                    if "/" in rest or rest.startswith(("_", ".")) or not rest:
                        continue
                    local = target / name / folder / rest
                    local.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(local))
                    files += 1
            partitions.append(
                {
                    "values": partition["Values"],
                    "folder": folder,
                    "files": files,
                    "run_id": partition.get("Parameters", {}).get(RUN_PARAMETER),
                }
            )
        catalog["tables"][name] = {
            "columns": columns,
            "partition_keys": keys,
            "partitions": sorted(partitions, key=lambda p: p["folder"]),
        }
    (target / CATALOG_FILE).write_text(json.dumps(catalog, indent=1), encoding="utf-8")
    return catalog


def _files(target: Path, table: str, partitions: list[dict[str, Any]]) -> list[str]:
    return sorted(
        str(f)
        for p in partitions
        if p["files"]
        for f in (target / table / p["folder"]).glob("*")
        if f.is_file()
    )


def connect(target: Path) -> Any:
    """DuckDB over the exported tables: a view per table, `<database>.<table>`."""
    import duckdb

    catalog = json.loads((target / CATALOG_FILE).read_text(encoding="utf-8"))
    database = catalog["database"]
    con = duckdb.connect()
    con.execute(f'CREATE SCHEMA "{database}"')
    for name, table in catalog["tables"].items():
        columns = [*table["columns"], *table["partition_keys"]]
        files = _files(target, name, table["partitions"])
        view = f'"{database}"."{name}"'
        names = ", ".join(f'"{c}"' for c, _ in columns)
        if not files:
            typed = ", ".join(f'CAST(NULL AS {duck_type(t)}) AS "{c}"' for c, t in columns)
            con.execute(f"CREATE VIEW {view} AS SELECT {typed} WHERE false")
            continue
        hive_types = {k: duck_type(t) for k, t in table["partition_keys"]}
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        # Names from the catalog (validated at synth), paths quoted: nothing from a user.
        con.execute(
            f"CREATE VIEW {view} AS SELECT {names} FROM read_parquet([{listed}], "  # noqa: S608
            f"hive_partitioning = true, hive_types = {_struct(hive_types)}, union_by_name = true)"
        )
    return con


def _struct(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in mapping.items()) + "}"


def count(target: Path, table: str, run_id: str | None = None) -> int:
    """Rows of a published table, or of its partitions that `run_id` published."""
    catalog = json.loads((target / CATALOG_FILE).read_text(encoding="utf-8"))
    partitions = catalog["tables"][table]["partitions"]
    if run_id is not None:
        partitions = [p for p in partitions if p["run_id"] == run_id]
    files = _files(target, table, partitions)
    if not files:
        return 0
    import duckdb

    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    query = f"SELECT count(*) FROM read_parquet([{listed}])"  # noqa: S608 - our paths, quoted
    return int(duckdb.connect().execute(query).fetchall()[0][0])

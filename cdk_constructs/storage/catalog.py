"""The Glue Data Catalog: one database per environment, a table per job output.

A table is Parquet at its declared location, partitioned as its config says (plus `source_id`
when a run replaces what its source object contributed). Its partitions are added by the
DAG's publish task, pointing at the folders of published runs (docs/architecture.md,
decision 15); CloudFormation owns the table's definition, so a column change shows in
`cdk diff` and `make review`.

Storage formats as the catalog and Athena name them for Parquet: "Parquet SerDe", Athena User
Guide (`ParquetHiveSerDe`, `MapredParquetInputFormat`, `MapredParquetOutputFormat`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_glue as glue
from constructs import Construct

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def catalog_database(
    scope: Construct, id_: str, *, account: str, name: str, description: str
) -> glue.CfnDatabase:
    """The environment's catalog database."""
    return glue.CfnDatabase(
        scope,
        id_,
        catalog_id=account,
        database_input=glue.CfnDatabase.DatabaseInputProperty(name=name, description=description),
    )


def parquet_table(
    scope: Construct,
    id_: str,
    *,
    account: str,
    database: str,
    name: str,
    location: str,
    columns: Mapping[str, str],
    partition_keys: Mapping[str, str],
    description: str,
    parameters: Mapping[str, str],
) -> glue.CfnTable:
    """An external Parquet table: `columns` in the files, `partition_keys` in the folders."""
    return glue.CfnTable(
        scope,
        id_,
        catalog_id=account,
        database_name=database,
        table_input=glue.CfnTable.TableInputProperty(
            name=name,
            description=description[:2048],
            table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet", "EXTERNAL": "TRUE", **parameters},
            partition_keys=[
                glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in partition_keys.items()
            ],
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                location=location,
                columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns.items()],
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                serde_info=glue.CfnTable.SerdeInfoProperty(
                    serialization_library=PARQUET_SERDE,
                    parameters={"serialization.format": "1"},
                ),
            ),
        ),
    )

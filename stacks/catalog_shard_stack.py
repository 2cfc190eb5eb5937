"""One catalog shard: the Glue Data Catalog tables of the jobs of one job shard.

A stack of its own, beside the job shard's: at 2,000 jobs a shard's 80 jobs already hold 401
resources, and two tables per job (the output and its quarantine) would pass CloudFormation's
500 ("Quotas", AWS CloudFormation User Guide). A table's definition is CloudFormation's, so a
column change shows in `cdk diff` and `make review`; its partitions are the publish task's
(docs/architecture.md, decision 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from constructs import Construct

from cdk_constructs.storage.catalog import parquet_table
from configs import naming
from configs.models import SOURCE_PARTITION, EnvironmentConfig, JobConfig

# A quarantined row: the row as read (JSON text), why it was rejected, where it came from
# (glueflow_glue.tables.write_quarantine writes these columns).
QUARANTINE_COLUMNS = {
    "record": "string",
    "reasons": "array<string>",
    "source_uri": "string",
    "glue_run_id": "string",
}


class CatalogShardStack(Stack):
    """The tables first written (by job name) by the jobs of one shard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        environment: EnvironmentConfig,
        jobs: Mapping[str, JobConfig],
        tables: Mapping[tuple[str, str], tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        cfg = environment
        self._tables = tables
        self._database = naming.catalog_database_name(cfg.name_prefix, env_name)
        self._account = cfg.account
        self._bucket = lambda key: naming.data_bucket_name(cfg, env_name, key)
        self.tables: dict[str, glue.CfnTable] = {}
        for name, job in sorted(jobs.items()):
            self._create_tables(name, job)

    def _create_tables(self, name: str, job: JobConfig) -> None:
        """The catalog tables this job is the first (by name) to write, and the quarantine
        table of each when the job has a validation gate."""
        for out in job.outputs:
            if self._tables[(out.bucket, out.prefix)][1] != name or out.table in self.tables:
                continue
            location = f"s3://{self._bucket(out.bucket)}/{out.prefix}"
            partition_keys = {c: out.columns[c] for c in out.partitioned_by}
            if out.replace == "source_object":
                partition_keys[SOURCE_PARTITION] = "string"
            common = {"account": self._account, "database": self._database}
            self.tables[out.table] = parquet_table(
                self,
                f"{_construct_id(out.table)}Table",
                **common,
                name=out.table,
                location=location,
                columns={c: t for c, t in out.columns.items() if c not in out.partitioned_by},
                partition_keys=partition_keys,
                description=f"Written by {name}: {job.description}",
                parameters={"glueflow:job": name, "glueflow:replace": out.replace},
            )
            if job.validation:
                quarantine = naming.quarantine_table_name(out.table)
                self.tables[quarantine] = parquet_table(
                    self,
                    f"{_construct_id(quarantine)}Table",
                    **common,
                    name=quarantine,
                    location=f"{location}{naming.QUARANTINE_FOLDER}",
                    columns=QUARANTINE_COLUMNS,
                    partition_keys={SOURCE_PARTITION: "string"},
                    description=f"Rows {name} rejected from {out.table}, with their reasons",
                    parameters={"glueflow:job": name, "glueflow:quarantine-of": out.table},
                )


def _construct_id(name: str) -> str:
    """A stable construct id per table: its logical id never changes while its name does not."""
    return "".join(part.capitalize() for part in name.split("_"))

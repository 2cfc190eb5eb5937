"""The Glue Data Catalog in the templates: one database per environment, a table per job
output and per gated output's quarantine, with the config's columns and partitions, and job
roles that may read only the tables they use.

Resource shapes are CloudFormation's "AWS::Glue::Database" and "AWS::Glue::Table"
(DatabaseInput, TableInput: StorageDescriptor, PartitionKeys), AWS CloudFormation User Guide;
the Parquet SerDe and formats as Athena names them ("Parquet SerDe", Amazon Athena User Guide).
"""

from __future__ import annotations

from typing import Any

from tests.synth import Synthesized


def resources(synth: Synthesized, kind: str) -> list[dict[str, Any]]:
    return [props for _, _, props in synth.assembly.resources(kind)]


def test_one_database_per_environment(dev: Synthesized, prod: Synthesized) -> None:
    for synth, env, account in ((dev, "dev", "111111111111"), (prod, "prod", "222222222222")):
        (database,) = resources(synth, "AWS::Glue::Database")
        assert database["CatalogId"] == account
        assert database["DatabaseInput"]["Name"] == f"glueflow_{env}"


def test_each_output_is_a_parquet_table_with_its_declared_columns(dev: Synthesized) -> None:
    tables = {t["TableInput"]["Name"]: t for t in resources(dev, "AWS::Glue::Table")}
    assert sorted(tables) == [
        "campaign_spend", "campaign_spend_quarantine", "customer_ltv", "marketing_events",
        "marketing_events_quarantine", "sales_daily", "sales_daily_eur", "sales_orders",
        "sales_orders_quarantine",
    ]  # fmt: skip
    orders = tables["sales_orders"]
    assert orders["DatabaseName"] == "glueflow_dev"
    table = orders["TableInput"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == "s3://glueflow-dev-curated-111111111111/sales/orders/"
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("order_id", "string"), ("store_id", "string"), ("sold_at", "timestamp"),
        ("amount", "decimal(12,2)"), ("quantity", "int"), ("customer_id", "string"),
    ]  # fmt: skip
    # Replaced by source object: one source_id partition per file, after the declared ones.
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        ("sale_date", "date"), ("source_id", "string")
    ]  # fmt: skip
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    daily = tables["sales_daily"]["TableInput"]
    assert [k["Name"] for k in daily["PartitionKeys"]] == ["sale_date"]  # by partition
    quarantine = tables["sales_orders_quarantine"]["TableInput"]
    assert [c["Name"] for c in quarantine["StorageDescriptor"]["Columns"]] == [
        "record", "reasons", "source_uri", "glue_run_id"
    ]  # fmt: skip
    assert quarantine["StorageDescriptor"]["Location"].endswith("/sales/orders/quarantine/")


def test_a_job_role_reads_only_the_tables_it_uses(dev: Synthesized) -> None:
    """glue:GetTable and glue:GetPartitions on the catalog, the database and the tables the
    job reads or writes ("Specifying AWS Glue resource ARNs": a table's actions need all
    three)."""
    from tests.stacks.test_iam import job_policy

    glue = "arn:aws:glue:eu-west-1:111111111111"
    aggregate = [
        st for st in job_policy(dev, "sales_daily_aggregate")
        if "glue:GetPartitions" in st["Action"]
    ]  # fmt: skip
    (statement,) = aggregate
    assert sorted(statement["Resource"]) == [
        f"{glue}:catalog",
        f"{glue}:database/glueflow_dev",
        f"{glue}:table/glueflow_dev/sales_daily",
        f"{glue}:table/glueflow_dev/sales_orders",
    ]
    # sales_ingest reads no table: it reads its files, and the publish task writes the catalog.
    ingest = job_policy(dev, "sales_ingest")
    actions = [a for st in ingest for a in ([st["Action"]] if isinstance(st["Action"], str)
                                             else st["Action"])]  # fmt: skip
    assert actions
    assert not [a for a in actions if a.startswith("glue:Get")]

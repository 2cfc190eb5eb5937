"""What publishing adds to a run: the DAG's publish step (glueflow_runtime.publish) against a
Glue Data Catalog in a moto server, for runs that wrote 1 to 1,000 partitions.

Each size is published twice into the dev templates' `sales_orders` table: a first version
(every partition created), then a new version of the same source with half the partitions
(half repointed, half dropped). Both are metadata only: the run's files stay where it wrote
them.

The peer is the other way to make a run's files visible at a table's location: copying them
there (S3 CopyObject per file, one file per partition, 1 MiB each, through the same moto
server), which is what a publish without a catalog must do, and what Parquet with appends did
implicitly by writing in place. Reported as the ratio of the copy's time to the publish's.
moto answers on loopback in microseconds, so both are lower bounds on AWS, where each call
is a network round trip; the ratio of calls is what carries over: the publish makes one
catalog call per 100 partitions (25 for drops), the copy one S3 call per file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1, 10, 100, 1000)
FILE_BYTES = 1 << 20
BUCKET = "glueflow-dev-curated-111111111111"


def _written(run: str, version: str, days: list[str]) -> Any:
    from glueflow_runtime.validation_report import PartitionWritten, TableWritten

    return TableWritten(
        table="sales_orders",
        location=f"s3://{BUCKET}/sales/orders/runs/{run}/",
        partition_columns=["sale_date", "source_id"],
        replace="source_object",
        partitions=[
            PartitionWritten([d, "bench"], f"sale_date={d}/source_id=bench/", 100) for d in days
        ],
        source={"uri": "s3://raw/bench.csv", "version_id": version, "id": "bench"},
    )


def _days(n: int) -> list[str]:
    import datetime as dt

    start = dt.date(2020, 1, 1)
    return [str(start + dt.timedelta(days=i)) for i in range(n)]


def run() -> dict[str, Any]:
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    from benchmarks.local_latency_bench import _synth
    from glueflow_local.assembly import CloudAssembly
    from glueflow_local.cloud import CATALOG_TYPES, create_catalog
    from glueflow_runtime.publish import publish_table

    with tempfile.TemporaryDirectory() as tmp:
        _synth(Path(tmp) / "cdk.out")
        assembly = CloudAssembly(Path(tmp) / "cdk.out", "dev")
        catalog = [
            (kind, props) for kind in CATALOG_TYPES for _, _, props in assembly.resources(kind)
        ]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs each request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    creds = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    glue = boto3.client("glue", region_name="eu-west-1", endpoint_url=url, **creds)
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=url, **creds)
    rows = []
    try:
        for n in SIZES:
            reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
            urllib.request.urlopen(reset).close()  # noqa: S310 - the local moto server
            create_catalog(glue, catalog)
            days = _days(n)
            began = time.perf_counter()
            publish_table(glue, "glueflow_dev", _written("jr_1", "v1", days), "jr_1")
            first = time.perf_counter() - began
            began = time.perf_counter()
            done = publish_table(
                glue, "glueflow_dev", _written("jr_2", "v2", days[: n // 2]), "jr_2"
            )
            second = time.perf_counter() - began
            # The peer: the same files made visible by copying them to the table's location.
            s3.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            body = b"\0" * FILE_BYTES
            for d in days:
                s3.put_object(
                    Bucket=BUCKET, Key=f"runs/jr_1/sale_date={d}/part-0.parquet", Body=body
                )
            began = time.perf_counter()
            for d in days:
                s3.copy_object(
                    Bucket=BUCKET,
                    Key=f"sales/orders/sale_date={d}/part-0.parquet",
                    CopySource={"Bucket": BUCKET, "Key": f"runs/jr_1/sale_date={d}/part-0.parquet"},
                )
            copy = time.perf_counter() - began
            rows.append(
                {
                    "partitions": n,
                    "publish_s": first,
                    "new_version_s": second,
                    "dropped": done.dropped,
                    "copy_s": copy,
                }
            )
    finally:
        server.stop()
    return {"rows": rows}


def report(result: dict[str, Any]) -> str:
    lines = [
        "publish: a run's partitions made visible (glueflow_runtime.publish, moto's catalog)",
        "  peer: copying the run's files (1 MiB per partition) to the table's location",
        f"  {'partitions':>10}  {'publish':>9}  {'new version':>11}  {'copy (peer)':>11}  "
        f"{'copy/publish':>12}",
    ]
    for r in result["rows"]:
        ratio = r["copy_s"] / r["publish_s"] if r["publish_s"] else float("inf")
        lines.append(
            f"  {r['partitions']:>10}  {r['publish_s']:>8.3f}s  {r['new_version_s']:>10.3f}s  "
            f"{r['copy_s']:>10.3f}s  {ratio:>11.1f}x"
        )
    return "\n".join(lines)

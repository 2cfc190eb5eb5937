"""`make try`, in the script's own process once it is done: a sample of the rows it would
publish, read back from where it wrote them (its run folder), with the Spark that wrote them.
What needs no Spark (the report, the rejected rows, the verdict) the parent prints
(glueflow_local/try_job.py)."""

from __future__ import annotations

import os
from typing import Any


def show(spark: Any, spec: dict[str, Any]) -> None:
    """`spec`: {"tables": [{"table", "path"}], "rows": n}."""
    for table in spec["tables"]:
        path = table["path"]
        if not os.path.isdir(path):
            print(f"\n{table['table']}: the script wrote nothing for it", flush=True)
            continue
        frame = spark.read.parquet(path)
        print(f"\n{table['table']}, rows the run wrote (first {spec['rows']}):", flush=True)
        frame.show(spec["rows"], truncate=40)

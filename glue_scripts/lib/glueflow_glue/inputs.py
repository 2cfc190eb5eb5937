"""Reading an input as its job config declares it (`inputs[].format`).

The stacks pass each declared format in `--glueflow-formats` (configs/glue_arguments.py): the
input's location, its type (csv, json lines, parquet), the options for Spark's reader and the
strings that mean a missing value. `read_input(spark, run)` reads what the run is for with
them, so a script gets a DataFrame and repeats none of them.

Spark's CSV reader takes one null string (`nullValue`, "" by default, so an empty field is
null already: "CSV Files", Spark SQL guide, Data Source Option). A file can have several
(`NA`, `NULL`, `-`), so the declared ones are turned into null after the read, in every text
column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class NoFormat(ValueError):
    """The input the run reads declares no format: the script must read it itself."""


@dataclass(frozen=True)
class InputSpec:
    """One input's declared format, as `--glueflow-formats` carries it."""

    uri: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    null_values: list[str] = field(default_factory=list)


def parse_formats(text: str | None) -> tuple[InputSpec, ...]:
    """The declared formats from `--glueflow-formats` (none when absent)."""
    return tuple(InputSpec(**item) for item in json.loads(text)) if text else ()


def _what_to_read(run: Any, index: int | None) -> tuple[InputSpec, list[str]]:
    """The declared format and the paths to read: the run's object (before its staging copy)
    or reprocessed prefix, or input `index`."""
    bucket, key = run.trigger.get("bucket"), run.trigger.get("key")
    if index is not None:
        uri, paths = run.inputs[index], [run.inputs[index]]
    elif bucket and key:
        uri, paths = f"s3://{bucket}/{key}", run.source_uris
    elif len(run.inputs) == 1:
        uri, paths = run.inputs[0], run.inputs
    else:
        raise ValueError(
            f"{run.job} reads {len(run.inputs)} inputs and this run names no object: say which "
            "one with read_input(spark, run, index=i)"
        )
    covering = [s for s in run.formats if uri.startswith(s.uri)]
    if not covering:
        raise NoFormat(
            f"{run.job}: the input {uri} declares no format; add `format:` to it in the job "
            "config (csv, json or parquet, with reader options), or read it in the script"
        )
    return max(covering, key=lambda s: len(s.uri)), list(paths)


def null_strings(frame: Any, values: list[str]) -> Any:
    """`frame` with each of `values` read as null in every string column."""
    from pyspark.sql import functions as F

    if not values:
        return frame
    text = {f.name for f in frame.schema.fields if f.dataType.typeName() == "string"}
    return frame.select(
        *[
            F.when(F.col(c).isin(values), F.lit(None)).otherwise(F.col(c)).alias(c)
            if c in text
            else F.col(c)
            for c in frame.columns
        ]
    )


def read_input(spark: Any, run: Any, schema: Any = None, index: int | None = None) -> Any:
    """What the run reads, as a DataFrame read with its input's declared format: the object
    that started an S3-triggered run (or a reprocessed prefix), else input `index` (default
    the first).

    `schema`: a StructType or DDL string to read with (CSV and JSON); without one, CSV columns
    are all text, named by the header, and JSON's are inferred."""
    spec, paths = _what_to_read(run, index)
    return read_files(spark, spec, paths, schema)


def read_files(spark: Any, spec: InputSpec, paths: list[str], schema: Any = None) -> Any:
    """`paths` read with `spec`'s format, options and null strings."""
    reader = spark.read.options(**spec.options)
    if schema is not None and spec.type != "parquet":
        reader = reader.schema(schema)
    read = {"csv": reader.csv, "json": reader.json, "parquet": reader.parquet}[spec.type]
    return null_strings(read(paths), spec.null_values)

"""Stand-in for `GlueContext` in `awsglue/context.py` of aws-glue-libs, branch glue-5.0.

Upstream's GlueContext is a SQLContext over the one SparkSession (`SparkSession.builder
.getOrCreate()`), exposed as `.spark_session` and `.sparkSession`; so is this one, without the
JVM GlueContext behind it.

Local staging of S3 (not upstream behaviour): a local Spark has no S3 connector, so when
the environment variable `AWSGLUE_STANDIN_S3_ROOT` names a folder, every folder under it is a
bucket and `s3://<bucket>/<key>` is `<root>/<bucket>/<key>`. The mapping is Hadoop's own
ViewFileSystemOverloadScheme (hadoop-common 3.3, shipped with PySpark): the `s3` scheme is
overloaded with one mount table per bucket whose fallback is the bucket's folder. Scripts keep
seeing `s3://` URIs (in paths, partition discovery, `input_file_name()`); only the bytes live
on disk. A bucket with no folder fails, as a missing bucket would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

S3_ROOT_VARIABLE = "AWSGLUE_STANDIN_S3_ROOT"
_OVERLOAD = "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme"


class GlueContext:
    """The SparkSession of the run, as a Glue script reaches it."""

    def __init__(self, sparkContext: Any = None, **options: Any) -> None:
        self.spark_session = SparkSession.builder.getOrCreate()
        self.sparkSession = self.spark_session
        self._sc = self.spark_session.sparkContext
        self.options = options
        root = os.environ.get(S3_ROOT_VARIABLE)
        if root:
            stage_s3(self.spark_session, Path(root))


def stage_s3(spark: SparkSession, root: Path) -> None:
    """Serve `s3://<bucket>/...` from `<root>/<bucket>/...` (local only; see the module doc)."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set("fs.s3.impl", _OVERLOAD)
    # Read the mount table afresh on every access: each test run stages its own root.
    conf.set("fs.s3.impl.disable.cache", "true")
    # Where a path outside every mount would go; nothing is mounted outside the buckets.
    conf.set("fs.viewfs.overload.scheme.target.s3.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
    for bucket in sorted(p for p in root.iterdir() if p.is_dir()):
        conf.set(f"fs.viewfs.mounttable.{bucket.name}.linkFallback", bucket.resolve().as_uri())


def unstage_s3(spark: SparkSession) -> None:
    """Undo stage_s3: `s3://` has no file system again."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key in (
        "fs.s3.impl",
        "fs.s3.impl.disable.cache",
        "fs.viewfs.overload.scheme.target.s3.impl",
    ):
        conf.unset(key)
    iterator = conf.iterator()
    stale = []
    while iterator.hasNext():
        key = iterator.next().getKey()
        if key.startswith("fs.viewfs.mounttable."):
            stale.append(key)
    for key in stale:
        conf.unset(key)

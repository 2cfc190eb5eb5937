"""Run one Glue script as Glue's driver would, on local PySpark.

`python run_script.py <stand-in dir> <extra-py-files, comma-separated> <script> [args...]`

As on Glue: the `awsglue` library and each `--extra-py-files` entry are on sys.path, sys.argv
is `[script, --JOB_ID, .., --JOB_RUN_ID, .., --JOB_NAME, .., arguments...]`, and the script
runs as `__main__`; an exception it raises ends the process with its traceback on stderr.
The SparkSession is made first, local, so the script's `getOrCreate()` finds it.
"""

import os
import runpy
import sys


def main() -> None:
    standin, extra, script, *args = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # not this file's folder
    sys.path[1:1] = [standin, *filter(None, extra.split(","))]
    from pyspark.sql import SparkSession

    cores = os.environ.get("GLUEFLOW_LOCAL_SPARK_CORES", "2")
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(os.path.basename(script))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # Glue's driver log has no bars
        .config("spark.sql.shuffle.partitions", cores)
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()

"""customer_ltv.

Recomputes customer lifetime value whenever the daily sales aggregate is refreshed.

The transform is a plain function on DataFrames, so tests run it on a local SparkSession.
Only main() touches Glue.
"""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame


def transform(frame: DataFrame) -> DataFrame:
    """The job's transformation. Replace the pass-through with the real logic."""
    return frame


def main() -> None:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    job.commit()


if __name__ == "__main__":
    main()

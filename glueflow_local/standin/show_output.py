"""Print what Parquet tables hold, as JSON: `python show_output.py <folder>...`.

For each folder (a table as written under an output prefix, partition folders included):
its row count, columns, partitions and first rows. One local Spark for all of them.
"""

import json
import sys


def main() -> None:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    shown = {}
    for folder in sys.argv[1:]:
        try:
            table = spark.read.parquet(folder)
        except Exception as exc:
            shown[folder] = {"error": str(exc).splitlines()[0]}
            continue
        rows = [row.asDict() for row in table.limit(5).collect()]
        shown[folder] = {
            "rows": table.count(),
            "columns": table.columns,
            "first_rows": json.loads(json.dumps(rows, default=str)),
        }
    spark.stop()
    print(json.dumps(shown))


if __name__ == "__main__":
    main()

"""The local PySpark a Glue version's scripts run on: the same Spark major line as on Glue.

Glue 4.0 to 5.1 run Spark 3 and 6.0 and 6.1 run Spark 4.1 (`configs/glue_limits.py:
SPARK_BY_VERSION`). One Python process can import only one pyspark, so the venv holds 3.5.6
(requirements-dev.txt) and `make install` puts 4.1.3, with its own py4j, in `.venv/spark/4.1`
(requirements-spark4.txt). A Spark 4 run is a process with that folder first on PYTHONPATH.
"""

from __future__ import annotations

import importlib.metadata
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from configs.glue_limits import SPARK_BY_VERSION

# Spark major line -> the folder that holds its pyspark (None: the venv's own site-packages).
SPARK_TREES: dict[str, Path | None] = {"3": None, "4": Path(sys.prefix) / "spark" / "4.1"}


@dataclass(frozen=True)
class LocalSpark:
    """Where a Glue version's scripts find pyspark on this machine, and which one it is."""

    glue_version: str
    pythonpath: str  # "" for the venv's own pyspark
    version: str  # the pyspark version installed there

    @property
    def major(self) -> str:
        return self.version.split(".")[0]


def local_spark(glue_version: str) -> LocalSpark:
    """The local pyspark for `glue_version`; raises if its tree is not installed."""
    glue_spark = SPARK_BY_VERSION[glue_version]
    tree = SPARK_TREES[glue_spark.split(".")[0]]
    paths = [str(tree) if tree is not None else sysconfig.get_paths()["purelib"]]
    found = [d.version for d in importlib.metadata.distributions(name="pyspark", path=paths)]
    if not found:
        raise RuntimeError(
            f"Glue {glue_version} runs Spark {glue_spark}, and no pyspark for it is installed "
            f"in {tree or sys.prefix}: run make install (requirements-spark4.txt)"
        )
    return LocalSpark(glue_version, str(tree) if tree is not None else "", found[0])

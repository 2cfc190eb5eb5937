"""What AWS Glue accepts, in one place: versions, worker types per version, Flex eligibility.

Sources: the AWS Glue developer guide pages "AWS Glue worker types", "AWS Glue versions",
"Flex execution class" and "Migrating AWS Glue for Spark jobs to AWS Glue version 6.1".
Glueflow runs Spark batch jobs (command `glueetl`), so the streaming-only G.025X, the Ray-only
Z.2X and the pre-3.0 Standard worker types are never valid here.
"""

from __future__ import annotations

# Newest Glue and Spark line; why it is the default: docs/architecture.md, decision 4.
DEFAULT_GLUE_VERSION = "6.1"

# Spark batch worker types and their DPUs (R types are billed in memory-optimized M-DPUs).
DPU_PER_WORKER: dict[str, float] = {
    "G.025X": 0.25,
    "G.1X": 1,
    "G.2X": 2,
    "G.4X": 4,
    "G.8X": 8,
    "G.12X": 12,
    "G.16X": 16,
    "R.1X": 1,
    "R.2X": 2,
    "R.4X": 4,
    "R.8X": 8,
}

_GENERAL = ("G.1X", "G.2X", "G.4X", "G.8X")
_LARGE_AND_MEMORY = ("G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X")

# Glue 6.1 adds arm64 Graviton workers, "G.1X.GRAVITON through G.16X.GRAVITON and R.1X.GRAVITON
# through R.8X.GRAVITON" ("Migrating ... to AWS Glue version 6.1"), one per x86 size.
GRAVITON_SUFFIX = ".GRAVITON"
_GRAVITON = tuple(f"{size}{GRAVITON_SUFFIX}" for size in _GENERAL + _LARGE_AND_MEMORY)
# Not stated on the pages above: a Graviton worker is counted at the DPUs of its x86 size, as
# its name says (G.2X.GRAVITON = 2 DPU). Correct here if AWS documents otherwise.
DPU_PER_WORKER.update(
    {name: DPU_PER_WORKER[name.removesuffix(GRAVITON_SUFFIX)] for name in _GRAVITON}
)

# Glue 4.0 is the oldest version still in standard support.
WORKER_TYPES_BY_VERSION: dict[str, tuple[str, ...]] = {
    "4.0": _GENERAL + _LARGE_AND_MEMORY,
    "5.0": _GENERAL + _LARGE_AND_MEMORY,
    "5.1": _GENERAL + _LARGE_AND_MEMORY,
    "6.0": _GENERAL + _LARGE_AND_MEMORY,
    "6.1": _GRAVITON + _GENERAL + _LARGE_AND_MEMORY,
}
GLUE_VERSIONS: tuple[str, ...] = tuple(WORKER_TYPES_BY_VERSION)

# The worker type a job gets when its config names none. Glue 6.1 runs a job created without a
# WorkerType on G.1X.GRAVITON ("Migrating ... to AWS Glue version 6.1"); Glueflow always sets
# WorkerType, so it resolves the same default itself and the manifest and prices know it.
DEFAULT_WORKER_TYPE_BY_VERSION: dict[str, str] = {
    version: "G.1X.GRAVITON" if "G.1X.GRAVITON" in types else "G.1X"
    for version, types in WORKER_TYPES_BY_VERSION.items()
}

# Flex runs on spare capacity and is offered only on the two smallest general worker types; the
# Flex page names no Graviton type, so Graviton workers run STANDARD only.
FLEX_WORKER_TYPES: tuple[str, ...] = ("G.1X", "G.2X")

# The Spark each Glue version runs ("AWS Glue versions", the 6.0 and 6.1 migration pages). A
# local run and the tests use the same major line: pyspark 3.5.6 from the venv, or 4.1.3 from
# .venv/spark/4.1 (requirements-spark4.txt).
SPARK_BY_VERSION: dict[str, str] = {
    "4.0": "3.3.0",
    "5.0": "3.5.4",
    "5.1": "3.5.6",
    "6.0": "4.1.1",
    "6.1": "4.1.3",
}


MIN_WORKERS = 2
MAX_WORKERS = 1000
MAX_TIMEOUT_MINUTES = 2880  # Glue's default and ceiling for batch job runs (48 h)
MAX_GLUE_RETRIES = 10

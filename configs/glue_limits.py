"""What AWS Glue accepts, in one place: versions, worker types per version, Flex eligibility.

Sources: the AWS Glue developer guide pages "AWS Glue worker types", "AWS Glue versions" and
"Flex execution class". Glueflow runs Spark batch jobs (command `glueetl`), so the streaming-only
G.025X, the Ray-only Z.2X and the pre-3.0 Standard worker types are never valid here.
"""

from __future__ import annotations

DEFAULT_GLUE_VERSION = "5.1"

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

# Glue 4.0 is the oldest version still in standard support; 6.0 is opt-in per job.
WORKER_TYPES_BY_VERSION: dict[str, tuple[str, ...]] = {
    "4.0": _GENERAL + _LARGE_AND_MEMORY,
    "5.0": _GENERAL + _LARGE_AND_MEMORY,
    "5.1": _GENERAL + _LARGE_AND_MEMORY,
    "6.0": _GENERAL + _LARGE_AND_MEMORY,
}
GLUE_VERSIONS: tuple[str, ...] = tuple(WORKER_TYPES_BY_VERSION)

# Flex runs on spare capacity and is offered only on the two smallest general worker types.
FLEX_WORKER_TYPES: tuple[str, ...] = ("G.1X", "G.2X")


MIN_WORKERS = 2
MAX_WORKERS = 1000
MAX_TIMEOUT_MINUTES = 2880  # Glue's default and ceiling for batch job runs (48 h)
MAX_GLUE_RETRIES = 10

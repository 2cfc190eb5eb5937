"""Glueflow's config model: validate job and environment YAML, compile `manifest.json`.

Used at synth and in CI only; code that runs on AWS reads the compiled manifest instead.
"""

import sys
from pathlib import Path

# The step registry (dags/glueflow_steps) ships in MWAA's DAG folder, where the factory builds
# the steps' operators from it; validation, the schema and the stacks read the same modules.
# Appended, so nothing in the DAG folder shadows another package.
_DAG_FOLDER = str(Path(__file__).resolve().parent.parent / "dags")
if _DAG_FOLDER not in sys.path:
    sys.path.append(_DAG_FOLDER)

"""JSON schemas for editors, generated from the models (never edited by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from configs.models import EnvironmentConfig, JobConfig

CONFIGS_DIR = Path(__file__).resolve().parent
SCHEMAS = {
    CONFIGS_DIR / "job.schema.json": JobConfig,
    CONFIGS_DIR / "environment.schema.json": EnvironmentConfig,
}


def schema_text(model: type[JobConfig] | type[EnvironmentConfig]) -> str:
    """The model's JSON schema, as committed."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def stale_schemas() -> list[Path]:
    """Schema files that differ from what the models generate now."""
    return [
        path
        for path, model in SCHEMAS.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != schema_text(model)
    ]


def write_schemas() -> list[Path]:
    """Regenerate every schema file; return those that changed."""
    changed = stale_schemas()
    for path in changed:
        path.write_text(schema_text(SCHEMAS[path]), encoding="utf-8")
    return changed

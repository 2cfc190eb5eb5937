"""JSON schemas for editors, generated from the models (never edited by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from configs.models import EnvironmentConfig, JobConfig

CONFIGS_DIR = Path(__file__).resolve().parent
SCHEMAS: dict[Path, type[BaseModel]] = {
    CONFIGS_DIR / "job.schema.json": JobConfig,
    CONFIGS_DIR / "environment.schema.json": EnvironmentConfig,
}
SCENARIO_SCHEMA = CONFIGS_DIR.parent / "scenarios" / "scenario.schema.json"


def _all_schemas() -> dict[Path, type[BaseModel]]:
    """The configs' schemas, and the fault scenarios' (glueflow_local/scenario_model.py)
    where the repository has them: a project laid out from configs/ alone has not."""
    if not (CONFIGS_DIR.parent / "glueflow_local" / "scenario_model.py").is_file():
        return SCHEMAS
    from glueflow_local.scenario_model import Scenario

    return {**SCHEMAS, SCENARIO_SCHEMA: Scenario}


def schema_text(model: type[BaseModel]) -> str:
    """The model's JSON schema, as committed."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def _generated() -> dict[Path, str]:
    files = {path: schema_text(model) for path, model in _all_schemas().items()}
    if README.is_file():
        files[README] = render_readme(README.read_text(encoding="utf-8"))
    return files


def stale_schemas() -> list[Path]:
    """Generated files (schemas, README reference blocks) that differ from the models now."""
    return [
        path
        for path, text in _generated().items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def write_schemas() -> list[Path]:
    """Regenerate every generated file; return those that changed."""
    changed = stale_schemas()
    generated = _generated()
    for path in changed:
        path.write_text(generated[path], encoding="utf-8")
    return changed


# --- README reference ---------------------------------------------------------------------------

README = CONFIGS_DIR.parent / "README.md"
EXAMPLE_JOB = CONFIGS_DIR / "jobs" / "sales_ingest.yaml"


def _type_text(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return "object"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " or ".join(_type_text(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}), defs)}"
    if prop.get("type") == "object":
        return "mapping"
    text = prop.get("type", "any")
    if "exclusiveMinimum" in prop:
        return f"{text} > {prop['exclusiveMinimum']}"
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None or high is not None:
        text += f" {'' if low is None else low}..{'' if high is None else high}"
    return text


def _rows(schema: dict, defs: dict, path: str = "") -> list[str]:
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        field = f"{path}{name}"
        if name in required:
            default = "required"
        elif "default" in prop and prop["default"] not in (None, [], {}):
            default = f"`{json.dumps(prop['default'])}`"
        else:
            default = "optional"
        description = prop.get("description", "").replace("|", "\\|")
        rows.append(f"| `{field}` | {_type_text(prop, defs)} | {default} | {description} |")
        for label, nested in _nested(prop, defs):
            rows += _rows(nested, defs, f"{field}{label}.")
    return rows


def _nested(prop: dict, defs: dict) -> list[tuple[str, dict]]:
    """(path label, model schema) for objects under `prop`; tagged unions get their tag."""
    items = prop.get("items", {})
    found = []
    for candidate in [prop, *prop.get("anyOf", [])]:
        if "$ref" in candidate:
            found.append(("", defs[candidate["$ref"].rsplit("/", 1)[-1]]))
    if "$ref" in items:
        found.append(("[]", defs[items["$ref"].rsplit("/", 1)[-1]]))
    for variant in items.get("oneOf", []):
        model = defs[variant["$ref"].rsplit("/", 1)[-1]]
        tag = model["properties"]["type"].get("const", "")
        found.append((f"[type={tag}]", model))
    return found


def field_reference(model: type[JobConfig] | type[EnvironmentConfig]) -> str:
    """A markdown table of every field, from the model's JSON schema."""
    schema = model.model_json_schema()
    lines = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    return "\n".join(lines + _rows(schema, schema.get("$defs", {})))


def readme_blocks() -> dict[str, str]:
    """README sections generated from the models and the example configs."""
    example = EXAMPLE_JOB.read_text(encoding="utf-8")
    return {
        "example-job": f"```yaml\n{example}```",
        "job-fields": field_reference(JobConfig),
        "environment-fields": field_reference(EnvironmentConfig),
    }


def render_readme(text: str) -> str:
    """`text` with each `<!-- generated:NAME -->...<!-- end:NAME -->` block regenerated."""
    for name, body in readme_blocks().items():
        start, end = f"<!-- generated:{name} -->", f"<!-- end:{name} -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{start}\n{body}\n{end}{tail}"
    return text

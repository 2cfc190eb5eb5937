"""Generated schemas stay in step with the models; new-job scaffolds a valid job."""

from __future__ import annotations

import json

import pytest
import yaml
from jsonschema import Draft202012Validator

from configs import schema
from configs.loader import REPO_ROOT, load_platform, validate_all
from configs.models import JobConfig
from configs.problems import ConfigError
from configs.scaffold import new_job
from tests.conftest import Project


def test_committed_schemas_match_the_models() -> None:
    assert schema.stale_schemas() == [], "run 'make schema' and commit configs/*.schema.json"


def test_stale_schema_is_detected(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "job.schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(schema, "SCHEMAS", {stale: JobConfig})
    monkeypatch.setattr(schema, "README", tmp_path / "no-readme.md")
    assert schema.stale_schemas() == [stale]
    schema.write_schemas()
    assert schema.stale_schemas() == []


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "configs" / "jobs").glob("*.yaml")))
def test_example_jobs_validate_against_the_editor_schema(path) -> None:
    job_schema = json.loads((REPO_ROOT / "configs" / "job.schema.json").read_text())
    errors = list(Draft202012Validator(job_schema).iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


def test_editor_schema_rejects_unknown_keys() -> None:
    job_schema = json.loads((REPO_ROOT / "configs" / "job.schema.json").read_text())
    bad = {"name": "x_job", "description": "d", "owner": "o", "script": "s.py", "colour": 1}
    assert not Draft202012Validator(job_schema).is_valid(bad)


def test_new_job_scaffolds_a_job_that_validates(valid_project: Project) -> None:
    job_file, script, test = new_job(
        "orders_export", jobs_dir=valid_project.jobs_dir, root=valid_project.root
    )

    assert job_file == valid_project.jobs_dir / "orders_export.yaml"
    assert script == valid_project.root / "glue_scripts" / "jobs" / "orders_export.py"
    compile(script.read_text(), str(script), "exec")  # the stub is valid Python
    assert test == valid_project.root / "tests" / "glue_scripts" / "jobs" / "test_orders_export.py"
    compile(test.read_text(), str(test), "exec")
    # It reads the file that started the run as its input declares, CSV like its trigger.
    assert "validate(read_input(spark, run))" in script.read_text()
    # It runs through the shared entry point and returns its counts, which the entry point
    # writes as the validation report (run under Glue's contract: tests/glue_scripts).
    assert "run_glue_job(body)" in script.read_text()
    assert "return validated" in script.read_text()
    assert validate_all(root=valid_project.root, **valid_project.paths()) == []
    platform = load_platform("dev", root=valid_project.root, **valid_project.paths())
    assert platform.jobs["orders_export"].script == "glue_scripts/jobs/orders_export.py"


def test_new_job_writes_only_the_missing_script_of_an_existing_config(
    valid_project: Project,
) -> None:
    """What the missing-script problem of `validate` tells the user to run."""
    job_file, script, _ = new_job(
        "orders_export", jobs_dir=valid_project.jobs_dir, root=valid_project.root
    )
    job_file.write_text(job_file.read_text() + "# edited\n")
    script.unlink()
    problems = validate_all(root=valid_project.root, **valid_project.paths())
    assert [p.message for p in problems if p.field == "script"] == [
        "'glue_scripts/jobs/orders_export.py' does not exist (paths are relative to "
        f"{valid_project.root}/); 'make new-job NAME=orders_export' writes a stub there (and "
        "its test), and leaves this config as it is"
    ]
    (valid_project.root / "tests/glue_scripts/jobs/test_orders_export.py").unlink()

    assert new_job("orders_export", jobs_dir=valid_project.jobs_dir, root=valid_project.root) == (
        script,
        valid_project.root / "tests/glue_scripts/jobs/test_orders_export.py",
    )
    assert job_file.read_text().endswith("# edited\n")
    assert validate_all(root=valid_project.root, **valid_project.paths()) == []


def test_new_job_never_overwrites_and_checks_the_name(valid_project: Project) -> None:
    new_job("orders_export", jobs_dir=valid_project.jobs_dir, root=valid_project.root)
    with pytest.raises(ConfigError, match="exists already; not overwritten"):
        new_job("orders_export", jobs_dir=valid_project.jobs_dir, root=valid_project.root)
    with pytest.raises(ConfigError, match="'Orders-Export' is not a valid job name"):
        new_job("Orders-Export", jobs_dir=valid_project.jobs_dir, root=valid_project.root)

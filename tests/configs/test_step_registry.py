"""The step registry (dags/glueflow_steps/): each step type is one module, and validation,
the schema, the DAG factory, the IAM, the endpoints and the summary all read the types from
it, so nothing else lists them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from configs import models
from configs.steps import registry, step_type
from tests.conftest import REPO_ROOT, valid_job

STEPS_DIR = REPO_ROOT / "dags" / "glueflow_steps"
MODULES = sorted(p.stem for p in STEPS_DIR.glob("*.py") if p.stem not in ("__init__", "base"))


def test_every_module_is_one_type_named_as_its_file() -> None:
    assert MODULES == [
        "athena", "dbt_cloud", "http", "lambda", "redshift_sql", "step_functions", "tableau",
        "trigger_job",
    ]  # fmt: skip
    assert list(registry()) == MODULES
    for name in MODULES:
        kind = step_type(name)
        assert kind.name == name
        # its config model's `type` is that name, and nothing else
        literal = kind.model.model_fields["type"].annotation
        assert literal.__args__ == (name,)


def test_an_unknown_type_is_no_module() -> None:
    for name in ("dbt_cloudx", "base", "../stacks", "redshift-sql"):
        with pytest.raises(KeyError):
            step_type(name)


def test_the_config_union_is_the_registrys() -> None:
    """A step of each registered type validates; any other `type` is refused, and the
    accepted types are the registry's."""
    with pytest.raises(ValidationError) as refused:
        models.JobConfig.model_validate(
            valid_job("x_job", downstream=[{"type": "dbt_cloudx", "name": "s"}])
        )
    (error,) = refused.value.errors()
    assert error["type"] == "union_tag_invalid"
    assert error["ctx"]["expected_tags"] == ", ".join(f"'{n}'" for n in MODULES)


def test_step_modules_import_no_provider_at_module_level() -> None:
    """The factory imports a type's module on MWAA for each DAG that uses it: its provider
    (and Airflow) only inside `operator`, so a DAG parse pays for nothing else."""
    for path in [*STEPS_DIR.glob("*.py")]:
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert {n.split(".")[0] for n in names} <= {
            "__future__", "dataclasses", "functools", "importlib", "json", "pkgutil", "re",
            "typing",
            "pydantic", "glueflow_steps",
        }, (path.name, names)  # fmt: skip


def test_the_factory_loads_only_the_types_a_dag_uses(tmp_path: Path) -> None:
    """A fresh interpreter, as a worker building one DAG: asking for trigger_job loads its
    module and no other type's."""
    script = (
        "import sys; sys.path.insert(0, 'dags')\n"
        "from glueflow_steps import step_type\n"
        "step_type('trigger_job')\n"
        "print(sorted(m for m in sys.modules if m.startswith('glueflow_steps.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == "['glueflow_steps.base', 'glueflow_steps.trigger_job']"

"""The step registry: each kind of downstream step is one module of this package.

A module defines `STEP`, an instance of `glueflow_steps.base.StepType`, which owns everything
about its kind of step:
- its config model (`model`), from which validation, the JSON schema and the reference docs
  come;
- the Airflow operator it builds (`operator`), its provider imported only when a DAG has such
  a step;
- the IAM it needs, on the resources its steps name (`grants`);
- the interface endpoints it calls (`endpoints`);
- the text it gives the synth summary and `make review` (`target`);
- the jobs it starts (`starts`), for validation's cycle check and the local run.

Adding a type is a module here plus its tests: nothing else lists the types. The package
ships in MWAA's DAG folder beside `glueflow_runtime` (stacks/orchestration_stack.py), so the
factory builds the operators from the same modules that `configs` validated against; it
imports only pydantic and the standard library at module level.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from glueflow_steps.base import StepType


@functools.cache
def registry() -> dict[str, StepType]:
    """Every step type, by its config `type`, in name order."""
    found: dict[str, StepType] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        step = importlib.import_module(f"{__name__}.{module}").STEP
        if step.name != module:
            raise RuntimeError(f"glueflow_steps/{module}.py defines step type {step.name!r}")
        found[step.name] = step
    return found


def step_type(name: str) -> StepType:
    """One type by its config `type`, importing only its own module (the DAG factory's path:
    a DAG parse loads the types its steps use, and no other)."""
    if not name.isidentifier() or name == "base":
        raise KeyError(name)
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":  # the module exists; something it imports not
            raise
        raise KeyError(name) from None
    return module.STEP

"""The step registry (dags/glueflow_steps/), as validation, the stacks and the local run use
it: importing it through `configs` puts the DAG folder on the path first (configs/__init__.py).
"""

from glueflow_steps import registry, step_type
from glueflow_steps.base import Grant, StepType, Where

__all__ = ["Grant", "StepType", "Where", "registry", "step_type"]

"""What a step type is made of, and the names every step config shares.

Only pydantic and the standard library: this module is imported by `configs` at validation
and synth, and by the DAG factory on MWAA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

JOB_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
STEP_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# An Airflow connection id that is also a Secrets Manager secret name's last part: Airflow
# accepts letters, digits, '_', '-' and '.' in an id (airflow/utils/helpers.py validate_key),
# and a secret name letters, digits and /_+=.@- (Secrets Manager API Reference, CreateSecret:
# Name); the secret is airflow/connections/<id>.
CONNECTION_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,127}$")


def matching(pattern: re.Pattern[str], what: str, accepted: str) -> AfterValidator:
    """A validator refusing a value that `pattern` does not match, saying what is accepted."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}: use {accepted}")
        return value

    return AfterValidator(check)


JobName = Annotated[
    str,
    matching(
        JOB_NAME_RE,
        "job name",
        "3-64 characters of lowercase letters, digits and '_', starting with a letter "
        "(it becomes the Airflow DAG id and part of the Glue job name, S3 prefixes and "
        "CloudFormation ids)",
    ),
]
StepName = Annotated[
    str,
    matching(
        STEP_NAME_RE,
        "step name",
        "1-64 lowercase letters, digits and '_', starting with a letter (an Airflow task id)",
    ),
]

Connection = Annotated[
    str,
    matching(
        CONNECTION_RE,
        "connection name",
        "1-128 lowercase letters, digits, '_', '-' and '.', starting with a letter (the Airflow "
        "connection id, kept in Secrets Manager as airflow/connections/<name>)",
    ),
]


class StepModel(BaseModel):
    """A step's config: unknown keys refused, types strict, as every config model. A type's
    model narrows `type` to its Literal and adds its own fields after these."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: str
    name: StepName = Field(description="Airflow task id of the step.")
    after: list[StepName] | None = Field(
        default=None,
        description="The steps of this job it runs after, by name: several make it wait for "
        "all of them, and steps that name the same one run side by side. [] runs it as soon "
        "as the run is published. Unset: after the step before it in the list (the first "
        "step: after the publish).",
    )


def with_run(payload: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """A step's event with the run that sent it under 'glueflow': the job, and the Airflow run
    id (a template, rendered at run time), so a receiver can tell runs and retries apart."""
    return {**payload, "glueflow": {"job": job["dag_id"], "run_id": "{{ run_id }}"}}


@dataclass(frozen=True)
class Where:
    """The environment a step's grants are made in."""

    partition: str
    region: str
    account: str
    # The environment opted in to a route to the internet (its network's `egress`).
    egress: bool = False


@dataclass(frozen=True)
class Grant:
    """One IAM statement for MWAA's role. A statement with a wildcard resource says `why`
    (cdk-nag's acknowledgement of the wildcard): on "*", what, with no resource-level
    permission, limits it; on an ARN with a wildcard (objects under a key prefix, or one of
    the type's `wildcard_resources`), what its resources are."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, Any] | None = None
    why: str = ""


class StepType:
    """One kind of step. Its module's `STEP` is an instance; the defaults are a step that
    needs no grant, no endpoint and starts no job."""

    name: ClassVar[str]
    model: ClassVar[type[StepModel]]
    # The interface endpoints its steps call: service name -> what for.
    endpoints: ClassVar[dict[str, str]] = {}
    # Actions its grants give on resource "*" because they have no resource-level permission
    # (the Service Authorization Reference says which): action -> what limits it instead.
    # They join the wildcard allowlist (stacks/iam_review.py); no other action may.
    wildcard_actions: ClassVar[dict[str, str]] = {}
    # The wildcard ARNs its grants name, as regular expressions, because the service names
    # those resources at run time (an execution of a named state machine): pattern -> why.
    # They join the wildcard allowlist (stacks/iam_review.py); no other wildcard ARN may.
    wildcard_resources: ClassVar[dict[str, str]] = {}
    # The Python distributions its operator needs that MWAA's image lacks, with those they
    # depend on that the image lacks too: each pinned in mwaa/plugins.txt. A deployment whose
    # steps need any ships them as wheels in plugins.zip.
    packages: ClassVar[tuple[str, ...]] = ()

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        """The Airflow operator of `step` (a manifest entry) in `job`'s DAG."""
        raise NotImplementedError

    def grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """What MWAA's role needs for all of this environment's `steps` of this type."""
        return []

    def target(self, step: dict[str, Any]) -> str:
        """What the step acts on, for the synth summary and `make review`."""
        return ""

    def check(self, step: Any, where: Where) -> list[tuple[tuple[Any, ...], str]]:
        """What the environment `where` cannot run of `step` (a validated model), each as
        (its field, what is wrong and what is accepted): validation reports them."""
        return []

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """Make the local run (`local`: glueflow_local.cloud.LocalCloud, moto in this process)
        answer `steps`, this environment's steps of the type (manifest entries), as the
        service documents. Called by the local run only, never on MWAA; what it needs (moto)
        it imports here."""

    def connections(self, step: Any) -> dict[str, str]:
        """The Airflow connections `step` (a validated model) uses, by config field -> id.
        Each becomes a secret airflow/connections/<id> that the app creates without a value
        and that MWAA's role alone may read; the secret's owner fills it."""
        return {}

    def internet(self, step: Any) -> str:
        """What `step` (a validated model) calls on the internet, for a step that needs a
        route out of the VPC; "" for one that does not. Validation refuses such a step in an
        environment without egress."""
        return ""

    def starts(self, step: dict[str, Any]) -> list[tuple[str, str]]:
        """The jobs whose DAGs the step starts, each with the config field that names it:
        validation checks them (known, not the step's own job, no cycle)."""
        return []

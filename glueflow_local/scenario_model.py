"""The scenario format: what `make scenario FILE=path` runs on the local run.

A scenario is a YAML file (scenarios/scenario.schema.json, generated from these models by
`make schema`): a description, a clock, and steps run in order. Each step is a mapping with
one key, its kind: land, new_version, redeliver, table_published, mwaa, fail_glue,
fail_trigger, wait, expect. Durations are scenario time ("6h", "90m", "30s", "1h30m" or
seconds); the clock's compression says how many seconds of scenario time pass per real
second. Counts are of what happened since the scenario started.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def _seconds(value: Any) -> Any:
    """'6h', '90m', '30s', '1h30m' or a number of seconds, as seconds."""
    if isinstance(value, bool):
        return value  # refused below, as not a number
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value.strip())
        if found and any(found.groups()):
            hours, minutes, seconds = (float(g or 0) for g in found.groups())
            return hours * 3600 + minutes * 60 + seconds
        raise ValueError(f"{value!r} is not a duration: write e.g. 6h, 90m, 30s, 1h30m or seconds")
    return value


Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0, le=30 * 24 * 3600)]
Count = Annotated[int, Field(ge=0)]
DagRunState = Literal["success", "failed", "running", "queued"]
GlueRunState = Literal["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "RUNNING", "WAITING"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Content(_Strict):
    """What a file holds: one of a file, a sample or text."""

    file: str | None = Field(
        default=None, description="A file to land, its path relative to the scenario file."
    )
    sample: Literal["good", "bad"] | None = Field(
        default=None,
        description="A sample point-of-sale CSV of glueflow_local/samples: good (40 valid "
        "rows) or bad (8 of 20 rows invalid).",
    )
    body: str | None = Field(default=None, description="The file's text, written out.")

    @model_validator(mode="after")
    def _at_most_one(self) -> _Content:
        if sum(x is not None for x in (self.file, self.sample, self.body)) > 1:
            raise ValueError("give at most one of file, sample and body")
        return self


class Land(_Content):
    """Land a file where a job's S3 trigger starts it: once, or a burst of copies."""

    job: str = Field(description="A job started by files: its trigger's bucket and prefix.")
    key: str | None = Field(
        default=None,
        description="The key below the trigger's prefix (default: <scenario>/<file name>).",
    )
    prefix: str | None = Field(
        default=None,
        description="Land under this prefix of the trigger's bucket instead of the trigger's "
        "own: a file no trigger is for, which must start nothing.",
    )
    copies: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="Land this many copies at once, each under its own key (-00001, ...).",
    )
    as_: str | None = Field(
        default=None,
        alias="as",
        description="A name for this landing, for new_version and redeliver.",
    )


class NewVersion(_Content):
    """Write the key of an earlier landing again: a new object version."""

    of: str = Field(
        description="The name of an earlier landing (its `as`); without content, the same "
        "bytes are written again."
    )


class TablePublished(_Strict):
    """Another deployment publishes a table this environment depends on: its Table Published
    event, made by the shipped publish code, crosses to this bus as that deployment's
    forwarding role, and this environment's rules take it to the trigger."""

    table: str = Field(
        description="The environment's key for the table (external_tables), which a job's "
        "`trigger: {table: <key>}` names."
    )
    as_: str | None = Field(
        default=None, alias="as", description="A name for this publish, for redeliver."
    )


class Redeliver(_Strict):
    """Deliver the event of an earlier landing or table_published again, as EventBridge may."""

    of: str = Field(description="The name of an earlier landing or table_published (its `as`).")
    times: int = Field(default=1, ge=1, le=100, description="How many times.")


class Mwaa(_Strict):
    """Make the MWAA API (the trigger's way in) unavailable or throttled, or well again."""

    state: Literal["unavailable", "throttled", "available"] = Field(
        description="unavailable: 503; throttled: 429; available: passed to Airflow."
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="How long, in scenario time; without it, until a later mwaa step.",
    )


class FailGlue(_Strict):
    """Make a job's next Glue runs fail, before or after they write their output."""

    job: str = Field(description="The job whose Glue runs fail.")
    when: Literal["before_write", "after_write"] = Field(
        description="before_write: the run fails before its script runs; after_write: the "
        "script runs and writes, then the run ends FAILED."
    )
    runs: int = Field(default=1, ge=1, le=100, description="How many of its next runs.")


class FailTrigger(_Strict):
    """Make the trigger Lambda's next invocations fail, as a function that raised."""

    invocations: int = Field(default=1, ge=1, le=1000, description="How many.")


class Wait(_Strict):
    """Wait until everything has settled, or for a time."""

    until: Literal["idle"] | None = Field(
        default=None,
        description="idle: no message waits in the intake, and no DAG run or Glue run of "
        "the jobs the scenario names is active, for a few seconds.",
    )
    for_: Duration | None = Field(default=None, alias="for", description="Scenario time.")
    within: int = Field(
        default=900, ge=1, le=7200, description="Real seconds allowed for `until` to hold."
    )

    @model_validator(mode="after")
    def _one(self) -> Wait:
        if (self.until is None) == (self.for_ is None):
            raise ValueError("give one of until and for")
        return self


class Expect(_Strict):
    """Counts since the scenario started; each is a verdict."""

    dag_runs: dict[str, dict[DagRunState, Count]] | None = Field(
        default=None, description="Per job, the DAG runs in each state, e.g. {success: 2}."
    )
    glue_runs: dict[str, Count | dict[GlueRunState, Count]] | None = Field(
        default=None, description="Per job, its Glue runs: a total or per state."
    )
    dead_letters: Count | None = Field(
        default=None, description="Messages in the dead-letter queues."
    )
    waiting: Count | None = Field(
        default=None, description="Messages in the trigger's intake queue, waiting or in flight."
    )
    alerts: Count | None = Field(default=None, description="Alerts the webhook received.")
    published: dict[str, Count] | None = Field(
        default=None,
        description="Per output table, the rows it gained since the scenario began, as a "
        "reader of the catalog sees them (its published partitions; a replaced version's rows "
        "no longer count).",
    )
    quarantined: dict[str, Count] | None = Field(
        default=None,
        description="Per output table, the rows its quarantine table gained since the "
        "scenario began: rejected rows, kept with their reasons.",
    )


class Clock(_Strict):
    """How fast scenario time runs."""

    compression: float = Field(
        default=1,
        ge=1,
        le=100_000,
        description="Seconds of scenario time per real second: the trigger's backoff and "
        "retry window, a failed batch's return, Airflow's retry delays and the durations of "
        "mwaa and wait steps. 3600: an hour takes a second.",
    )


class LandStep(_Strict):
    land: Land


class NewVersionStep(_Strict):
    new_version: NewVersion


class TablePublishedStep(_Strict):
    table_published: TablePublished


class RedeliverStep(_Strict):
    redeliver: Redeliver


class MwaaStep(_Strict):
    mwaa: Mwaa


class FailGlueStep(_Strict):
    fail_glue: FailGlue


class FailTriggerStep(_Strict):
    fail_trigger: FailTrigger


class WaitStep(_Strict):
    wait: Wait


class ExpectStep(_Strict):
    expect: Expect


STEPS: dict[str, type[_Strict]] = {
    "land": LandStep,
    "new_version": NewVersionStep,
    "redeliver": RedeliverStep,
    "table_published": TablePublishedStep,
    "mwaa": MwaaStep,
    "fail_glue": FailGlueStep,
    "fail_trigger": FailTriggerStep,
    "wait": WaitStep,
    "expect": ExpectStep,
}
Step = (
    LandStep
    | NewVersionStep
    | RedeliverStep
    | TablePublishedStep
    | MwaaStep
    | FailGlueStep
    | FailTriggerStep
    | WaitStep
    | ExpectStep
)


class Scenario(_Strict):
    """A scenario: faults and files on the local run, and the counts it must end with."""

    description: str = Field(min_length=1, description="What the scenario shows.")
    environment: str | None = Field(
        default=None, description="The environment it is written for (ENV= overrides)."
    )
    clock: Clock = Field(default_factory=Clock)
    steps: list[Step] = Field(min_length=1, description="Run in order; each has one kind.")

    @model_validator(mode="after")
    def _expects(self) -> Scenario:
        if not any(isinstance(step, ExpectStep) for step in self.steps):
            raise ValueError("a scenario needs at least one expect step: what must hold")
        return self


class ScenarioError(ValueError):
    """A scenario file that cannot be run: one line per problem."""


def load(path: Path) -> Scenario:
    """The scenario in `path`, or ScenarioError naming file, field, value and what fits."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with description and steps")
    problems: list[str] = []
    steps = data.get("steps")
    if isinstance(steps, list):
        for i, step in enumerate(steps):
            kinds = list(step) if isinstance(step, dict) else []
            if len(kinds) != 1 or kinds[0] not in STEPS:
                problems.append(
                    f"{path}: steps[{i}]: {step!r}: a step is one of {', '.join(STEPS)}, "
                    "with its settings below it"
                )
                continue
            try:
                STEPS[kinds[0]].model_validate(step)
            except ValidationError as exc:
                problems += _lines(path, exc, f"steps[{i}].")
    if problems:
        raise ScenarioError("\n".join(problems))
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        # Steps were checked one by one above; what is left is outside them.
        lines = [line for line in _lines(path, exc) if ": steps[" not in line or not steps]
        raise ScenarioError("\n".join(lines or _lines(path, exc))) from None


def _lines(path: Path, exc: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for error in exc.errors():
        where = prefix + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f" {value!r}:"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {where}:{shown} {message}")
    return lines

"""Read and validate the config folders; apply environment overrides; check cross-references.

Every problem in every file is collected before anything is raised, so one run of
`python -m configs validate` shows all of them.
"""

from __future__ import annotations

import bisect
import copy
import functools
import graphlib
import importlib.util
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from configs.models import (
    COMPRESSED_ENDINGS,
    INPUT_FORMATS,
    KMS_KEY_ARN_RE,
    EnvironmentConfig,
    JobConfig,
    check_environment_name,
)
from configs.problems import (
    ConfigError,
    ConfigProblem,
    field_path,
    problems_from_validation,
    validation_items,
)
from configs.steps import Where as StepsWhere
from configs.steps import step_type

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_DIR = REPO_ROOT / "configs" / "environments"
JOBS_DIR = REPO_ROOT / "configs" / "jobs"


@dataclass(frozen=True)
class JobSource:
    """A validated job and the file it came from."""

    config: JobConfig
    file: str


@dataclass(frozen=True)
class EnvironmentSource:
    """A validated environment and the file it came from."""

    name: str
    config: EnvironmentConfig
    file: str


@dataclass(frozen=True)
class Platform:
    """Everything one environment deploys: the environment and its jobs, overrides applied."""

    environment: EnvironmentSource
    jobs: Mapping[str, JobConfig]


# libyaml's parser when PyYAML was built with it (several times faster), same safe constructors.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys, which PyYAML would silently overwrite."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (first at line {seen[key] + 1})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display_path(path: Path) -> str:
    """Paths in messages are relative to the current directory when they can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# No config needs more; a larger file is refused before it is parsed.
MAX_CONFIG_BYTES = 1024 * 1024


def read_yaml(path: Path) -> tuple[dict[str, Any] | None, list[ConfigProblem]]:
    """Parse one YAML file into a mapping, or say why it cannot be.

    Refused before anything is built: a file over MAX_CONFIG_BYTES, and YAML aliases, whose
    expansion can grow exponentially ("billion laughs"); a config has no need for them.
    """
    file = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return None, [
                ConfigProblem(
                    file, "(file)", f"{size:,} bytes; a config file may have {MAX_CONFIG_BYTES:,}"
                )
            ]
        text = path.read_text(encoding="utf-8")
        for event in yaml.parse(text, Loader=_SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                return None, [
                    ConfigProblem(
                        file,
                        f"(line {mark.line + 1}, column {mark.column + 1})",
                        f"YAML alias '*{event.anchor}' is not accepted; write the value out",
                    )
                ]
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        return None, [ConfigProblem(file, f"({where})", f"invalid YAML: {exc.problem}")]
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        return None, [ConfigProblem(file, "(file)", f"cannot be read as YAML: {exc}")]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return None, [ConfigProblem(file, "(top level)", f"must be a mapping of keys, got {kind}")]
    return data, []


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_environments(
    folder: Path = ENVIRONMENTS_DIR, only: str | None = None
) -> tuple[dict[str, EnvironmentSource], list[ConfigProblem]]:
    """Validate every environment file (or only the one named), keyed by file stem."""
    problems: list[ConfigProblem] = []
    found: dict[str, EnvironmentSource] = {}
    # Only the folder itself: a stray copy in a subfolder must not stand in for an environment.
    files = sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    available = sorted(p.stem for p in files)
    stems = [p.stem for p in files]
    for path in files:
        if stems.count(path.stem) > 1 and path.suffix == ".yml":
            problems.append(
                ConfigProblem(
                    display_path(path), "(file name)", f"environment {path.stem!r} has two files"
                )
            )
    if only is not None:
        files = [p for p in files if p.stem == only]
        if not files:
            accepted = ", ".join(available) or "none found"
            problems.append(
                ConfigProblem(
                    display_path(folder), "env", f"no environment {only!r}; accepted: {accepted}"
                )
            )
    for path in files:
        file = display_path(path)
        name_problem = check_environment_name(path.stem)
        if name_problem:
            problems.append(ConfigProblem(file, "(file name)", name_problem))
            continue
        raw, read_problems = read_yaml(path)
        problems += read_problems
        if raw is None:
            continue
        try:
            config = EnvironmentConfig.model_validate(raw)
        except ValidationError as exc:
            problems += problems_from_validation(exc, file, EnvironmentConfig)
            continue
        found[path.stem] = EnvironmentSource(path.stem, config, file)
        problems += external_bucket_problems(config, file)
        problems += table_event_problems(config, file, path.stem)
    return found, problems


def external_bucket_problems(config: EnvironmentConfig, file: str) -> list[ConfigProblem]:
    """What an environment's external buckets cannot be: a key its own buckets use, a bucket
    in its own account (declare it under `buckets`, or its grants would be half of a
    cross-account pair), in another region (S3 sends a bucket's events to EventBridge in the
    bucket's own region, and a rule forwards them only to a bus of the same region here), or
    encrypted by a key of another account or region than the bucket's."""
    problems = []
    for key, source in sorted(config.external_buckets.items()):
        where = f"external_buckets.{key}"
        if key in config.buckets:
            problems.append(ConfigProblem(file, where, (
                f"key {key!r} is also one of this environment's own buckets; give the "
                "external bucket another key"
            )))  # fmt: skip
        if source.account == config.account:
            problems.append(ConfigProblem(file, f"{where}.account", (
                f"{source.account!r} is this environment's own account; an external bucket is "
                f"in another account (declare this one under 'buckets' with its name)"
            )))  # fmt: skip
        if source.region != config.region:
            problems.append(ConfigProblem(file, f"{where}.region", (
                f"{source.region!r} is not the environment's region {config.region!r}; an "
                "external bucket must be in the same region (its Object Created events are "
                "forwarded bus to bus within one region)"
            )))  # fmt: skip
        if source.kms_key_arn:
            arn = KMS_KEY_ARN_RE.fullmatch(source.kms_key_arn)
            if arn and (arn["account"], arn["region"]) != (source.account, source.region):
                problems.append(ConfigProblem(file, f"{where}.kms_key_arn", (
                    f"{source.kms_key_arn!r} is a key of account {arn['account']} in "
                    f"{arn['region']}; the bucket's key is in its own account and region "
                    f"({source.account}, {source.region})"
                )))  # fmt: skip
    return problems


def table_event_problems(
    config: EnvironmentConfig, file: str, env_name: str
) -> list[ConfigProblem]:
    """What an environment's external tables and table consumers cannot be
    (docs/architecture.md, decision 20): a table in another region (a rule forwards events only
    to a bus of its own region here), this environment's own table (a job of the same
    environment follows it with depends_on), the same table under two keys; a consumer that is
    this account (its environments read the events on this bus already) or listed twice."""
    problems = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for key, table in sorted(config.external_tables.items()):
        where = f"external_tables.{key}"
        if table.region != config.region:
            problems.append(ConfigProblem(file, f"{where}.region", (
                f"{table.region!r} is not the environment's region {config.region!r}; an "
                "external table must be published in the same region (its Table Published "
                "events are forwarded bus to bus within one region)"
            )))  # fmt: skip
        ident = (table.account, table.name_prefix, table.environment, table.table)
        if ident == (config.account, config.name_prefix, env_name, table.table):
            problems.append(ConfigProblem(file, f"{where}.environment", (
                f"{table.environment!r} in account {table.account} with name_prefix "
                f"{table.name_prefix!r} is this environment: table {table.table!r} is its own; "
                "a job that follows one of its own jobs names it in depends_on"
            )))  # fmt: skip
        elif ident in seen:
            problems.append(ConfigProblem(file, where, (
                f"table {table.table!r} of {table.name_prefix}-{table.environment} in account "
                f"{table.account} is also declared as external_tables.{seen[ident]}; declare "
                "it once and start every job from that key"
            )))  # fmt: skip
        seen.setdefault(ident, key)
    accounts: dict[str, int] = {}
    for i, consumer in enumerate(config.table_consumers):
        where = f"table_consumers[{i}].account"
        if consumer.account == config.account:
            problems.append(ConfigProblem(file, where, (
                f"{consumer.account!r} is this environment's own account; its other "
                "environments get this environment's Table Published events on the default bus "
                "already: declare the table under their external_tables, not here"
            )))  # fmt: skip
        elif consumer.account in accounts:
            problems.append(ConfigProblem(file, where, (
                f"{consumer.account!r} is listed already "
                f"(table_consumers[{accounts[consumer.account]}]); list each account once, "
                "with all its tables"
            )))  # fmt: skip
        accounts.setdefault(consumer.account, i)
    return problems


def load_jobs(
    folder: Path = JOBS_DIR, root: Path = REPO_ROOT
) -> tuple[dict[str, JobSource], dict[str, tuple[dict[str, Any], str]], list[ConfigProblem]]:
    """Validate every job file. Returns valid jobs, every parsed raw job, and problems."""
    problems: list[ConfigProblem] = []
    jobs: dict[str, JobSource] = {}
    raw_jobs: dict[str, tuple[dict[str, Any], str]] = {}
    first_file: dict[str, str] = {}
    if not folder.is_dir():
        return {}, {}, [ConfigProblem(display_path(folder), "jobs_dir", "is not a folder")]
    for path in _yaml_files(folder):
        file = display_path(path)
        raw, read_problems = read_yaml(path)
        problems += read_problems
        if raw is None:
            continue
        name = raw.get("name")
        if isinstance(name, str):
            if name in first_file:
                problems.append(
                    ConfigProblem(
                        file,
                        "name",
                        f"duplicate job name {name!r}: already defined in {first_file[name]}; "
                        "job names must be unique",
                    )
                )
                continue
            first_file[name] = file
            raw_jobs[name] = (raw, file)
        try:
            job = JobConfig.model_validate(raw)
        except ValidationError as exc:
            problems += problems_from_validation(exc, file, JobConfig)
            continue
        jobs[job.name] = JobSource(job, file)
    return jobs, raw_jobs, problems


Where = Callable[[str, tuple[Any, ...]], tuple[str, str]]
"""(job name, field location) -> (file, field) to blame."""


def check_jobs(
    jobs: Mapping[str, JobConfig],
    where: Where,
    *,
    root: Path,
    all_names: Iterable[str] = (),
) -> list[ConfigProblem]:
    """Checks that span files: scripts exist, `depends_on` and `trigger_job` name known jobs
    other than their own, and dependencies have no cycle.

    `all_names` adds jobs that exist but failed validation: they are not unknown, and their
    own problems are reported already.
    """
    problems = []
    names = set(jobs) | set(all_names)
    known = ", ".join(sorted(names)) or "none"

    def add(job: str, loc: tuple[Any, ...], message: str) -> None:
        problems.append(ConfigProblem(*where(job, loc), message))

    for name, job in sorted(jobs.items()):
        if not (root / job.script).is_file():
            add(
                name,
                ("script",),
                f"{job.script!r} does not exist (paths are relative to {display_path(root)}/); "
                + (
                    f"'make new-job NAME={name}' writes a stub there (and its test), and "
                    "leaves this config as it is"
                    if job.script == f"glue_scripts/jobs/{name}.py"
                    else "create it, or point script: at the job's script"
                ),
            )
        for i, upstream in enumerate(job.depends_on):
            if upstream == name:
                add(name, ("depends_on", i), "a job cannot depend on itself")
            elif upstream not in names:
                add(name, ("depends_on", i), f"unknown job {upstream!r}; known: {known}")
        for i, step in enumerate(job.downstream):
            for where_, target in started_by_step(step):
                if target == name:
                    add(name, ("downstream", i, where_),
                        "a job cannot trigger itself (endless loop)")  # fmt: skip
                elif target not in names:
                    add(name, ("downstream", i, where_),
                        f"unknown job {target!r}; known: {known}")  # fmt: skip
    for name, job in sorted(jobs.items()):
        problems.extend(_run_time_problems(name, job, add))
    _table_problems(jobs, add)
    problems.extend(_start_cycle_problems(jobs, add))
    graph = {
        name: [u for u in job.depends_on if u in jobs and u != name] for name, job in jobs.items()
    }
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the nodes that need it; reverse it to read
        # "a -> b: a depends on b", and start from the smallest name so the line is stable.
        cycle = list(reversed(exc.args[1][:-1]))
        i = cycle.index(min(cycle))
        ordered = cycle[i:] + cycle[:i] + [cycle[i]]
        add(
            ordered[0],
            ("depends_on",),
            f"dependency cycle {' -> '.join(ordered)} (each depends on the next); "
            "remove one of these depends_on entries",
        )
    return problems


# InvokeRestApi takes a `Path` of at most 64 characters (botocore/data/mwaa/2020-07-01/
# service-2.json, InvokeRestApiRequest.Path), and the trigger asks for /dags/<dag id>/dagRuns.
INVOKE_REST_API_MAX_PATH = 64
DAG_RUNS_PATH = "/dags/{}/dagRuns"
MAX_DAG_ID = INVOKE_REST_API_MAX_PATH - len(DAG_RUNS_PATH.format(""))


@functools.cache
def runtime_ids() -> dict[str, Any]:
    """The names the factory DAG gives its own things (dags/glueflow_runtime/ids.py, the one
    definition; loaded by path, because configs/ does not import the runtime package)."""
    spec = importlib.util.spec_from_file_location(
        "_glueflow_ids", REPO_ROOT / "dags" / "glueflow_runtime" / "ids.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if k.isupper()}


def factory_task_ids() -> frozenset[str]:
    """The task ids the factory DAG gives its own tasks."""
    return frozenset(v for k, v in runtime_ids().items() if k.endswith("_TASK"))


def _overlap(a: str | None, b: str | None) -> bool:
    """Whether two key prefixes can name the same object (one starts the other)."""
    a, b = a or "", b or ""
    return a.startswith(b) or b.startswith(a)


def _step_graph_problems(name: str, job: JobConfig, add: Callable[..., None]) -> None:
    """Each step's `after` names other steps of the job, once each, and no steps wait for
    each other in a circle (the DAG would refuse it: a cycle)."""
    names = [step.name for step in job.downstream]
    graph: dict[str, list[str]] = {}
    for i, step in enumerate(job.downstream):
        after = step.after if step.after is not None else names[i - 1 : i]
        for j, upstream in enumerate(step.after or []):
            where = ("downstream", i, "after", j)
            if upstream == step.name:
                add(name, where, "a step cannot run after itself")
            elif upstream not in names:
                add(name, where, f"unknown step {upstream!r}; this job's steps: "
                                 f"{', '.join(names)}")  # fmt: skip
            elif step.after.index(upstream) != j:
                add(name, where, f"{upstream!r} is named twice")
        graph[step.name] = [u for u in after if u in names and u != step.name]
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        circle = exc.args[1]
        first = names.index(circle[0])
        add(name, ("downstream", first, "after"),
            f"steps run after each other in a circle: {' -> '.join(circle)}")  # fmt: skip


def _run_time_problems(name: str, job: JobConfig, add: Callable[..., None]) -> list:
    """What AWS, MWAA or Airflow would refuse or get wrong at run time, caught here."""
    if len(name) > MAX_DAG_ID:
        add(
            name,
            ("name",),
            f"{len(name)} characters; at most {MAX_DAG_ID}, because the trigger starts runs "
            f"with MWAA InvokeRestApi at {DAG_RUNS_PATH.format('<name>')}, whose path may "
            f"have {INVOKE_REST_API_MAX_PATH}",
        )
    _step_graph_problems(name, job, add)
    for i, step in enumerate(job.downstream):
        if step.name in factory_task_ids():
            add(
                name,
                ("downstream", i, "name"),
                f"{step.name!r} is a task id of the job's own DAG; reserved: "
                f"{', '.join(sorted(factory_task_ids()))}",
            )
    s3 = job.trigger.s3
    if s3 is None:
        for i, out in enumerate(job.outputs):
            if out.replace == "source_object":
                add(
                    name,
                    ("outputs", i, "replace"),
                    "'source_object': a run replaces what its source object contributed, and "
                    "only a job started by files (trigger.s3) has one; use 'partitions', or "
                    "start the job on files",
                )
        return []
    readable = [loc for loc in job.inputs if loc.bucket == s3.bucket]
    if not any((s3.prefix or "").startswith(loc.prefix) for loc in readable):
        covering = ", ".join(f"{loc.bucket}:{loc.prefix}" for loc in job.inputs) or "none"
        add(
            name,
            ("trigger", "s3", "prefix"),
            f"the trigger starts the job for objects under {s3.bucket}:{s3.prefix or ''} but "
            f"its role may read only its inputs ({covering}); add an input of bucket "
            f"{s3.bucket!r} whose prefix the trigger's starts with",
        )
    _format_problems(name, job, add)
    if job.depends_on:
        add(
            name,
            ("depends_on",),
            f"{job.depends_on!r}: a job started by files runs once per object version, and an "
            "upstream job's run names no object; drop depends_on, or start the job on a "
            "schedule or from its upstream jobs instead of trigger.s3",
        )
    for i, out in enumerate(job.outputs):
        if out.bucket == s3.bucket and _overlap(out.prefix, s3.prefix):
            add(
                name,
                ("outputs", i, "prefix"),
                f"writes under {out.bucket}:{out.prefix}, where its own S3 trigger "
                f"({s3.bucket}:{s3.prefix or ''}) would start it again, without end; write "
                "elsewhere or narrow the trigger's prefix",
            )
    return []


def format_of_suffix(suffix: str) -> str | None:
    """The input format a file name ending names (`.csv.gz` is csv), or None."""
    name = suffix.lower()
    for ending in COMPRESSED_ENDINGS:
        name = name.removesuffix(ending)
    return next((f for f, endings in INPUT_FORMATS.items() if name.endswith(endings)), None)


def _format_problems(name: str, job: JobConfig, add: Callable[..., None]) -> None:
    """An input whose declared format contradicts the file ending its S3 trigger starts on."""
    s3 = job.trigger.s3
    named = format_of_suffix(s3.suffix) if s3 and s3.suffix else None
    if s3 is None or named is None:
        return
    for i, loc in enumerate(job.inputs):
        fed = loc.bucket == s3.bucket and (s3.prefix or "").startswith(loc.prefix)
        if fed and loc.format is not None and loc.format.type != named:
            add(
                name,
                ("inputs", i, "format", "type"),
                f"{loc.format.type!r}, but the S3 trigger starts the job on files ending "
                f"{s3.suffix!r}, which are {named}; declare format {named!r}, or change "
                "trigger.s3.suffix",
            )


def _table_problems(jobs: Mapping[str, JobConfig], add: Callable[..., None]) -> None:
    """One table, one definition: jobs that write the same table name must give it the same
    location, columns, partitions and replace (the catalog holds one), and two tables never
    share a location."""
    first: dict[str, tuple[str, int, Any]] = {}
    places: dict[tuple[str, str], tuple[str, str]] = {}
    for name, job in sorted(jobs.items()):
        for i, out in enumerate(job.outputs):
            seen = first.setdefault(out.table, (name, i, out))
            if seen[0] != name or seen[1] != i:
                if seen[2] != out:
                    add(
                        name,
                        ("outputs", i, "table"),
                        f"{out.table!r} is also written by {seen[0]} (outputs[{seen[1]}]) with a "
                        "different location, columns, partitioning or replace; a table has one "
                        "definition: make them the same, or name this one differently",
                    )
                continue
            place = (out.bucket, out.prefix)
            other = places.setdefault(place, (name, out.table))
            if other[1] != out.table:
                add(
                    name,
                    ("outputs", i, "prefix"),
                    f"{out.bucket}:{out.prefix} is the location of table {other[1]!r} "
                    f"({other[0]}); each table needs a location of its own",
                )


class _TriggerIndex:
    """The jobs whose S3 trigger prefix overlaps a key prefix, per bucket, without comparing
    every output with every trigger (2,000 jobs would be 4 million pairs)."""

    def __init__(self, jobs: Mapping[str, JobConfig]) -> None:
        self._jobs: dict[str, dict[str, set[str]]] = {}
        for name, job in jobs.items():
            if s3 := job.trigger.s3:
                prefixes = self._jobs.setdefault(s3.bucket, {})
                prefixes.setdefault(s3.prefix or "", set()).add(name)
        self._sorted = {bucket: sorted(p) for bucket, p in self._jobs.items()}

    def overlapping(self, bucket: str, prefix: str) -> set[str]:
        """Jobs whose trigger prefix starts `prefix`, or starts with it."""
        by_prefix = self._jobs.get(bucket, {})
        found = {job for i in range(len(prefix) + 1) for job in by_prefix.get(prefix[:i], ())}
        ordered = self._sorted.get(bucket, [])
        for trigger in ordered[bisect.bisect_left(ordered, prefix) :]:
            if not trigger.startswith(prefix):
                break
            found |= by_prefix[trigger]
        return found


def started_by_step(step: Any) -> list[tuple[str, str]]:
    """The jobs a downstream step starts, each with its field (its type's `starts`)."""
    return step_type(step.type).starts(step.model_dump())


def _start_cycle_problems(jobs: Mapping[str, JobConfig], add: Callable[..., None]) -> list:
    """Jobs that start each other in a circle: through what one writes where another's S3
    trigger listens, a trigger_job step, or depends_on (a circle of depends_on alone is the
    dependency cycle reported with depends_on)."""
    how: dict[tuple[str, str], str] = {}
    listening = _TriggerIndex(jobs)
    for name, job in jobs.items():
        for out in job.outputs:
            for other in sorted(listening.overlapping(out.bucket, out.prefix) - {name}):
                how.setdefault((name, other), "writes where its trigger listens")
        for step in job.downstream:
            for _, target in started_by_step(step):
                if target in jobs and target != name:
                    how.setdefault((name, target), f"{step.type} step {step.name!r}")
        for upstream in job.depends_on:
            if upstream in jobs and upstream != name:
                how.setdefault((upstream, name), "depends_on")
    # graphlib takes each node's predecessors: who starts it.
    started_by: dict[str, set[str]] = {name: set() for name in jobs}
    for starter, started in how:
        started_by[started].add(starter)
    try:
        graphlib.TopologicalSorter(started_by).prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])  # each node is started by the one before it... or after
        if (cycle[0], cycle[1]) not in how:
            cycle.reverse()
        ring = cycle[:-1]
        i = ring.index(min(ring))
        ordered = ring[i:] + ring[:i] + [ring[i]]
        steps = [how[(a, b)] for a, b in itertools.pairwise(ordered)]
        if any(step != "depends_on" for step in steps):
            path = " ".join(f"{a} -[{step}]->" for a, step in zip(ordered, steps, strict=False))
            add(
                ordered[0],
                ("outputs",),
                f"jobs start each other without end: {path} {ordered[-1]}",
            )
    return []


def check_job_graph(
    jobs: Mapping[str, JobSource], all_names: Iterable[str] = (), root: Path = REPO_ROOT
) -> list[ConfigProblem]:
    """`check_jobs` on the job files as written, blaming each job's own file."""
    return check_jobs(
        {name: source.config for name, source in jobs.items()},
        lambda job, loc: (jobs[job].file, field_path(loc)),
        root=root,
        all_names=all_names,
    )


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _touches(override: Mapping[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = override
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, Mapping):
            return True
    return True


def apply_environment(
    env: EnvironmentSource,
    jobs: Mapping[str, JobSource],
    raw_jobs: Mapping[str, tuple[dict[str, Any], str]],
    *,
    root: Path = REPO_ROOT,
    overrides_must_match: bool = True,
) -> tuple[dict[str, JobConfig], list[ConfigProblem]]:
    """The jobs as this environment runs them, and what is wrong with them there.

    An override for a job that does not exist is a stale entry and an error, except when
    another jobs folder stands in for the project's (scale tests, benchmarks).
    """
    problems: list[ConfigProblem] = []
    resolved: dict[str, JobConfig] = {}
    known = ", ".join(sorted(raw_jobs)) or "none"
    for job_name, override in sorted(env.config.job_overrides.items()):
        if job_name not in raw_jobs and overrides_must_match:
            problems.append(
                ConfigProblem(
                    env.file,
                    f"job_overrides.{job_name}",
                    f"unknown job {job_name!r}; known: {known}",
                )
            )
        elif "name" in override:
            problems.append(
                ConfigProblem(
                    env.file,
                    f"job_overrides.{job_name}.name",
                    "a job's name cannot be overridden: it is its identity in every environment",
                )
            )

    def where(job: str, loc: tuple[Any, ...]) -> tuple[str, str]:
        """Blame the environment file for what its override set, the job file otherwise."""
        override = env.config.job_overrides.get(job) or {}
        if _touches(override, loc):
            return env.file, field_path(("job_overrides", job, *loc))
        return jobs[job].file, field_path(loc)

    for name, source in sorted(jobs.items()):
        override = env.config.job_overrides.get(name)
        job = source.config
        if override:
            try:
                job = JobConfig.model_validate(_deep_merge(raw_jobs[name][0], override))
            except ValidationError as exc:
                for loc, message in validation_items(exc, JobConfig):
                    problems.append(ConfigProblem(*where(name, loc), message))
                continue
        resolved[name] = job

    problems += check_jobs(resolved, where, root=root, all_names=raw_jobs)
    for name, job in sorted(resolved.items()):
        problems += _check_buckets(name, job, env, where)
        problems += _check_steps(name, job, env, where)
    problems += _check_connections(resolved, where)
    problems += _check_table_events(resolved, env, where, strict=overrides_must_match)
    return resolved, problems


def _check_table_events(
    jobs: Mapping[str, JobConfig], env: EnvironmentSource, where: Where, *, strict: bool
) -> list[ConfigProblem]:
    """A job's `trigger.table` names one of the environment's external tables, and each table
    a consumer is given is written by one of its jobs (docs/architecture.md, decision 20).
    With another jobs folder (scale tests, benchmarks), tables its jobs do not write are not
    reported, as overrides of unknown jobs are not."""
    declared = env.config.external_tables
    accepted = ", ".join(sorted(declared)) or f"none are declared ({env.file}: external_tables)"
    problems = []
    for name, job in sorted(jobs.items()):
        key = job.trigger.table
        if key is not None and key not in declared:
            problems.append(ConfigProblem(*where(name, ("trigger", "table")), (
                f"unknown external table {key!r} of environment {env.name!r} ({env.file}); "
                f"accepted: {accepted}"
            )))  # fmt: skip
    if not strict:
        return problems
    written = {out.table for job in jobs.values() for out in job.outputs}
    known = ", ".join(sorted(written)) or "none"
    for i, consumer in enumerate(env.config.table_consumers):
        for j, table in enumerate(consumer.tables):
            if table not in written:
                problems.append(ConfigProblem(env.file, f"table_consumers[{i}].tables[{j}]", (
                    f"{table!r} is not a table this environment's jobs write; accepted: {known}"
                )))  # fmt: skip
    return problems


def _check_steps(
    name: str, job: JobConfig, env: EnvironmentSource, where: Where
) -> list[ConfigProblem]:
    """What each step's type says this environment cannot run (its `check`), and a step
    that calls the internet in an environment with no route to it."""
    here = StepsWhere("aws", env.config.region, env.config.account, env.config.network.egress)
    # AWS's convention for a monthly estimate, as stacks/fixed_cost.py prices the NAT.
    nat_month = env.config.pricing.nat_gateway_hour_usd * 730
    problems = []
    for i, step in enumerate(job.downstream):
        kind = step_type(step.type)
        problems += [
            ConfigProblem(*where(name, ("downstream", i, *loc)), message)
            for loc, message in kind.check(step, here)
        ]
        calls = kind.internet(step)
        if calls and not here.egress:
            problems.append(
                ConfigProblem(
                    *where(name, ("downstream", i, "type")),
                    f"step {step.name!r} ({step.type}) calls {calls} on the internet, and "
                    f"environment {env.name!r} has no route out of its VPC. To allow it, set "
                    f"'network: {{egress: true}}' in {env.file}: a NAT gateway (about "
                    f"{nat_month:.0f} USD a month plus data; `make review` flags it as a "
                    "network broadening). Or run the step in an environment that has egress.",
                )
            )
    return problems


def _check_connections(jobs: Mapping[str, JobConfig], where: Where) -> list[ConfigProblem]:
    """An Airflow connection is one secret of one kind: steps of two types cannot share it
    (a dbt Cloud token is no Tableau sign-in), and none may be the runtime's own AWS
    connection, which comes from MWAA's execution role and must not be shadowed by a secret."""
    problems, kinds = [], {}
    for name, job in sorted(jobs.items()):
        for i, step in enumerate(job.downstream):
            for field, conn in step_type(step.type).connections(step).items():
                loc = ("downstream", i, field)
                if conn == runtime_ids()["AWS_CONN_ID"]:
                    problems.append(ConfigProblem(*where(name, loc), (
                        f"{conn!r} is the runtime's AWS connection (MWAA's execution role); "
                        "name the step's own connection, e.g. '" + step.type + "_default'"
                    )))  # fmt: skip
                    continue
                first = kinds.setdefault(conn, (step.type, name, step.name))
                if first[0] != step.type:
                    problems.append(ConfigProblem(*where(name, loc), (
                        f"connection {conn!r} is used by step {first[2]!r} of job {first[1]!r} "
                        f"as a {first[0]} connection; a {step.type} step needs its own "
                        "connection (each is one secret of one kind)"
                    )))  # fmt: skip
    return problems


def _check_buckets(
    name: str, job: JobConfig, env: EnvironmentSource, where: Where
) -> list[ConfigProblem]:
    """Each bucket a job names is declared, by the environment or as an external bucket; an
    external one is only read and triggered from, under a prefix its source offers."""
    declared = env.config.buckets
    external = env.config.external_buckets
    accepted = ", ".join(sorted([*declared, *external]))
    reads: list[tuple[tuple[Any, ...], str, str | None]] = [
        (("inputs", i), loc.bucket, loc.prefix) for i, loc in enumerate(job.inputs)
    ]
    if job.trigger.s3 is not None:
        reads.append((("trigger", "s3"), job.trigger.s3.bucket, job.trigger.s3.prefix))
    writes = [(("outputs", i), loc.bucket) for i, loc in enumerate(job.outputs)]
    problems = []
    for loc, bucket in [*((loc, bucket) for loc, bucket, _ in reads), *writes]:
        if bucket not in declared and bucket not in external:
            problems.append(ConfigProblem(*where(name, (*loc, "bucket")), (
                f"bucket {bucket!r} is not declared by environment {env.name!r} ({env.file}); "
                f"declared: {accepted}"
            )))  # fmt: skip
    for loc, bucket in writes:
        if bucket in external:
            problems.append(ConfigProblem(*where(name, (*loc, "bucket")), (
                f"bucket {bucket!r} is external (account {external[bucket].account}): jobs read "
                f"it and are triggered by it, but write only to the environment's own buckets "
                f"({', '.join(sorted(declared))})"
            )))  # fmt: skip
    if job.trigger.schedule is not None and job.inputs and job.inputs[0].bucket in external:
        # The schedule's input sensor lists it as MWAA's execution role, which has no name a
        # source's bucket policy could grant (it is CloudFormation's): only job roles are.
        problems.append(ConfigProblem(*where(name, ("inputs", 0, "bucket")), (
            f"bucket {job.inputs[0].bucket!r} is external: a scheduled job waits for its first "
            "input as MWAA's role, which the source does not grant; list an own bucket's input "
            "first, or start the job by an S3 trigger on the external prefix"
        )))  # fmt: skip
    for loc, bucket, prefix in reads:
        source = external.get(bucket)
        if source is None or any((prefix or "").startswith(p) for p in source.prefixes):
            continue
        problems.append(ConfigProblem(*where(name, (*loc, "prefix")), (
            f"{prefix or ''!r} is not under a prefix that external bucket {bucket!r} offers "
            f"({env.file}: external_buckets.{bucket}.prefixes); accepted: prefixes starting "
            f"with {', '.join(repr(p) for p in source.prefixes)}"
        )))  # fmt: skip
    return problems


def _strict(strict_overrides: bool | None, jobs_dir: Path) -> bool:
    if strict_overrides is not None:
        return strict_overrides
    return jobs_dir.resolve() == JOBS_DIR.resolve()


def load_platform(
    env_name: str,
    *,
    jobs_dir: Path = JOBS_DIR,
    environments_dir: Path = ENVIRONMENTS_DIR,
    root: Path = REPO_ROOT,
    strict_overrides: bool | None = None,
) -> Platform:
    """Validate one environment and every job for it. Raises ConfigError with all problems.

    `strict_overrides` (default: only for the project's own jobs folder) makes an environment
    override naming an unknown job an error.
    """
    envs, problems = load_environments(environments_dir, only=env_name)
    jobs, raw_jobs, job_problems = load_jobs(jobs_dir, root)
    problems += job_problems + check_job_graph(jobs, raw_jobs, root)
    resolved: dict[str, JobConfig] = {}
    if env_name in envs:
        resolved, env_problems = apply_environment(
            envs[env_name],
            jobs,
            raw_jobs,
            root=root,
            overrides_must_match=_strict(strict_overrides, jobs_dir),
        )
        problems += env_problems
    if problems:
        raise ConfigError(problems)
    return Platform(envs[env_name], resolved)


def validate_all(
    *,
    jobs_dir: Path = JOBS_DIR,
    environments_dir: Path = ENVIRONMENTS_DIR,
    root: Path = REPO_ROOT,
    env_names: Iterable[str] | None = None,
    strict_overrides: bool | None = None,
) -> list[ConfigProblem]:
    """Every problem in every job, checked against every environment (or those named)."""
    problems: list[ConfigProblem] = []
    envs: dict[str, EnvironmentSource] = {}
    for name in env_names or [None]:
        found, env_problems = load_environments(environments_dir, only=name)
        envs.update(found)
        problems += env_problems
    if not envs and not problems:
        problems.append(
            ConfigProblem(display_path(environments_dir), "(folder)", "no environment files found")
        )
    jobs, raw_jobs, job_problems = load_jobs(jobs_dir, root)
    problems += job_problems + check_job_graph(jobs, raw_jobs, root)
    for env in envs.values():
        problems += apply_environment(
            env,
            jobs,
            raw_jobs,
            root=root,
            overrides_must_match=_strict(strict_overrides, jobs_dir),
        )[1]
    return sorted(set(problems))

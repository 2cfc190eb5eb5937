"""`make scenario FILE=path`: run scenarios (glueflow_local/scenario_model.py) on a LocalRun.

Each step acts on the running local environment:
- land / new_version / redeliver: `LocalRun.land`, which puts the object in moto's S3 and
  sends S3's Object Created event through the synthesized rules to the intake queue, or
  delivers an earlier event again;
- table_published / redeliver: `LocalRun.table_published`, another deployment's Table
  Published event (glueflow_local/tables.py) across to this bus and its rules, or again;
- mwaa: the pass-through in front of Airflow's API (glueflow_local/faults.py) answers 503 or
  429 to the trigger, for a duration of scenario time;
- fail_glue: the Glue stand-in fails a job's next runs before its script runs, or after the
  script wrote its output;
- fail_trigger: the trigger Lambda's next invocations fail as a function that raised;
- wait: until nothing waits in the intake and no DAG or Glue run is active, or for a time;
- expect: counts since the scenario began, each printed as a verdict.
Several scenarios on one local run each count from their own start, and the faults one left
on are cleared before the next begins.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glueflow_local import warehouse
from glueflow_local.errors import LocalRunError
from glueflow_local.glue import FINISHED
from glueflow_local.run import QUIET_S, TERMINAL, Landing, LocalRun
from glueflow_local.scenario_model import (
    Expect,
    FailGlue,
    FailTrigger,
    Land,
    Mwaa,
    NewVersion,
    Redeliver,
    Scenario,
    TablePublished,
    Wait,
)
from glueflow_local.tables import Producer, producer

SAMPLES = Path(__file__).with_name("samples")
ANSWER_S = 180  # bound on Airflow's API answering again (a stalled SQLite waits up to 60 s)
SAMPLE_FILES = {"good": "sales_good.csv", "bad": "sales_bad.csv"}


@dataclass
class Verdict:
    scenario: str
    what: str
    actual: Any
    expected: Any

    @property
    def held(self) -> bool:
        return self.actual == self.expected

    def line(self) -> str:
        mark = "ok  " if self.held else "FAIL"
        return f"{mark} {self.scenario}: {self.what}: {self.actual} (expected {self.expected})"


@dataclass
class Baseline:
    """What existed when a scenario began, so that it counts only its own."""

    dag_runs: set[tuple[str, str]]
    glue_runs: set[str]
    dead_letters: int
    alerts: int
    rows: dict[str, int] = field(default_factory=dict)  # per catalog table, when counted


@dataclass
class ScenarioRun:
    run: LocalRun
    name: str
    scenario: Scenario
    folder: Path
    say: Any = print
    landings: dict[str, list[Landing]] = field(default_factory=dict)
    # Named table_published steps: the producer and the event its publish put on its bus.
    announced: dict[str, tuple[Producer, dict[str, Any]]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    # --- Running ------------------------------------------------------------------------

    def play(self) -> list[Verdict]:
        run = self.run
        self._check(run)
        scale = self.scenario.clock.compression
        if scale != run.time_scale:
            raise LocalRunError(
                f"{self.name}: its clock runs {scale:g}x and the local run's {run.time_scale:g}x"
            )
        clock = f", clock {scale:g}x (an hour takes {3600 / scale:.3g} s)" if scale > 1 else ""
        for step in self.scenario.steps:  # a table the run does not have: before anything
            expect = getattr(step, next(iter(type(step).model_fields)))
            if isinstance(expect, Expect):
                for table in expect.published or {}:
                    self._quarantine_of(table, gated=False)
                for table in expect.quarantined or {}:
                    self._quarantine_of(table)
        self.say(f"scenario {self.name}: {self.scenario.description.strip()}{clock}")
        self.baseline = self._baseline()
        try:
            for step in self.scenario.steps:
                kind = next(iter(type(step).model_fields))
                getattr(self, f"_{kind}")(getattr(step, kind))
        finally:
            self._clear_faults()
        return self.verdicts

    def _check(self, run: LocalRun) -> None:
        if run.watcher is None or run.glue is None or run.api_gate is None or run.cloud is None:
            raise LocalRunError("the local run is not started")

    def _job(self, name: str) -> dict[str, Any]:
        jobs = self.run.manifest["jobs"]
        if name not in jobs:
            raise LocalRunError(f"{self.name}: no job {name!r} here; jobs: {', '.join(jobs)}")
        return jobs[name]

    def _content(self, step: Land | NewVersion) -> tuple[str, bytes] | None:
        if step.file is not None:
            path = (self.folder / step.file).resolve()
            if not path.is_file():
                raise LocalRunError(f"{self.name}: file {step.file}: no such file")
            return path.name, path.read_bytes()
        if step.sample is not None:
            name = SAMPLE_FILES[step.sample]
            return name, (SAMPLES / name).read_bytes()
        if step.body is not None:
            return "data", step.body.encode()
        return None

    def _land(self, step: Land) -> None:
        job = self._job(step.job)
        trigger = job["trigger"]
        if trigger.get("type") != "s3":
            raise LocalRunError(f"{self.name}: job {step.job} is not started by files")
        good = SAMPLE_FILES["good"]
        name, body = self._content(step) or (good, (SAMPLES / good).read_bytes())
        suffix = trigger.get("suffix") or ""
        if suffix and not name.endswith(suffix):
            name += suffix
        prefix = trigger["prefix"] if step.prefix is None else step.prefix
        key = prefix + (step.key or f"{self.name}/{name}")
        keys = [key] if step.copies == 1 else [_copy_key(key, n) for n in range(step.copies)]
        started = time.monotonic()
        landed = [self.run.land(trigger["bucket"], k, body) for k in keys]
        if step.copies > 1:
            took = time.monotonic() - started
            self.say(f"  landed {step.copies} copies of {name} in {took:.1f} s")
        if step.as_:
            self.landings[step.as_] = landed

    def _named(self, name: str) -> list[Landing]:
        if name not in self.landings:
            known = ", ".join([*self.landings, *self.announced]) or "none"
            raise LocalRunError(f"{self.name}: no landing named {name!r} earlier; named: {known}")
        return self.landings[name]

    def _new_version(self, step: NewVersion) -> None:
        for earlier in self._named(step.of):
            content = self._content(step)
            body = content[1] if content else self._body(earlier)
            self.run.land(earlier.bucket, earlier.key, body)

    def _body(self, landing: Landing) -> bytes:
        s3 = self.run.cloud.client("s3")
        version = landing.event["detail"]["object"].get("version-id")
        extra = {"VersionId": version} if version else {}
        return s3.get_object(Bucket=landing.bucket, Key=landing.key, **extra)["Body"].read()

    def _table_published(self, step: TablePublished) -> None:
        try:
            made = producer(self.run.manifest, step.table)
        except LocalRunError as exc:
            raise LocalRunError(f"{self.name}: {exc}") from None
        event = self.run.table_published(made)
        if step.as_:
            self.announced[step.as_] = (made, event)

    def _redeliver(self, step: Redeliver) -> None:
        if step.of in self.announced:
            made, event = self.announced[step.of]
            for _ in range(step.times):
                self.run.table_published(made, event=event)
            return
        for earlier in self._named(step.of):
            for _ in range(step.times):
                self.run.land(earlier.bucket, earlier.key, b"", event=earlier.event)

    def _mwaa(self, step: Mwaa) -> None:
        real = step.for_ / self.scenario.clock.compression if step.for_ is not None else None
        self.run.api_gate.set(step.state, real)
        lasting = f" for {_hours(step.for_)} ({real:.3g} s)" if real is not None else ""
        self.say(f"  the MWAA API is {step.state}{lasting}")

    def _fail_glue(self, step: FailGlue) -> None:
        glue_job = self._job(step.job)["glue_job_name"]
        self.run.glue.faults.setdefault(glue_job, []).extend([step.when] * step.runs)
        self.say(f"  the next {step.runs} Glue run(s) of {step.job} fail {step.when}")

    def _fail_trigger(self, step: FailTrigger) -> None:
        for source in self.run.cloud.event_sources:
            source.function.fail_next += step.invocations
        self.say(f"  the trigger's next {step.invocations} invocation(s) fail")

    def _wait(self, step: Wait) -> None:
        if step.for_ is not None:
            time.sleep(step.for_ / self.scenario.clock.compression)
            return
        since: list[float] = []
        asked = time.monotonic()
        jobs = self._jobs_named()
        glue_jobs = {self._job(job)["glue_job_name"] for job in jobs}

        def idle() -> bool:
            watcher = self.run.watcher
            if watcher.error or watcher.last_ok < asked:  # Airflow's answer, not a stale one
                since.clear()
                return False
            busy = [r for r in list(self.run.watcher.runs.values())
                    if r.state not in TERMINAL and r.dag_id in jobs]  # fmt: skip
            glue = [r for r in list(self.run.glue.runs.values())
                    if r.state not in FINISHED and r.job["Name"] in glue_jobs]  # fmt: skip
            if busy or glue or self._waiting():
                since.clear()
                return False
            since[:] = since or [time.monotonic()]
            return time.monotonic() - since[0] > QUIET_S

        started = time.monotonic()
        self.run.airflow.wait_for("the scenario's runs ending", idle, step.within)
        self.say(f"  idle after {time.monotonic() - started:.0f} s")

    def _jobs_named(self) -> set[str]:
        """What `idle` waits for: the jobs the scenario names (`named_jobs`), or every job
        when it names none. The environment's other DAGs (a scheduled one waiting for its
        input, say) are not."""
        return named_jobs(self.scenario) or set(self.run.manifest["jobs"])

    def _expect(self, step: Expect) -> None:
        add = self.verdicts.append
        runs = self._dag_runs()
        for job, states in (step.dag_runs or {}).items():
            self._job(job)
            counted = Counter(r.state for r in runs if r.dag_id == job)
            if not states:  # {}: no run at all
                add(Verdict(self.name, f"DAG runs of {job}", sum(counted.values()), 0))
                continue
            for state, count in states.items():
                add(Verdict(self.name, f"DAG runs of {job} {state}", counted[state], count))
            others = {s: n for s, n in counted.items() if s not in states}
            if others:
                add(Verdict(self.name, f"DAG runs of {job} in other states", others, {}))
        glue = self._glue_runs()
        for job, wanted in (step.glue_runs or {}).items():
            name = self._job(job)["glue_job_name"]
            states = Counter(r.state for r in glue if r.job["Name"] == name)
            if isinstance(wanted, int):
                add(Verdict(self.name, f"Glue runs of {job}", sum(states.values()), wanted))
            else:
                for state, count in wanted.items():
                    add(Verdict(self.name, f"Glue runs of {job} {state}", states[state], count))
        if step.dead_letters is not None:
            dead = self._dead_letters() - self.baseline.dead_letters
            add(Verdict(self.name, "dead letters", dead, step.dead_letters))
        if step.waiting is not None:
            add(Verdict(self.name, "messages waiting in the intake", self._waiting(), step.waiting))
        if step.alerts is not None:
            alerts = len(self.run.webhook.received) - self.baseline.alerts
            add(Verdict(self.name, "alerts", alerts, step.alerts))
        wanted = [(t, n, t) for t, n in (step.published or {}).items()]
        wanted += [(t, n, self._quarantine_of(t)) for t, n in (step.quarantined or {}).items()]
        if wanted:
            rows = self._table_rows()
            for table, count, counted in wanted:
                what = "published rows of" if counted == table else "quarantined rows of"
                gained = rows.get(counted, 0) - self.baseline.rows.get(counted, 0)
                add(Verdict(self.name, f"{what} {table}", gained, count))

    # --- Counting -----------------------------------------------------------------------

    def _baseline(self) -> Baseline:
        counts_rows = any(
            isinstance(v := getattr(step, next(iter(type(step).model_fields))), Expect)
            and (v.published or v.quarantined)
            for step in self.scenario.steps
        )
        return Baseline(
            dag_runs=set(self.run.watcher.runs),
            glue_runs=set(self.run.glue.runs),
            dead_letters=self._dead_letters(),
            alerts=len(self.run.webhook.received),
            rows=self._table_rows() if counts_rows else {},
        )

    def _outputs(self) -> dict[str, dict[str, Any]]:
        return {o["table"]: o for job in self.run.manifest["jobs"].values() for o in job["outputs"]}

    def _quarantine_of(self, table: str, gated: bool = True) -> str:
        output = self._outputs().get(table)
        if output is None:
            raise LocalRunError(
                f"{self.name}: no output table {table!r}; tables: "
                f"{', '.join(sorted(self._outputs()))}"
            )
        if not gated:
            return table
        if not output.get("quarantine_table"):
            raise LocalRunError(f"{self.name}: table {table!r} has no quarantine (no gate)")
        return output["quarantine_table"]

    def _table_rows(self) -> dict[str, int]:
        """Rows of every table of the catalog, as a reader sees them (the published
        partitions' files, copied out: glueflow_local.warehouse)."""
        target = self.run.export_warehouse()
        catalog = json.loads((target / warehouse.CATALOG_FILE).read_text(encoding="utf-8"))
        return {table: warehouse.count(target, table) for table in catalog["tables"]}

    def _dag_runs(self) -> list[Any]:
        asked, watcher = time.monotonic(), self.run.watcher
        # What Airflow says now, not at the last poll: wait for one it answered in full.
        self.run.airflow.wait_for(
            "Airflow's API answering the watcher",
            lambda: watcher.last_ok > asked and not watcher.error,
            ANSWER_S,
        )
        return [r for k, r in list(self.run.watcher.runs.items())
                if k not in self.baseline.dag_runs]  # fmt: skip

    def _glue_runs(self) -> list[Any]:
        return [r for i, r in list(self.run.glue.runs.items()) if i not in self.baseline.glue_runs]

    def _queue_count(self, url: str) -> int:
        attributes = self.run.cloud.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def _waiting(self) -> int:
        return sum(self._queue_count(s.queue_url) for s in self.run.cloud.event_sources)

    def _dead_letters(self) -> int:
        return sum(self._queue_count(url) for url in dead_letter_queues(self.run))

    def _clear_faults(self) -> None:
        self.run.api_gate.set("available")
        self.run.glue.faults.clear()
        for source in self.run.cloud.event_sources:
            source.function.fail_next = 0


def named_jobs(scenario: Scenario) -> set[str]:
    """The jobs a scenario lands files for, fails or counts."""
    jobs: set[str] = set()
    for step in scenario.steps:
        kind = next(iter(type(step).model_fields))
        value = getattr(step, kind)
        if isinstance(value, Land | FailGlue):
            jobs.add(value.job)
        elif isinstance(value, Expect):
            jobs.update(value.dag_runs or {})
            jobs.update(value.glue_runs or {})
    return jobs


def dead_letter_queues(run: LocalRun) -> list[str]:
    """The URLs of every queue the templates name as a dead-letter queue: a queue's redrive
    target, an EventBridge target's DeadLetterConfig, a function's DeadLetterConfig."""
    cloud = run.cloud
    arns: set[str] = set()
    for stack, template in run.assembly.templates.items():
        for resource in template.get("Resources", {}).values():
            props = resource.get("Properties") or {}
            kind = resource["Type"]
            if kind == "AWS::SQS::Queue" and props.get("RedrivePolicy"):
                arns.add(cloud.resolve(stack, props["RedrivePolicy"]["deadLetterTargetArn"]))
            elif kind == "AWS::Events::Rule":
                for target in props.get("Targets") or []:
                    if (target.get("DeadLetterConfig") or {}).get("Arn"):
                        arns.add(cloud.resolve(stack, target["DeadLetterConfig"]["Arn"]))
            elif kind == "AWS::Lambda::Function" and props.get("DeadLetterConfig"):
                arns.add(cloud.resolve(stack, props["DeadLetterConfig"]["TargetArn"]))
    return sorted(cloud.queue_url(arn) for arn in arns)


def _copy_key(key: str, n: int) -> str:
    stem, dot, ext = key.rpartition(".")
    if not dot or "/" in ext:
        return f"{key}-{n + 1:05d}"
    return f"{stem}-{n + 1:05d}.{ext}"


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"

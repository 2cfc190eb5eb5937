"""`make replay`: a job's archived arrivals delivered again through its bucket's rule, the
intake queue and the shipped trigger, on the local cloud (moto's server with what the
synthesized templates declare; the archive and StartReplay as EventBridge documents them:
"Archiving and replaying events", Amazon EventBridge User Guide; "StartReplay", API
Reference). Airflow's API is a local HTTP server that answers `POST /dags/{id}/dagRuns` as
Airflow does: 200 for a new run id, 409 for one that exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from glueflow_local.cloud import LocalCloud
from glueflow_local.events import object_created
from glueflow_ops import replay
from tests.conftest import REPO_ROOT
from tests.json_http import JsonHandler, serving
from tests.local.conftest import local_cloud
from tests.synth import Synthesized

# Slow, as all of tests/local (tests/test_markers.py): moto's server, the trigger's process.
pytestmark = pytest.mark.slow

STACK = "glueflow-dev-triggers"
RAW = "glueflow-dev-raw-111111111111"
RULE_OUTPUT = "ObjectCreatedGlueflowDevRaw111111111111Arn"


class Airflow(JsonHandler):
    """POST creates a run (state success unless `failing` names its key); GET lists runs with
    `run_id_pattern` as Airflow's `GET /dags/{dag_id}/dagRuns` does (`dag_runs` of
    `dag_run_id` and `state`; airflow-core routes/public/dag_run.py, `get_dag_runs`)."""

    runs: dict[tuple[str, str], dict]
    states: dict[tuple[str, str], str]
    failing: set[str]
    posts: list[str]

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        dag = path.split("/")[-2]
        pattern = urllib.parse.parse_qs(query)["run_id_pattern"][0]
        found = [{"dag_run_id": run_id, "state": self.states[(d, run_id)]}
                 for (d, run_id) in self.runs if d == dag and pattern in run_id]  # fmt: skip
        self.answer(200, {"dag_runs": found, "total_entries": len(found)})

    def do_POST(self) -> None:
        body = self.read_json()
        dag = self.path.split("/")[-2]
        self.posts.append(dag)
        key = (dag, body["dag_run_id"])
        status = 409 if key in self.runs else 200
        self.runs.setdefault(key, body["conf"])
        failed = body["conf"]["key"] in self.failing and "replay" not in body["conf"]
        self.states.setdefault(key, "failed" if failed else "success")
        self.answer(status, {"dag_run_id": body["dag_run_id"]})


@pytest.fixture(scope="module")
def airflow() -> Iterator[type[Airflow]]:
    fields = {"runs": {}, "states": {}, "failing": {"sales/incoming/b.csv"}, "posts": []}
    api = type("RecordingAirflow", (Airflow,), fields)
    with serving(api) as base:
        api.url = f"{base}/api/v2"  # type: ignore[attr-defined]
        yield api


@pytest.fixture(scope="module")
def cloud(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory, airflow) -> Iterator[Any]:
    """With the intake's poller, which runs the shipped trigger against `airflow`."""
    env = {"AIRFLOW_API_URL": airflow.url}
    with local_cloud(dev, tmp_path_factory.mktemp("replay"), function_env=env) as local:
        yield local


def runs_of(airflow, dag: str) -> list[dict]:
    return [conf for (d, _), conf in airflow.runs.items() if d == dag]


def settle(airflow, count: int, timeout_s: float = 60) -> None:
    """Until Airflow has had `count` POSTs (the poller and the trigger are asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while len(airflow.posts) < count:
        assert time.monotonic() < deadline, f"{len(airflow.posts)} of {count} POSTs"
        time.sleep(0.2)
    time.sleep(1.5)  # and nothing more comes


def test_replay_runs_nothing_again_and_reprocess_gives_each_object_a_new_run(
    cloud: LocalCloud, airflow
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    keys = ["sales/incoming/a.csv", "sales/incoming/b.csv", "marketing/events/c.json"]
    for key in keys:
        cloud.put_event(object_created(cloud.account, cloud.region, RAW, key, 10, f"etag-{key}"))
    settle(airflow, 3)
    assert len(runs_of(airflow, "sales_ingest")) == 2
    assert len(runs_of(airflow, "marketing_events_ingest")) == 1
    arguments = {
        "job": "sales_ingest", "archive_arn": cloud.output(STACK, "ArchiveArn"),
        "bus_arn": cloud.output(STACK, "EventBusArn"),
        "rule_arn": cloud.output(STACK, RULE_OUTPUT), "since": since,
        "until": datetime.now(UTC) + timedelta(seconds=1),
    }  # fmt: skip

    # A replay: sales_ingest's two objects asked again; a.csv's run succeeded, so it is not
    # run again, b.csv's failed, so it runs again; marketing's object is not asked.
    name = replay.start(cloud, reprocess=False, **arguments)
    assert replay.wait(cloud, name, 10)["State"] == "COMPLETED"
    settle(airflow, 6)
    assert airflow.posts[3:] == ["sales_ingest"] * 3  # a, b, and b again as a new run
    rerun = [c for c in runs_of(airflow, "sales_ingest") if c.get("replay") == name]
    assert [c["key"] for c in rerun] == ["sales/incoming/b.csv"]

    # A reprocess, a second later (replay names carry the time to the second): a new run each.
    time.sleep(1)
    name = replay.start(cloud, reprocess=True, **arguments)
    settle(airflow, 8)
    reprocessed = [c for c in runs_of(airflow, "sales_ingest") if c.get("replay") == name]
    assert sorted(c["key"] for c in reprocessed) == ["sales/incoming/a.csv", "sales/incoming/b.csv"]
    assert len(runs_of(airflow, "marketing_events_ingest")) == 1


def test_a_window_before_the_arrivals_replays_nothing(cloud: LocalCloud, airflow) -> None:
    posts = len(airflow.posts)
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    name = replay.start(
        cloud, job="sales_ingest", archive_arn=cloud.output(STACK, "ArchiveArn"),
        bus_arn=cloud.output(STACK, "EventBusArn"), rule_arn=cloud.output(STACK, RULE_OUTPUT),
        since=long_ago, until=long_ago + timedelta(days=1), reprocess=True,
    )  # fmt: skip
    assert cloud.describe_replay(ReplayName=name)["StateReason"] == "0 archived events replayed"
    time.sleep(2)
    assert len(airflow.posts) == posts


def test_make_replay_starts_the_replay_the_stack_outputs_name(cloud: LocalCloud) -> None:
    """`make replay` as the README gives it, against moto: a triggers stack whose outputs
    name an archive, the default bus and the bucket's rule (a minimal template), and
    EventBridge's StartReplay and DescribeReplay as moto serves them."""
    events = cloud.client("events")
    bus = "arn:aws:events:eu-west-1:111111111111:event-bus/default"
    archive = events.create_archive(ArchiveName="cli-archive", EventSourceArn=bus)["ArchiveArn"]
    rule = events.put_rule(Name="cli-rule", EventPattern=json.dumps({"source": ["aws.s3"]}))
    template = {
        "Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"ArchiveArn": {"Value": archive}, "EventBusArn": {"Value": bus},
                    RULE_OUTPUT: {"Value": rule["RuleArn"]}},
    }  # fmt: skip
    cloud.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    make = [shutil.which("make") or "make", "--no-print-directory", "replay", "ENV=dev"]
    env = {**os.environ, **cloud.aws_env()}

    usage = subprocess.run(make, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert usage.returncode == 2
    assert "usage: make replay ENV=name JOB=name SINCE=" in usage.stderr

    done = subprocess.run(
        [*make, "JOB=sales_ingest", "SINCE=2026-12-01T06:00", "REPROCESS=1"], cwd=REPO_ROOT,
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    name = f"glueflow-reprocess-{replay.replay_job_hash('sales_ingest')}-"
    assert f"replay {name}" in done.stdout
    assert "sales_ingest's arrivals in s3://glueflow-dev-raw-111111111111 from " \
        "2026-12-01T06:00:00+00:00" in done.stdout  # fmt: skip
    assert done.stdout.rstrip().endswith(": COMPLETED")

    other = subprocess.run(
        [*make, "JOB=sales_daily_aggregate", "SINCE=2026-12-01"], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert other.returncode == 2
    assert "job sales_daily_aggregate is not started by files" in other.stderr

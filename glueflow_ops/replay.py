"""`make replay ENV=name JOB=name SINCE=time [UNTIL=time] [REPROCESS=1]`: a job's arrivals in a
window, delivered again from the EventBridge archive through the job's bucket rule.

StartReplay sends the archived events of the window back to the archive's bus, filtered to
the rule (`Destination.FilterArns`), so they reach the intake queue and the trigger as the
first time ("StartReplay", Amazon EventBridge API Reference). EventBridge adds the replay's
name to each event as `replay-name`; the name carries the job (as a hash: a replay name is
at most 64 characters) and whether to reprocess, and the trigger reads it
(lambda/trigger/handler.py, REPLAY_NAME):
- a replay starts only that job, and asks for the run each object already has: an object
  whose run succeeded (or is still going) is not run again (Airflow answers 409); one whose
  run failed gets a new run, its run id salted with the replay's name;
- a reprocess (REPROCESS=1) salts every run id with the replay's name: a new run per object.

EventBridge advises waiting about 10 minutes before replaying recent events, and replays them
in no particular order.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# EventBridge's replay states ("DescribeReplay", Amazon EventBridge API Reference).
DONE = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def replay_job_hash(job: str) -> str:
    """As lambda/trigger/handler.py's `replay_job_hash` (a test holds the two equal)."""
    return hashlib.sha256(job.encode()).hexdigest()[:12]


def replay_name(job: str, reprocess: bool, now: datetime) -> str:
    mode = "reprocess" if reprocess else "replay"
    return f"glueflow-{mode}-{replay_job_hash(job)}-{now.astimezone(UTC):%Y%m%dT%H%M%S}"


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{what}={text!r} is not a time: give ISO 8601, such as 2026-12-01T06:00 "
            "(UTC unless it names a zone)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start(
    events: Any,
    *,
    job: str,
    archive_arn: str,
    bus_arn: str,
    rule_arn: str,
    since: datetime,
    until: datetime,
    reprocess: bool,
    now: datetime | None = None,
) -> str:
    """Start the replay; its name."""
    if until <= since:
        raise ValueError(f"UNTIL ({until.isoformat()}) must be after SINCE ({since.isoformat()})")
    name = replay_name(job, reprocess, now or datetime.now(UTC))
    events.start_replay(
        ReplayName=name,
        Description=f"{'reprocess' if reprocess else 'replay'} of {job}"[:512],
        EventSourceArn=archive_arn,
        EventStartTime=since,
        EventEndTime=until,
        Destination={"Arn": bus_arn, "FilterArns": [rule_arn]},
    )
    return name


def wait(
    events: Any, name: str, timeout_s: float, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """DescribeReplay until the replay is over, or `timeout_s`; its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = events.describe_replay(ReplayName=name)
        if answer.get("State") in DONE or time.monotonic() >= deadline:
            return answer
        sleep(5)

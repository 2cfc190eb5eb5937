"""`python -m glueflow_ops redrive|replay` (make redrive, make replay).

Errors the user can act on are one line on stderr and exit status 2. Redrive exits 1 when a
dead letter could not be moved; replay when the replay did not complete.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from configs import naming
from configs.loader import load_platform
from configs.problems import ConfigError
from glueflow_ops import replay
from glueflow_ops.redrive import (
    INTAKE_OUTPUT,
    SENT,
    SOURCE_OUTPUTS,
    queue_urls,
    redrive,
    report,
    stack_outputs,
)

REPLAY_WAIT_S = 900


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m glueflow_ops")
    commands = parser.add_subparsers(dest="command", required=True)
    move = commands.add_parser("redrive", help="the trigger's dead letters back to its intake")
    move.add_argument("--env", default="dev")
    again = commands.add_parser("replay", help="a job's archived arrivals, delivered again")
    again.add_argument("--env", default="dev")
    again.add_argument("--job", required=True)
    again.add_argument("--since", required=True)
    again.add_argument("--until", default="")
    again.add_argument("--reprocess", default="", help="1: a new run for each object")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        platform = load_platform(args.env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    environment = platform.environment.config
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    stack = naming.stack_name(environment.name_prefix, args.env, "triggers")
    region = environment.region
    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        if args.command == "redrive":
            urls = queue_urls(cloudformation, stack)
            sources = {label: urls[output] for label, output in SOURCE_OUTPUTS.items()}
            moved = redrive(boto3.client("sqs", region_name=region), urls[INTAKE_OUTPUT], sources)
            print("\n".join(report(moved, sources)))
            return 1 if any(m.outcome != SENT for m in moved) else 0
        return _replay(args, platform, cloudformation, boto3.client("events", region_name=region),
                       stack)  # fmt: skip
    except (BotoCoreError, ClientError, LookupError, ValueError) as exc:
        print(f"error: {args.command} of {stack}: {exc}", file=sys.stderr)
        return 2


def _replay(args: argparse.Namespace, platform: Any, cloudformation: Any, events: Any,
            stack: str) -> int:  # fmt: skip
    from datetime import UTC, datetime

    job = platform.jobs.get(args.job)
    if job is None:
        raise LookupError(f"no job {args.job!r}; jobs: {', '.join(sorted(platform.jobs))}")
    if job.trigger.s3 is None:
        raise ValueError(f"job {args.job} is not started by files: nothing of it is archived")
    bucket = naming.data_bucket_name(platform.environment.config, args.env, job.trigger.s3.bucket)
    rule_output = naming.object_created_rule_output(bucket)
    outputs = stack_outputs(cloudformation, stack, ["ArchiveArn", "EventBusArn", rule_output])
    since = replay.parse_time(args.since, "SINCE")
    until = replay.parse_time(args.until, "UNTIL") if args.until else datetime.now(UTC)
    name = replay.start(
        events, job=args.job, archive_arn=outputs["ArchiveArn"], bus_arn=outputs["EventBusArn"],
        rule_arn=outputs[rule_output], since=since, until=until,
        reprocess=args.reprocess not in ("", "0"),
    )  # fmt: skip
    print(f"replay {name}: {args.job}'s arrivals in s3://{bucket} from {since.isoformat()} "
          f"to {until.isoformat()}" + (", each as a new run" if args.reprocess not in ("", "0")
                                       else ", objects whose run failed run again"))  # fmt: skip
    answer = replay.wait(events, name, REPLAY_WAIT_S)
    state = answer.get("State", "unknown")
    print(f"replay {name}: {state}" + (f" ({answer['StateReason']})"
                                       if answer.get("StateReason") else ""))  # fmt: skip
    return 0 if state == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())

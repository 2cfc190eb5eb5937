"""`python -m glueflow_ops redrive --env NAME` (make redrive ENV=NAME).

Errors the user can act on are one line on stderr and exit status 2. It exits 1 when a dead
letter could not be moved.
"""

from __future__ import annotations

import argparse
import sys

from configs import naming
from configs.loader import load_platform
from configs.problems import ConfigError
from glueflow_ops.redrive import (
    INTAKE_OUTPUT,
    SENT,
    SOURCE_OUTPUTS,
    queue_urls,
    redrive,
    report,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glueflow_ops")
    commands = parser.add_subparsers(dest="command", required=True)
    move = commands.add_parser("redrive", help="the trigger's dead letters back to its intake")
    move.add_argument("--env", default="dev")
    args = parser.parse_args(argv)
    try:
        environment = load_platform(args.env).environment.config
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    stack = naming.stack_name(environment.name_prefix, args.env, "triggers")
    try:
        region = environment.region
        urls = queue_urls(boto3.client("cloudformation", region_name=region), stack)
        sources = {label: urls[output] for label, output in SOURCE_OUTPUTS.items()}
        moved = redrive(boto3.client("sqs", region_name=region), urls[INTAKE_OUTPUT], sources)
    except (BotoCoreError, ClientError, LookupError) as exc:
        print(f"error: redrive of {stack}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report(moved, sources)))
    return 1 if any(m.outcome != SENT for m in moved) else 0


if __name__ == "__main__":
    sys.exit(main())

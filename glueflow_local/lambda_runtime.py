"""A Lambda execution environment for one Python function bundle, in a process of its own.

Run as a script: `python lambda_runtime.py <code dir> <module.function>`. Like Lambda's
Python runtime it imports the handler once from the code folder (the working directory, first
on sys.path) and then handles one event at a time. Requests come on stdin and answers go to
the original stdout, a JSON line each; whatever the function prints or logs goes to stderr,
its log. Standard library only: the parent's packages (boto3) are on the path, as the
runtime's own boto3 is on Lambda.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback
import uuid


class Context:
    """The parts of Lambda's context object a handler uses."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = os.environ.get("GLUEFLOW_LOCAL_FUNCTION_ARN", name)
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    code_dir, spec = sys.argv[1], sys.argv[2]
    answers = sys.stdout
    sys.stdout = sys.stderr  # print() is the function's log, as on Lambda
    sys.path[0] = code_dir  # not this file's folder
    os.chdir(code_dir)
    # Lambda's runtime logs to stderr through a handler on the root logger, at INFO.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    module_name, _, function_name = spec.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", module_name)
    for line in sys.stdin:
        request = json.loads(line)
        context = Context(name, request["timeout_s"])
        try:
            answer = {"ok": True, "result": handler(request["event"], context)}
        except Exception as exc:
            traceback.print_exc()
            answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

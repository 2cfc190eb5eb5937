"""Lambda functions run from their bundles, without Docker.

Each function gets one warm execution environment (`lambda_runtime.py` in a process of its
own) with the template's environment variables and the local AWS endpoint. Invocations by
EventBridge and SNS are asynchronous on AWS: a failed one is retried twice, then sent to the
function's dead-letter queue ("Asynchronous invocation", AWS Lambda Developer Guide); here the
retries follow at once, and nothing is dropped silently. The function's log goes to a file
and its JSON decision lines to the timeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glueflow_local.errors import LocalRunError
from glueflow_local.timeline import Timeline

RUNTIME = Path(__file__).with_name("lambda_runtime.py")
ASYNC_ATTEMPTS = 3  # the invocation and Lambda's two retries
# Decisions the functions log (lambda/trigger/handler.py, lambda/notifier/handler.py) that the
# timeline shows.
SHOWN = {
    "triggered": "DAG run created",
    "already_triggered": "DAG run exists (duplicate)",
    "no_route": "no job reads this key",
    "malformed_event": "malformed event, dead-lettered",
    "rejected": "Airflow refused the run",
    "gave_up": "Airflow did not answer; the event will be retried",
    "deferred": "run not started; the event comes back after its backoff",
    "dead_lettered": "event dead-lettered",
    "delivered": "alert delivered",
    "not_delivered": "alert not delivered, dead-lettered",
}


class LocalFunction:
    """One Lambda function, warm, invoked one event at a time."""

    def __init__(
        self,
        name: str,
        code_dir: Path,
        handler: str,
        environment: dict[str, str],
        timeout_s: int,
        log_path: Path,
        timeline: Timeline,
        dead_letter_arn: str | None,
        dead_letter: Callable[[str, str, str], None],
    ) -> None:
        self.name = name
        self.code_dir = code_dir
        self.handler = handler
        self.environment = {k: str(v) for k, v in environment.items()}
        self.timeout_s = timeout_s
        self.log_path = log_path
        self.timeline = timeline
        self.dead_letter_arn = dead_letter_arn
        self.dead_letter = dead_letter
        self.results: list[dict[str, Any]] = []
        self.fail_next = 0  # invocations a scenario fails (glueflow_local/scenarios.py)
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._log_thread: threading.Thread | None = None

    def _start(self) -> subprocess.Popen[str]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout_s),
            "PYTHONPATH": str(self.code_dir),
            # Lambda's code folder is read-only: no __pycache__ written into the bundle.
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.environment,
        }
        process = subprocess.Popen(
            [sys.executable, str(RUNTIME), str(self.code_dir), self.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._log_thread = threading.Thread(target=self._read_log, args=(process,), daemon=True)
        self._log_thread.start()
        return process

    def _read_log(self, process: subprocess.Popen[str]) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in process.stderr or []:
                log.write(line)
                log.flush()
                self._show(line)

    def _show(self, line: str) -> None:
        start = line.find("{")
        if start < 0:
            return
        try:
            said = json.loads(line[start:])
        except ValueError:
            return
        decision = said.get("decision") if isinstance(said, dict) else None
        if decision in SHOWN:
            detail = " ".join(
                f"{k}={said[k]}"
                for k in ("dag_id", "run_id", "key", "channel", "status", "receives", "reason")
                if k in said
            )  # fmt: skip
            self.timeline.say("lambda", f"{self.name}: {SHOWN[decision]} {detail}".rstrip())

    def invoke(self, event: Any) -> dict[str, Any]:
        """One synchronous invocation: the function's answer, or its error."""
        with self._lock:
            if self.fail_next > 0:
                # As a function that raised: Lambda reports the error to its caller, and an
                # event source mapping leaves the batch on the queue.
                self.fail_next -= 1
                answer = {"ok": False, "errorType": "ScenarioFault",
                          "errorMessage": "the scenario failed this invocation"}  # fmt: skip
                self.results.append(answer)
                return answer
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            stdin, stdout = self._process.stdin, self._process.stdout
            if stdin is None or stdout is None:
                raise LocalRunError(f"Lambda function {self.name}: no pipe to its runtime")
            request = {"event": event, "timeout_s": self.timeout_s}
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
            if not line:
                raise LocalRunError(f"Lambda function {self.name} exited; see {self.log_path}")
            answer = json.loads(line)
            self.results.append(answer)
            return answer

    def invoke_async(self, event: Any, source: str) -> None:
        """An asynchronous invocation: retried, then dead-lettered."""
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            answer = self.invoke(event)
            if answer["ok"]:
                return
            self.timeline.say(
                "lambda",
                f"{self.name} failed (attempt {attempt} of {ASYNC_ATTEMPTS}, from {source}): "
                f"{answer['errorType']}: {answer['errorMessage']}",
            )
        if self.dead_letter_arn:
            reason = f"{answer['errorType']}: {answer['errorMessage']}"
            self.dead_letter(self.dead_letter_arn, json.dumps(event), reason)
            self.timeline.say("lambda", f"{self.name}: event sent to its dead-letter queue")
        else:
            self.timeline.say("lambda", f"{self.name}: event LOST (no dead-letter queue)")

    def restart(self, **environment: str) -> None:
        """Change environment variables; the next invocation starts a fresh environment."""
        self.environment.update(environment)
        self.stop()

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._log_thread:
            self._log_thread.join(timeout=5)

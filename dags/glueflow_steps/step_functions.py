"""`step_functions`: start an execution of a Standard state machine and wait for it; an
execution that fails or is aborted fails the step.

The operator is the Amazon provider's StepFunctionStartExecutionOperator
(airflow/providers/amazon/aws/operators/step_function.py, provider 9.34.0). Without
`deferrable` it returns right after StartExecution, so it is always deferrable here: it defers
to StepFunctionsExecutionCompleteTrigger, which polls DescribeExecution through the provider's
`step_function_succeeded` waiter (waiters/stepfunctions.json) every `POLL_S` seconds for as
many attempts as cover the step's `timeout_minutes`. The waiter's acceptors are SUCCEEDED
(success), RUNNING (retry), FAILED and ABORTED (failure). The API's other statuses, TIMED_OUT
and PENDING_REDRIVE (ExecutionStatus, Step Functions API Reference), match none, so the
waiter polls on through them: a PENDING_REDRIVE execution is being redriven and runs again,
which is right; a TIMED_OUT one (its state machine's TimeoutSeconds passed) fails the step
only when `timeout_minutes` is spent, with "Waiter error: max attempts reached" (the
trigger logs the status it saw at each poll). Give a state machine with TimeoutSeconds a
`timeout_minutes` close to it.
The provider's StepFunctionExecutionSensor does fail TIMED_OUT at once, but it is a second
task per step, and the factory builds one task per step (dag_builder `_steps`).

The operator has no on_kill: a step that gives up (its bound, a cleared or failed task)
leaves the execution running, and it never calls StopExecution. It starts each try as a new
execution, named by Step Functions (a UUID: StartExecution's `name`, API Reference).

Only Standard workflows: "Executions of an EXPRESS state machine aren't supported by
DescribeExecution" (API Reference, DescribeExecution), so an Express one fails the step when
the trigger first asks. The step names its state machine by ARN: StartExecution takes only
`stateMachineArn`, and the factory gives a step's operator the region, not the account.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from glueflow_steps.base import Grant, StepModel, StepType, Where, with_run

# A state machine's name (1-80 characters, none of: white space, < > { } [ ] ? * " # % \ ^ | ~
# ` $ & , ; : / or control characters; Step Functions API Reference, CreateStateMachine) in
# its unqualified ARN (StartExecution: "arn:<partition>:states:<region>:<account-id>:
# stateMachine:<myStateMachine>"); a version or alias ARN adds ":<qualifier>", refused here.
STATE_MACHINE_NAME = r'[^\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}'
STATE_MACHINE_ARN_RE = re.compile(
    rf"^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{{12}}):stateMachine:({STATE_MACHINE_NAME})$"
)
# Every execution of one state machine (resource type `execution`, Service Authorization
# Reference for Step Functions: arn:${Partition}:states:${Region}:${Account}:execution:
# ${StateMachineName}:${ExecutionId}): Step Functions names the execution when it starts.
EXECUTIONS_ARN = rf"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{{12}}:execution:{STATE_MACHINE_NAME}:\*$"
EXECUTIONS_WHY = (
    "the executions of a step_functions step's state machine, which Step Functions names when "
    "it starts them"
)
# StartExecution's input: at most 262144 bytes of UTF-8 (API Reference, StartExecution),
# keeping 1 KiB for the "glueflow" key the step adds.
MAX_INPUT_BYTES = 262144 - 1024
# A Standard workflow execution lasts at most a year (Step Functions Developer Guide, "Step
# Functions service quotas"): a longer wait would wait for nothing.
MAX_TIMEOUT_MINUTES = 365 * 24 * 60


class StepFunctionsStep(StepModel):
    """Start a Step Functions execution after the job succeeds, and wait for it."""

    type: Literal["step_functions"]
    state_machine_arn: str = Field(
        pattern=STATE_MACHINE_ARN_RE.pattern,
        description="The Standard state machine's ARN, in the environment's account and "
        "region, without a version or alias (aws stepfunctions list-state-machines shows it).",
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="The execution's input, a JSON object; the step adds 'glueflow' with the "
        "job and the Airflow run id.",
    )
    timeout_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_TIMEOUT_MINUTES,
        description="How long the step waits for the execution to succeed before it fails "
        "(the execution runs on). An execution that times out fails the step only then.",
    )

    @field_validator("input")
    @classmethod
    def _fits(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, sort_keys=True).encode())
        if size > MAX_INPUT_BYTES:
            raise ValueError(
                f"the input is {size} bytes of JSON; at most {MAX_INPUT_BYTES} are accepted "
                "(StartExecution takes 256 KiB, less 1 KiB for the 'glueflow' key)"
            )
        return value


class StepFunctions(StepType):
    name = "step_functions"
    model = StepFunctionsStep
    # "com.amazonaws.<region>.states" serves Standard and Express workflows ("Creating Amazon
    # VPC endpoints for Step Functions", Step Functions Developer Guide).
    endpoints: ClassVar[dict[str, str]] = {
        "states": "step_functions steps: StartExecution, DescribeExecution"
    }
    wildcard_resources: ClassVar[dict[str, str]] = {EXECUTIONS_ARN: EXECUTIONS_WHY}

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.amazon.aws.operators.step_function import (
            StepFunctionStartExecutionOperator,
        )

        from glueflow_runtime.dag_builder import POLL_S
        from glueflow_runtime.ids import AWS_CONN_ID

        event = with_run(step["input"], job)
        return StepFunctionStartExecutionOperator(
            task_id=step["name"],
            state_machine_arn=step["state_machine_arn"],
            state_machine_input=json.dumps(event, sort_keys=True),
            deferrable=True,
            waiter_delay=POLL_S,
            waiter_max_attempts=waiter_attempts(step["timeout_minutes"], POLL_S),
            aws_conn_id=AWS_CONN_ID,
            region_name=region,
        )

    def grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """states:StartExecution on each state machine, and states:DescribeExecution (what the
        trigger's waiter calls) on its executions, whose names Step Functions makes up at
        start: "execution:<state machine>:*", as the Developer Guide's policy for a
        synchronous nested execution has it ("IAM policies for AWS Step Functions"; resource
        types statemachine and execution, Service Authorization Reference for Step
        Functions). Nothing else: the operator never stops or redrives an execution."""
        if not steps:
            return []
        machines = sorted({step.state_machine_arn for step in steps})
        executions = tuple(executions_arn(arn) for arn in machines)
        return [
            Grant(("states:StartExecution",), tuple(machines)),
            Grant(("states:DescribeExecution",), executions, why=EXECUTIONS_WHY),
        ]

    def check(self, step: Any, where: Where) -> list[tuple[tuple[Any, ...], str]]:
        """The operator calls Step Functions in the environment's region, as MWAA's role: a
        state machine elsewhere is not found, and one in another account cannot be started
        ("Resource-based policies: No", "How AWS Step Functions works with IAM")."""
        found = STATE_MACHINE_ARN_RE.fullmatch(step.state_machine_arn)
        if found is None:  # the field's pattern already refused it
            return []
        problems = []
        if found.group(2) != where.region:
            problems.append(
                f"the state machine is in {found.group(2)}; a step starts state machines in its "
                f"environment's region, {where.region}"
            )
        if found.group(3) != where.account:
            problems.append(
                f"the state machine is in account {found.group(3)}; a step starts state machines "
                f"in its environment's account, {where.account} (Step Functions has no "
                "resource-based policies)"
            )
        return [(("state_machine_arn",), problem) for problem in problems]

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """The state machines, in moto's Step Functions that runs them (its
        `stepfunctions.execute_state_machine` backend, set through moto's config API, which
        leaves the other services' settings as they are): each is a Pass state, so an
        execution ends SUCCEEDED with its input as output, as a state machine that returns
        its input would. moto names an execution started without a name "None", so a second
        one would clash with the first; here it gets a UUID, as Step Functions gives it."""
        import urllib.request

        config = urllib.request.Request(  # noqa: S310 - the local moto server
            f"{local.endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(config, timeout=30).close()  # noqa: S310
        _name_unnamed_executions()
        role = local.client("iam").create_role(
            RoleName="glueflow-local-state-machines",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        definition = json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        )
        machines = local.client("stepfunctions")
        for arn in sorted({step["state_machine_arn"] for step in steps}):
            found = STATE_MACHINE_ARN_RE.fullmatch(arn)
            if found is None or found.group(3) != local.account:
                continue  # validation refuses it; nothing of this local run
            machines.create_state_machine(
                name=found.group(4), definition=definition, roleArn=role, type="STANDARD"
            )

    def target(self, step: dict[str, Any]) -> str:
        return step["state_machine_arn"]


def waiter_attempts(timeout_minutes: int, delay_s: int) -> int:
    """Polls that cover `timeout_minutes`: the trigger polls at once, then after each delay."""
    return -(-timeout_minutes * 60 // delay_s) + 1


def executions_arn(state_machine_arn: str) -> str:
    """The ARN of every execution of a state machine (resource type `execution`:
    arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId})."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":*"


def _name_unnamed_executions() -> None:
    """moto's Step Functions that runs state machines names an unnamed execution "None";
    here it gets a UUID, as StartExecution says ("If you don't provide a name for the
    execution, Step Functions automatically generates a universally unique identifier")."""
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start = StepFunctionsParserBackend.start_execution
    if getattr(start, "glueflow_local", False):
        return

    def start_named(backend: Any, state_machine_arn: str, name: Any = None, *args: Any,
                    **kwargs: Any) -> Any:  # fmt: skip
        return start(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_named.glueflow_local = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_named  # type: ignore[method-assign]


STEP = StepFunctions()

"""The `step_functions` step type (dags/glueflow_steps/step_functions.py), from config to IAM,
endpoint, operator and local stand-in. The type is one module; nothing else names it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any
from unittest import mock

import boto3
import pytest
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import Where, step_type
from stacks.network_stack import endpoint_services
from tests.configs.conftest import MotoLocal
from tests.conftest import Project, valid_job

STEP_FUNCTIONS = step_type("step_functions")
HERE = Where("aws", "eu-west-1", "111111111111")
ARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:crm-refresh"


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def step(**fields: Any) -> dict[str, Any]:
    return {"type": "step_functions", "name": "refresh", "state_machine_arn": ARN, **fields}


def entry(**fields: Any) -> dict[str, Any]:
    """The step's manifest entry, as the DAG factory reads it (configs/manifest.py)."""
    (model,) = job_with(step(**fields)).downstream
    return {**model.model_dump(), "after": []}


def test_a_state_machine_is_given_by_its_unqualified_arn_and_nothing_else() -> None:
    """StartExecution's stateMachineArn (Step Functions API Reference): an unqualified ARN of
    a state machine, whose name has 1-80 characters and none of the ones names refuse; a
    version (":10"), an alias (":PROD") or a Distributed Map label ("/label") is refused."""
    job_with(step(), step(name="other", state_machine_arn=ARN.replace("crm-refresh", "a_b.1")))
    for bad in (
        "crm-refresh",
        f"{ARN}:10",
        f"{ARN}:PROD",
        f"{ARN}/mapStateLabel",
        ARN.replace("crm-refresh", "crm refresh"),
        ARN.replace("crm-refresh", "crm*"),
        ARN.replace("crm-refresh", "a" * 81),
        ARN.replace(":stateMachine:", ":activity:"),
        "arn:aws:lambda:eu-west-1:111111111111:function:crm-refresh",
    ):
        with pytest.raises(ValidationError, match="state_machine_arn"):
            job_with(step(state_machine_arn=bad))


def test_an_input_over_the_start_execution_limit_is_refused() -> None:
    """StartExecution's input is at most 262144 bytes (API Reference); the step keeps 1 KiB
    of it for its 'glueflow' key."""
    job_with(step(input={"table": "sales_orders", "days": [1, 2]}))
    with pytest.raises(ValidationError, match="at most 261120 are accepted"):
        job_with(step(input={"blob": "x" * 262144}))


def test_a_state_machine_elsewhere_is_refused_by_validate(valid_project: Project) -> None:
    """The operator calls Step Functions in the environment's region as MWAA's role; Step
    Functions has no resource-based policy, so another account's state machine cannot be
    started by it ("How AWS Step Functions works with IAM")."""
    here = "arn:aws:states:eu-west-1:123456789012:stateMachine:crm-refresh"
    steps = [
        step(state_machine_arn=here),
        step(name="east", state_machine_arn=here.replace("eu-west-1", "us-east-1")),
        step(name="theirs", state_machine_arn=here.replace("123456789012", "210987654321")),
    ]
    valid_project.write_job("ingest", valid_job("ingest", downstream=steps))
    problems = validate_all(root=valid_project.root, **valid_project.paths())
    found = {p.field: p.message for p in problems if "state_machine_arn" in p.field}
    assert set(found) == {"downstream[1].state_machine_arn", "downstream[2].state_machine_arn"}
    assert "is in us-east-1" in found["downstream[1].state_machine_arn"]
    assert "eu-west-1" in found["downstream[1].state_machine_arn"]
    assert "account 210987654321" in found["downstream[2].state_machine_arn"]


def test_mwaa_may_start_each_state_machine_and_read_its_executions_and_nothing_else() -> None:
    """states:StartExecution on the state machine and states:DescribeExecution on its
    executions (Service Authorization Reference for Step Functions: resource types
    statemachine and execution; the Developer Guide's policy for a synchronous nested
    execution). The operator never stops or redrives (operators/step_function.py)."""
    other = ARN.replace("crm-refresh", "crm-archive")
    job = job_with(step(), step(name="again"), step(name="archive", state_machine_arn=other))
    start, describe = STEP_FUNCTIONS.grants(list(job.downstream), HERE)
    assert start.actions == ("states:StartExecution",)
    assert start.resources == (other, ARN)
    assert describe.actions == ("states:DescribeExecution",)
    assert describe.resources == (
        "arn:aws:states:eu-west-1:111111111111:execution:crm-archive:*",
        "arn:aws:states:eu-west-1:111111111111:execution:crm-refresh:*",
    )
    assert describe.why  # a wildcard resource says why
    assert STEP_FUNCTIONS.wildcard_actions == {}  # nothing on "*"


def test_the_allowlist_admits_the_executions_of_one_state_machine_and_no_more() -> None:
    """The executions wildcard joins stacks/iam_review.py's allowlist through the type's
    `wildcard_resources`; a broader ARN does not."""
    from stacks.iam_review import Statement, allowed_wildcard

    def allowed(resource: str) -> str | None:
        body = {"Action": "states:DescribeExecution", "Resource": resource}
        return allowed_wildcard(Statement("s", "p", "AWS::IAM::ManagedPolicy", body), resource)

    executions = "arn:aws:states:eu-west-1:111111111111:execution"
    assert allowed(f"{executions}:crm-refresh:*") == "step_functions steps"
    for broad in (f"{executions}:*", f"{executions}:crm-*:*", f"{executions}:crm-refresh:*:*",
                  f"{ARN}:*", "arn:aws:states:eu-west-1:111111111111:*"):  # fmt: skip
        assert allowed(broad) is None, broad


def test_a_step_functions_step_brings_the_states_endpoint() -> None:
    """com.amazonaws.<region>.states ("Creating Amazon VPC endpoints for Step Functions")."""
    assert "states" not in endpoint_services({"a": job_with()})
    assert "states" in endpoint_services({"a": job_with(step())})


def test_the_operator_defers_for_the_timeout_with_the_run_in_its_input() -> None:
    """Deferrable, as the provider's operator only waits when deferred; its trigger polls at
    once and then every waiter_delay, for attempts that cover timeout_minutes (and its
    deferral timeout is attempts x delay: operators/step_function.py)."""
    built = entry(input={"table": "sales_orders"}, timeout_minutes=90)
    operator = STEP_FUNCTIONS.operator(built, {"dag_id": "crm_sync"}, "eu-west-1")
    assert type(operator).__name__ == "StepFunctionStartExecutionOperator"
    assert operator.state_machine_arn == ARN
    assert operator.deferrable is True
    assert operator.name is None  # Step Functions names each execution (a UUID)
    assert (operator.waiter_max_attempts - 1) * operator.waiter_delay >= 90 * 60
    assert (operator.waiter_max_attempts - 2) * operator.waiter_delay < 90 * 60
    assert json.loads(operator.state_machine_input) == {
        "table": "sales_orders", "glueflow": {"job": "crm_sync", "run_id": "{{ run_id }}"},
    }  # fmt: skip
    assert "state_machine_input" in operator.template_fields  # the run id is rendered at run time
    assert operator.region_name == "eu-west-1"


def test_the_providers_waiter_polls_on_through_timed_out_and_pending_redrive() -> None:
    """The gotcha the module's docstring describes, on the provider's own waiter: of
    DescribeExecution's statuses (ExecutionStatus, API Reference), TIMED_OUT and
    PENDING_REDRIVE match no acceptor of `step_function_succeeded`, so a TIMED_OUT execution
    reaches no terminal failure: the waiter polls until its attempts run out."""
    from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook
    from botocore.stub import Stubber

    client = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # noqa: S106 - a stubbed client  # fmt: skip
    statuses = client.meta.service_model.shape_for("ExecutionStatus").enum
    assert statuses == ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    hook = StepFunctionHook(aws_conn_id=None, region_name="eu-west-1")
    waiter = hook.get_waiter("step_function_succeeded", client=client)
    matched = {a.expected: a.state for a in waiter.config.acceptors}
    assert matched == {
        "SUCCEEDED": "success", "RUNNING": "retry", "FAILED": "failure", "ABORTED": "failure",
    }  # fmt: skip
    execution = ARN.replace(":stateMachine:", ":execution:") + ":run-1"
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response(
                "describe_execution",
                {"executionArn": execution, "stateMachineArn": ARN, "status": "TIMED_OUT",
                 "startDate": 0},
                {"executionArn": execution},
            )  # fmt: skip
        with pytest.raises(Exception, match="Max attempts exceeded") as ended:
            waiter.wait(executionArn=execution, WaiterConfig={"Delay": 0, "MaxAttempts": 3})
        stub.assert_no_pending_responses()  # it asked three times, as for a running one
    assert "terminal failure" not in str(ended.value)


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_local_stand_in_runs_each_execution_to_succeeded(
    monkeypatch: pytest.MonkeyPatch, moto_local: MotoLocal
) -> None:
    """As the Step Functions API Reference has it: StartExecution without a name gets an
    execution named by Step Functions (a new one each time), and DescribeExecution reports
    RUNNING, then SUCCEEDED with the output. Then the step's own operator, as the factory
    builds it, starts an execution and defers; its trigger (the provider's waiter, as the
    triggerer runs it) reports success, and execute_complete returns the execution."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    # the stand-in's patch of moto is undone after the test
    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution",
                        StepFunctionsParserBackend.start_execution)  # fmt: skip

    local = moto_local
    try:
        here = "arn:aws:states:eu-west-1:123456789012:stateMachine:crm-refresh"
        other = here.replace("crm-refresh", "crm-archive")
        # the lambda type's stand-in sets moto's lambda config; this one must leave it be
        _post(local.endpoint, "/moto-api/config", {"lambda": {"use_docker": False}})
        steps = [step(state_machine_arn=here), step(name="again", state_machine_arn=here),
                 step(name="archive", state_machine_arn=other)]  # fmt: skip
        STEP_FUNCTIONS.standin(local, steps)
        config = json.loads(_post(local.endpoint, "/moto-api/config", {}))
        assert config["lambda"] == {"use_docker": False}

        machines = local.client("stepfunctions")
        for arn in (here, other):
            started = [
                machines.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
                for _ in range(2)
            ]
            assert len(set(started)) == 2  # each unnamed execution is its own
            for execution in started:
                assert execution.startswith(arn.replace(":stateMachine:", ":execution:") + ":")
                described = _until_done(machines, execution)
                assert described["status"] == "SUCCEEDED"
                assert json.loads(described["output"]) == {"a": 1}

        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", "aws://")
        monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        built = entry(state_machine_arn=here, timeout_minutes=1)
        operator = STEP_FUNCTIONS.operator(built, {"dag_id": "crm_sync"}, "eu-west-1")
        # the local run's poll (GLUEFLOW_POLL_SECONDS, read when dag_builder is imported)
        operator.waiter_delay, operator.waiter_max_attempts = 1, 10
        from airflow.providers.common.compat.sdk import TaskDeferred

        context: Any = {"ti": mock.MagicMock()}
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(context)
        started = time.monotonic()
        event = asyncio.run(_first_event(deferred.value.trigger))
        assert time.monotonic() - started < 10
        assert event.payload["status"] == "success"
        execution = event.payload["execution_arn"]
        assert operator.execute_complete(context, event.payload) == execution
        described = machines.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["input"])["glueflow"]["job"] == "crm_sync"
    finally:
        # moto's config is this process's (moto_local empties its backends)
        _post(
            local.endpoint, "/moto-api/config", {"stepfunctions": {"execute_state_machine": False}}
        )


def _post(endpoint: str, path: str, body: Any) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the loopback moto server
        f"{endpoint}{path}", data=data, headers={"Content-Type": "application/json"},
        method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return answer.read()


def _until_done(client: Any, execution: str) -> dict[str, Any]:
    """DescribeExecution until the execution is no longer RUNNING (moto runs it in a thread)."""
    for _ in range(100):
        described = client.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution} still RUNNING")


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")

"""The `lambda` step type (dags/glueflow_steps/lambda.py), from config to IAM, endpoint,
operator and local stand-in. The type is one module; nothing else names it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from configs.loader import validate_all
from configs.models import JobConfig
from configs.steps import Where, step_type
from stacks.network_stack import endpoint_services
from tests.configs.conftest import MotoLocal
from tests.conftest import Project, valid_job

LAMBDA = step_type("lambda")
HERE = Where("aws", "eu-west-1", "111111111111")


def job_with(*steps: dict[str, Any]) -> JobConfig:
    return JobConfig.model_validate(valid_job("crm_sync", downstream=list(steps)))


def step(**fields: Any) -> dict[str, Any]:
    return {"type": "lambda", "name": "notify", "function": "crm-notify", **fields}


def test_a_function_is_named_or_given_by_its_arn_and_nothing_else() -> None:
    arn = "arn:aws:lambda:eu-west-1:111111111111:function:crm-notify"
    job_with(step(), step(name="by_arn", function=arn, qualifier="live"))
    for bad in ("crm notify", "arn:aws:s3:::bucket", "crm-notify:live", "a" * 65):
        with pytest.raises(ValidationError, match="function"):
            job_with(step(function=bad))


def test_a_function_in_another_region_is_refused_by_validate(valid_project: Project) -> None:
    """The operator calls Lambda in the environment's region (region_name), where a function
    ARN of another region is not found."""
    other = "arn:aws:lambda:us-east-1:111111111111:function:crm-notify"
    valid_project.write_job("ingest", valid_job("ingest", downstream=[step(function=other)]))
    problems = validate_all(root=valid_project.root, **valid_project.paths())
    (problem,) = [p for p in problems if p.field == "downstream[0].function"]
    assert "the function is in us-east-1" in problem.message
    assert "eu-west-1" in problem.message


def test_mwaa_may_invoke_each_function_and_version_it_names_and_no_other() -> None:
    """lambda:InvokeFunction on the function ARN, or on the alias or version ARN the step's
    qualifier names ("Fine-tuning the Resources and Conditions sections of policies", AWS
    Lambda Developer Guide: a function, version or alias ARN)."""
    job = job_with(step(), step(name="live", qualifier="live"), step(name="again"))
    (grant,) = LAMBDA.grants(list(job.downstream), HERE)
    assert grant.actions == ("lambda:InvokeFunction",)
    assert grant.resources == (
        "arn:aws:lambda:eu-west-1:111111111111:function:crm-notify",
        "arn:aws:lambda:eu-west-1:111111111111:function:crm-notify:live",
    )


def test_a_lambda_step_brings_the_lambda_endpoint() -> None:
    assert "lambda" not in endpoint_services({"a": job_with()})
    assert "lambda" in endpoint_services({"a": job_with(step())})


def test_the_operator_invokes_synchronously_with_the_run_in_its_event() -> None:
    entry = {**step(payload={"table": "sales_orders"}), "after": [], "qualifier": None}
    operator = LAMBDA.operator(entry, {"dag_id": "crm_sync"}, "eu-west-1")
    assert type(operator).__name__ == "LambdaInvokeFunctionOperator"
    assert operator.function_name == "crm-notify"
    assert operator.invocation_type == "RequestResponse"
    assert json.loads(operator.payload) == {
        "table": "sales_orders", "glueflow": {"job": "crm_sync", "run_id": "{{ run_id }}"},
    }  # fmt: skip
    assert "payload" in operator.template_fields  # the run id is rendered at run time


# Slow, not in `make test-fast`: a stand-in server driven through the provider.
@pytest.mark.slow
def test_the_local_stand_in_answers_invoke_as_a_function_returning_its_event(
    moto_local: MotoLocal,
) -> None:
    """Invoke's response as the Lambda API Reference gives it: StatusCode 200 for
    RequestResponse, the function's response as Payload, and no FunctionError, which is what
    LambdaInvokeFunctionOperator checks (operators/lambda_function.py)."""

    LAMBDA.standin(moto_local, [step(), step(qualifier="live"), step(qualifier="2")])
    for qualifier in (None, "live", "2"):
        answer = moto_local.client("lambda").invoke(
            FunctionName="crm-notify", Payload=b'{"a": 1}',
            **({"Qualifier": qualifier} if qualifier else {}),
        )  # fmt: skip
        assert answer["StatusCode"] == 200
        assert "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == {"a": 1}

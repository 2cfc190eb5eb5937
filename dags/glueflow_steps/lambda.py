"""`lambda`: invoke a Lambda function and wait for its answer (RequestResponse); an error the
function raised fails the step.

The operator is the Amazon provider's LambdaInvokeFunctionOperator, which has no deferrable
mode (airflow/providers/amazon/aws/operators/lambda_function.py): it fails on a status other
than 200, 202 or 204, and on a response with FunctionError ("If present, indicates that an
error occurred during function execution", Lambda API Reference, Invoke).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from glueflow_steps.base import Grant, StepModel, StepType, Where, with_run

# Invoke's FunctionName, as a name or a function ARN without a qualifier (Lambda API
# Reference, Invoke: "Name formats"), and its Qualifier (a version or an alias).
FUNCTION_ARN_RE = re.compile(
    r"^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})$"
)
FUNCTION = (
    r"^([A-Za-z0-9_-]{1,64}|arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64})$"
)


class LambdaStep(StepModel):
    """Invoke a Lambda function synchronously after the job succeeds."""

    type: Literal["lambda"]
    function: str = Field(
        pattern=FUNCTION,
        description="The function's name (in the environment's account and region) or its ARN, "
        "without a version or alias.",
    )
    qualifier: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9$_-]{1,128}$",
        description="A version or alias to invoke; unset: $LATEST.",
    )
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="The event, a JSON object; the step adds 'glueflow' with the job and the "
        "Airflow run id.",
    )


class Lambda(StepType):
    name = "lambda"
    model = LambdaStep
    endpoints: ClassVar[dict[str, str]] = {"lambda": "lambda steps: Invoke"}

    def operator(self, step: dict[str, Any], job: dict[str, Any], region: str) -> Any:
        from airflow.providers.amazon.aws.operators.lambda_function import (
            LambdaInvokeFunctionOperator,
        )

        from glueflow_runtime.ids import AWS_CONN_ID

        event = with_run(step["payload"], job)
        return LambdaInvokeFunctionOperator(
            task_id=step["name"],
            function_name=step["function"],
            qualifier=step.get("qualifier"),
            payload=json.dumps(event, sort_keys=True),
            invocation_type="RequestResponse",
            log_type="Tail",  # the function's last 4 KB of log, in the task log
            aws_conn_id=AWS_CONN_ID,
            region_name=region,
        )

    def grants(self, steps: list[Any], where: Where) -> list[Grant]:
        """lambda:InvokeFunction on each function, or on the version or alias it names
        ("Functions: actions that operate on a function can be restricted to a specific
        function by function, version, or alias ARN": "Fine-tuning the Resources and
        Conditions sections of policies", AWS Lambda Developer Guide)."""
        if not steps:
            return []
        arns = sorted({self.arn(step.function, step.qualifier, where) for step in steps})
        return [Grant(("lambda:InvokeFunction",), tuple(arns))]

    def check(self, step: Any, where: Where) -> list[tuple[tuple[Any, ...], str]]:
        found = FUNCTION_ARN_RE.fullmatch(step.function)
        if found and found.group(2) != where.region:
            said = (
                f"the function is in {found.group(2)}; a step calls functions in its "
                f"environment's region, {where.region}"
            )
            return [(("function",), said)]
        return []

    def standin(self, local: Any, steps: list[dict[str, Any]]) -> None:
        """The functions, in moto's Lambda without Docker (its `lambda.use_docker: false`
        backend, set through moto's config API): Invoke answers 200 with the event as the
        response, no FunctionError, as a function that returns its input would. Each function
        is created once, with versions up to a qualifier that is a number and an alias for
        one that is not."""
        import io
        import urllib.request
        import zipfile

        config = urllib.request.Request(  # noqa: S310 - the local moto server
            f"{local.endpoint}/moto-api/config",
            data=json.dumps({"lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(config, timeout=30).close()  # noqa: S310
        iam, functions = local.client("iam"), local.client("lambda")
        role = iam.create_role(
            RoleName="glueflow-local-step-functions",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
        where = Where("aws", local.region, local.account)
        made: set[str] = set()
        for step in steps:
            found = FUNCTION_ARN_RE.fullmatch(step["function"])
            if found and found.group(3) != local.account:
                continue  # another account's function: not in this local run
            name = found.group(4) if found else step["function"]
            if name not in made:
                made.add(name)
                functions.create_function(
                    FunctionName=name, Runtime="python3.12", Role=role,
                    Handler="handler.handler", Code={"ZipFile": code.getvalue()},
                )  # fmt: skip
            qualifier = step.get("qualifier")
            if qualifier and self.arn(name, qualifier, where) not in made:
                made.add(self.arn(name, qualifier, where))
                if qualifier.isdigit():  # numbered from 1 as published; at most that many
                    last = 0
                    for _ in range(min(int(qualifier), 100)):
                        got = int(functions.publish_version(FunctionName=name)["Version"])
                        if got <= last:  # an unchanged function publishes no new version
                            break
                        last = got
                else:
                    version = functions.publish_version(FunctionName=name)["Version"]
                    functions.create_alias(FunctionName=name, Name=qualifier,
                                           FunctionVersion=version)  # fmt: skip

    def target(self, step: dict[str, Any]) -> str:
        qualifier = step.get("qualifier")
        return step["function"] + (f":{qualifier}" if qualifier else "")

    @staticmethod
    def arn(function: str, qualifier: str | None, where: Where) -> str:
        base = function if function.startswith("arn:") else (
            f"arn:{where.partition}:lambda:{where.region}:{where.account}:function:{function}"
        )  # fmt: skip
        return f"{base}:{qualifier}" if qualifier else base


STEP = Lambda()

"""Every error InvokeRestApi can answer, stubbed exactly as botocore's service model defines it,
and what the handler does with each.

botocore/data/mwaa/2020-07-01/service-2.json, operation InvokeRestApi: Airflow's own 4xx and
5xx come back as RestApiClientException and RestApiServerException, both HTTP 400 at the AWS
level, carrying RestApiStatusCode and RestApiResponse. AccessDeniedException (403),
ResourceNotFoundException (404), ValidationException (400) and InternalServerException (500)
are MWAA's own answers and carry neither: Airflow never saw the request. Throttling is the
`ThrottlingException` that any AWS API may return.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from tests.lambda_trigger.conftest import trigger_module
from tests.lambda_trigger.test_handler import TABLE, Clock, expected_request
from tests.lambda_trigger.test_routing import event

handler = trigger_module("handler")
transport = trigger_module("transport")

MODEL = botocore.session.get_session().get_service_model("mwaa")
ERRORS = {shape.name: shape for shape in MODEL.operation_model("InvokeRestApi").error_shapes}


def stub_error(stubber: Stubber, code: str, **airflow: Any) -> None:
    """An error with the HTTP status the model gives it, and only the fields it models."""
    shape = ERRORS.get(code)
    status = shape.metadata["error"]["httpStatusCode"] if shape else 400
    fields = None
    if airflow:
        assert set(airflow) <= set(shape.members)
        fields = airflow
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code=code,
        service_message=f"{code} from MWAA",
        http_status_code=status,
        modeled_fields=fields,
        expected_params=expected_request(),
    )


def stub_ok(stubber: Stubber) -> None:
    stubber.add_response(
        "invoke_rest_api",
        {"RestApiStatusCode": 200, "RestApiResponse": {"state": "queued"}},
        expected_request(),
    )


def start(client: Any, clock: Clock) -> str:
    trigger = handler.Trigger(
        TABLE, transport.MwaaTransport("glueflow-dev", client), sleep=clock.sleep, jitter=lambda: 1
    )
    return trigger.start_run(
        "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], clock
    )


def test_the_model_has_the_errors_this_file_covers() -> None:
    assert set(ERRORS) == {
        "RestApiClientException",
        "RestApiServerException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ValidationException",
        "InternalServerException",
    }
    for name in ("RestApiClientException", "RestApiServerException"):
        assert ERRORS[name].metadata["error"]["httpStatusCode"] == 400
        assert {"RestApiStatusCode", "RestApiResponse"} <= set(ERRORS[name].members)


@pytest.mark.parametrize(
    ("code", "airflow"),
    [
        ("RestApiClientException", {"RestApiStatusCode": 429, "RestApiResponse": {}}),
        ("RestApiServerException", {"RestApiStatusCode": 503, "RestApiResponse": {}}),
        ("InternalServerException", {}),
        ("ThrottlingException", {}),
    ],
)
def test_what_may_pass_is_retried_then_succeeds(mwaa, code: str, airflow: dict) -> None:
    client, stubber = mwaa
    stub_error(stubber, code, **airflow)
    stub_ok(stubber)
    clock = Clock(60)

    assert start(client, clock) == "triggered"
    assert len(clock.sleeps) == 1


def test_airflow_409_is_already_triggered(mwaa) -> None:
    client, stubber = mwaa
    stub_error(
        stubber,
        "RestApiClientException",
        RestApiStatusCode=409,
        RestApiResponse={"detail": "DAG run already exists"},
    )
    assert start(client, Clock(60)) == "already_triggered"


def test_an_unknown_dag_is_airflow_s_404_with_its_body(mwaa, caplog) -> None:
    client, stubber = mwaa
    stub_error(
        stubber,
        "RestApiClientException",
        RestApiStatusCode=404,
        RestApiResponse={"detail": "DAG with dag_id: 'sales_ingest' not found"},
    )
    with pytest.raises(handler.TriggerError, match=r"Airflow refused the run .* status 404"):
        start(client, Clock(60))
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if "rejected" in r.getMessage()]
    assert "not found" in line["response"]["detail"]


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        ("ResourceNotFoundException", "the MWAA environment does not exist"),
        ("AccessDeniedException", "may not call airflow:InvokeRestApi"),
        ("ValidationException", "refused the request itself as invalid"),
    ],
)
def test_mwaa_s_own_refusals_name_their_cause_and_are_not_retried(
    mwaa, caplog, code: str, cause: str
) -> None:
    """A missing environment must not read like an unknown DAG, and no retry can mend it: the
    handler raises at once (Lambda retries the event, then dead-letters it)."""
    client, stubber = mwaa
    stub_error(stubber, code)
    clock = Clock(60)

    with pytest.raises(handler.TriggerError) as raised:
        start(client, clock)

    message = str(raised.value)
    assert code in message
    assert cause in message
    assert "Airflow refused" not in message
    assert "404" not in message  # no Airflow status where Airflow never answered
    assert clock.sleeps == []
    (line,) = [
        json.loads(r.getMessage()) for r in caplog.records if "mwaa_refused" in r.getMessage()
    ]
    assert line["error"] == code


def test_each_call_s_timeouts_fit_the_time_left() -> None:
    """botocore fixes connect and read timeouts per client (botocore/config.py, `Config`), so
    the transport keeps a client per whole number of seconds the handler can still wait."""
    mwaa = transport.MwaaTransport("glueflow-dev")

    for offered, read in [(10.0, 10), (4.7, 4), (1.2, 1), (0.5, 1)]:
        config = mwaa.client(offered).meta.config
        assert config.read_timeout == read
        assert config.connect_timeout <= min(read, 3)
        assert config.retries["total_max_attempts"] == 1


def test_the_handler_offers_no_more_time_than_it_has() -> None:
    offered: list[float] = []

    class Recording:
        def post(self, path: str, body: dict, timeout: float) -> Any:
            offered.append(timeout)
            return transport.ApiResponse(503, {})

    clock = Clock(7.0)
    trigger = handler.Trigger(TABLE, Recording(), sleep=clock.sleep, jitter=lambda: 1)
    with pytest.raises(handler.TriggerError):
        trigger.start_run(
            "sales_ingest", handler.parse_event(event("sales/incoming/a.csv"))[0], clock
        )

    assert offered[0] == pytest.approx(5.0)  # 7 s left, 2 s kept back
    assert all(t <= 10.0 for t in offered)

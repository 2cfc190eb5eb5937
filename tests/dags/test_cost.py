"""The cost of a Glue run (docs/architecture.md, decision 11), against hand-computed values from
"AWS Glue pricing" (per-second billing, a 1-minute minimum, its 6-DPU example) and the
definition of `DPUSeconds` in "JobRun" (AWS Glue API)."""

from __future__ import annotations

import pytest

from configs.glue_limits import DPU_PER_WORKER
from glueflow_runtime.cost import dpu_hours, metric_data, price_run

ENV = {
    "name": "dev",
    "glue_dpu_hour_usd": {"standard": 0.44, "flex": 0.29},
    "dpu_per_worker": DPU_PER_WORKER,
}


@pytest.mark.parametrize(
    ("run", "hours", "usd"),
    [
        # workers x DPU per worker x seconds / 3600, priced by execution class
        ({"WorkerType": "G.1X", "NumberOfWorkers": 10, "ExecutionTime": 1800}, 5.0, 2.2),
        ({"WorkerType": "G.2X", "NumberOfWorkers": 5, "ExecutionTime": 3600}, 10.0, 4.4),
        ({"WorkerType": "G.025X", "NumberOfWorkers": 2, "ExecutionTime": 3600}, 0.5, 0.22),
        ({"WorkerType": "G.4X", "NumberOfWorkers": 2, "ExecutionTime": 900}, 2.0, 0.88),
        ({"WorkerType": "G.8X", "NumberOfWorkers": 2, "ExecutionTime": 900}, 4.0, 1.76),
        ({"WorkerType": "G.12X", "NumberOfWorkers": 3, "ExecutionTime": 600}, 6.0, 2.64),
        ({"WorkerType": "G.16X", "NumberOfWorkers": 2, "ExecutionTime": 450}, 4.0, 1.76),
        ({"WorkerType": "R.2X", "NumberOfWorkers": 4, "ExecutionTime": 1800}, 4.0, 1.76),
        # Flex: the cheaper price
        ({"WorkerType": "G.1X", "NumberOfWorkers": 10, "ExecutionTime": 1800,
          "ExecutionClass": "FLEX"}, 5.0, 1.45),
        # Glue bills at least one minute: 10 s is billed as 60 s
        ({"WorkerType": "G.1X", "NumberOfWorkers": 6, "ExecutionTime": 10}, 0.1, 0.044),
        ({"WorkerType": "G.1X", "NumberOfWorkers": 6}, 0.1, 0.044),  # no time reported yet
        # "AWS Glue pricing", its example: a job of 6 DPUs for 15 minutes, 6 x 1/4 x $0.44
        ({"WorkerType": "G.1X", "NumberOfWorkers": 6, "ExecutionTime": 900}, 1.5, 0.66),
        # DPUSeconds (Flex, auto scaling) counts executors only ("JobRun", AWS Glue API:
        # "the total time each executor ran ... multiplied by a DPU factor"); the driver, one
        # worker, ran the whole time: 9000 + 1 x 1800 DPU-seconds = 3 DPU-hours
        ({"WorkerType": "G.1X", "NumberOfWorkers": 10, "ExecutionTime": 1800,
          "DPUSeconds": 9000.0, "ExecutionClass": "FLEX"}, 3.0, 0.87),
        # ...and the minute minimum: (36 + 2 x 30) DPU-seconds in 30 s, billed as 60 s: 192
        ({"WorkerType": "G.2X", "NumberOfWorkers": 10, "ExecutionTime": 30,
          "DPUSeconds": 36.0}, 192 / 3600, 192 / 3600 * 0.44),
    ],
)  # fmt: skip
def test_run_cost(run: dict, hours: float, usd: float) -> None:
    priced = price_run("job", {"Id": "jr_1", "JobRunState": "SUCCEEDED", **run}, ENV)
    assert priced.dpu_hours == pytest.approx(hours, abs=1e-6)  # rounded to 6 places
    assert priced.cost_usd == pytest.approx(usd, abs=1e-6)


def test_an_unknown_worker_type_costs_nothing_rather_than_failing() -> None:
    assert dpu_hours({"WorkerType": "Z.9X", "NumberOfWorkers": 3, "ExecutionTime": 60}, {}) == 0


@pytest.mark.parametrize(
    ("state", "failed"),
    [("SUCCEEDED", 0), ("FAILED", 1), ("TIMEOUT", 1), ("STOPPED", 1), ("ERROR", 1)],
)
def test_failed_runs_are_counted_per_job_and_per_environment(state: str, failed: int) -> None:
    run = {"Id": "jr_1", "JobRunState": state, "WorkerType": "G.1X", "NumberOfWorkers": 2}
    data = metric_data(price_run("orders", run, ENV), "dev")
    counts = {
        tuple(d["Value"] for d in m["Dimensions"]): m["Value"]
        for m in data
        if m["MetricName"] == "FailedRuns"
    }
    assert counts == {("orders", "dev"): failed, ("dev",): failed}
    environment_totals = {m["MetricName"]: m["Value"] for m in data if len(m["Dimensions"]) == 1}
    assert environment_totals["CostUSD"] == pytest.approx(2 * 60 / 3600 * 0.44, abs=1e-6)

"""The fixed monthly cost in the synth summary, against hand-computed figures."""

from __future__ import annotations

import pytest

from configs.loader import load_platform
from configs.models import EnvironmentConfig
from stacks.fixed_cost import DeployedCounts, fixed_monthly_cost
from stacks.summary import deployed_counts, stacks_in
from tests.synth import Synthesized


def priced(cfg: EnvironmentConfig, counts: DeployedCounts) -> dict[str, float]:
    return {line.item: round(line.monthly_usd, 2) for line in fixed_monthly_cost(cfg, counts)}


def test_prod_example_by_hand() -> None:
    cfg = load_platform("prod").environment.config  # mw1.medium, 2 workers, 2 schedulers
    counts = DeployedCounts(
        interface_endpoints=14,
        endpoint_azs=2,
        kms_keys=2,
        nat_gateways=0,
        dashboards=1,
        alarms=8,
        glue_jobs=500,
    )
    assert priced(cfg, counts) == {
        "MWAA mw1.medium environment": 540.20,  # 0.74 x 730 h
        "MWAA workers above the included one (min_workers)": 80.30,  # 1 x 0.11 x 730
        "Interface VPC endpoints: 14 x 2 AZs": 224.84,  # 28 x 0.011 x 730
        "KMS customer managed keys": 2.00,
        "CloudWatch dashboards": 3.00,
        "CloudWatch alarms (standard resolution)": 0.80,  # 8 x 0.10
        # (4 x 500 + 3) x 0.30
        "CloudWatch custom metrics: 4 per job, 3 per environment": 600.90,
    }


@pytest.mark.parametrize(
    ("mwaa", "pricing", "counts", "expected"),
    [
        (
            {"environment_class": "mw1.large", "min_workers": 3, "schedulers": 4,
             "min_webservers": 3, "max_webservers": 3},
            {},
            DeployedCounts(0, 0, 0, 1),
            {
                "MWAA mw1.large environment": 722.70,  # 0.99 x 730
                "MWAA workers above the included one (min_workers)": 321.20,  # 2 x 0.22 x 730
                "MWAA schedulers above the included ones": 292.00,  # 2 x 0.20 x 730
                "MWAA webservers above the included ones (min_webservers)": 146.00,  # 0.20 x 730
                "NAT gateways (egress opted in)": 35.04,  # 0.048 x 730
            },
        ),
        (
            {"environment_class": "mw1.micro", "min_workers": 1, "max_workers": 1,
             "schedulers": 1, "min_webservers": 1, "max_webservers": 1},
            {"interface_endpoint_az_hour_usd": 0.01, "kms_key_month_usd": 1.5,
             "dashboard_month_usd": 2.5, "alarm_month_usd": 0.2},
            DeployedCounts(13, 2, 2, 0, dashboards=1, alarms=5),
            {
                "MWAA mw1.micro environment": 175.20,  # 0.24 x 730
                "Interface VPC endpoints: 13 x 2 AZs": 189.80,  # 26 x 0.01 x 730
                "KMS customer managed keys": 3.00,
                "CloudWatch dashboards": 2.50,
                "CloudWatch alarms (standard resolution)": 1.00,  # 5 x 0.20
            },
        ),
    ],
)  # fmt: skip
def test_priced_lines(mwaa: dict, pricing: dict, counts: DeployedCounts, expected: dict) -> None:
    base = load_platform("dev").environment.config
    cfg = EnvironmentConfig.model_validate(
        {
            **base.model_dump(),
            "mwaa": mwaa,
            "pricing": {**base.pricing.model_dump(), **pricing},
        },
        strict=False,
    )
    assert priced(cfg, counts) == expected


def test_counts_come_from_the_templates(dev: Synthesized) -> None:
    counts = deployed_counts(stacks_in(dev.outdir, "dev"))
    assert counts == DeployedCounts(
        # the runtime's 14 (events among them: the publish task's Table Published events), and
        # athena, lambda, redshift-data and states for the examples' steps
        interface_endpoints=18,
        endpoint_azs=2,
        kms_keys=2,
        nat_gateways=1,  # dev opts in to egress for customer_ltv's dbt Cloud and Tableau steps
        dashboards=1,
        alarms=11,  # monitoring 3, notifier 3, triggers 4, storage 1
        glue_jobs=6,
    )


def test_the_priced_metric_counts_are_what_the_cost_monitor_publishes() -> None:
    from glueflow_runtime.cost import RunCost, metric_data
    from stacks.fixed_cost import RUN_METRICS_PER_ENVIRONMENT, RUN_METRICS_PER_JOB

    run = RunCost("orders", "jr_1", "SUCCEEDED", 1.0, 0.44, 60)
    published = {(m["MetricName"], len(m["Dimensions"])) for m in metric_data(run, "dev")}
    assert sum(1 for _, dims in published if dims == 2) == RUN_METRICS_PER_JOB
    assert sum(1 for _, dims in published if dims == 1) == RUN_METRICS_PER_ENVIRONMENT

"""The fixed monthly cost of an environment: what it costs with no job running.

Usage (Glue DPU-hours, S3, log ingestion, data through endpoints) is left out; the cost
monitor measures Glue per run. Its custom metrics are counted as if every job ran in the
month, which is their ceiling. Prices come from the environment's `pricing`, so they
can match its region and any discount. CloudWatch's free tier (3 dashboards and 10 alarms per
account) is not deducted: every environment in the account shares it.
"""

from __future__ import annotations

from dataclasses import dataclass

from configs.models import EnvironmentConfig

HOURS_PER_MONTH = 730  # AWS's convention for monthly estimates


@dataclass(frozen=True)
class CostLine:
    """One priced item."""

    item: str
    quantity: float
    unit: str
    unit_usd: float

    @property
    def monthly_usd(self) -> float:
        per_month = HOURS_PER_MONTH if self.unit == "hour" else 1
        return self.quantity * self.unit_usd * per_month


@dataclass(frozen=True)
class DeployedCounts:
    """What the synthesized templates hold that has a fixed price."""

    interface_endpoints: int
    endpoint_azs: int
    kms_keys: int
    nat_gateways: int
    dashboards: int = 0
    alarms: int = 0
    glue_jobs: int = 0


# The cost monitor's metrics (dags/glueflow_runtime/cost.py: metric_data): DPUHours, CostUSD,
# DurationSeconds and FailedRuns per job, and three per environment. A metric is billed for
# each month it receives data, so a job that does not run in a month costs nothing here.
RUN_METRICS_PER_JOB = 4
RUN_METRICS_PER_ENVIRONMENT = 3


def fixed_monthly_cost(cfg: EnvironmentConfig, counts: DeployedCounts) -> list[CostLine]:
    """The priced lines; their `monthly_usd` sum is the estimate."""
    prices = cfg.pricing
    mwaa = cfg.mwaa
    mwaa_price = prices.mwaa_hour_usd[mwaa.environment_class]
    micro = mwaa.environment_class == "mw1.micro"
    included_schedulers = included_webservers = 1 if micro else 2
    lines = [
        CostLine(f"MWAA {mwaa.environment_class} environment", 1, "hour", mwaa_price.environment),
        CostLine(
            "MWAA workers above the included one (min_workers)",
            mwaa.min_workers - 1,
            "hour",
            mwaa_price.worker,
        ),
        CostLine(
            "MWAA schedulers above the included ones",
            max(mwaa.schedulers - included_schedulers, 0),
            "hour",
            mwaa_price.scheduler,
        ),
        CostLine(
            "MWAA webservers above the included ones (min_webservers)",
            max(mwaa.min_webservers - included_webservers, 0),
            "hour",
            mwaa_price.webserver,
        ),
        CostLine(
            f"Interface VPC endpoints: {counts.interface_endpoints} x {counts.endpoint_azs} AZs",
            counts.interface_endpoints * counts.endpoint_azs,
            "hour",
            prices.interface_endpoint_az_hour_usd,
        ),
        CostLine(
            "NAT gateways (egress opted in)",
            counts.nat_gateways,
            "hour",
            prices.nat_gateway_hour_usd,
        ),
        CostLine("KMS customer managed keys", counts.kms_keys, "month", prices.kms_key_month_usd),
        CostLine("CloudWatch dashboards", counts.dashboards, "month", prices.dashboard_month_usd),
        CostLine(
            "CloudWatch alarms (standard resolution)",
            counts.alarms,
            "month",
            prices.alarm_month_usd,
        ),
        CostLine(
            f"CloudWatch custom metrics: {RUN_METRICS_PER_JOB} per job, "
            f"{RUN_METRICS_PER_ENVIRONMENT} per environment",
            RUN_METRICS_PER_JOB * counts.glue_jobs + RUN_METRICS_PER_ENVIRONMENT
            if counts.glue_jobs
            else 0,
            "month",
            prices.custom_metric_month_usd,
        ),
    ]
    return [line for line in lines if line.quantity]

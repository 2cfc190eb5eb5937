"""The private network of an environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.network.private_network import ExistingVpcIds, PrivateNetwork
from configs.models import EnvironmentConfig, JobConfig
from configs.steps import step_type

# Every AWS API that code inside the VPC calls, and who calls it. S3 has a gateway endpoint.
RUNTIME_ENDPOINTS: dict[str, str] = {
    "airflow.api": "trigger Lambda: MWAA InvokeRestApi",
    "airflow.env": "MWAA: the environment's web server and Airflow API",
    "airflow.ops": "MWAA: environment operations and health",
    "ecr.api": "MWAA: pulls its Airflow images",
    "ecr.dkr": "MWAA: pulls its Airflow images",
    "events": "the publish task: PutEvents of its Table Published events (decision 20)",
    "glue": "DAG tasks: StartJobRun, GetJobRun, BatchStopJobRun",
    "kms": "MWAA, SNS and SQS encryption with the platform key",
    "logs": "MWAA and Lambda logs; the failure callback reads Glue log tails",
    "monitoring": "MWAA metrics; the cost monitor's PutMetricData",
    "secretsmanager": "Airflow's secrets backend (airflow/ prefix)",
    "sns": "the failure callback and cost alerts publish to the alert topic",
    "sqs": "MWAA's Celery queue",
    "sts": "AWS SDK credential and region resolution in tasks and Lambda",
}


def endpoint_services(jobs: Mapping[str, JobConfig]) -> dict[str, str]:
    """The interface endpoints an environment needs, derived from what its runtime calls: the
    runtime's own, and those of the step types its jobs use (glueflow_steps/)."""
    services = dict(RUNTIME_ENDPOINTS)
    for job in jobs.values():
        for step in job.downstream:
            services.update(step_type(step.type).endpoints)
    return dict(sorted(services.items()))


class NetworkStack(Stack):
    """VPC, endpoints and flow logs, from the environment's `network` settings."""

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones. Stack's own answer is a context lookup against the account
        (`availability-zones`), which an offline synth records as missing and `cdk deploy`
        would then try; the VPC only needs the zones it is given."""
        return self._azs

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: EnvironmentConfig,
        jobs: Mapping[str, JobConfig],
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        net = environment.network
        new = net.new_vpc
        if net.existing_vpc is not None:
            self._azs = list(net.existing_vpc.availability_zones)
        else:
            self._azs = (new.availability_zones if new else None) or [
                f"{environment.region}a",
                f"{environment.region}b",
            ]
        super().__init__(scope, id_, **kwargs)
        existing = None
        create_endpoints = True
        if net.existing_vpc is not None:
            ids = net.existing_vpc
            existing = ExistingVpcIds(
                vpc_id=ids.vpc_id,
                availability_zones=ids.availability_zones,
                subnet_ids=ids.subnet_ids,
                route_table_ids=ids.route_table_ids,
            )
            create_endpoints = ids.create_endpoints
        self.network = PrivateNetwork(
            self,
            "Network",
            interface_endpoint_services=list(endpoint_services(jobs)),
            log_key=log_key,
            log_retention=log_retention,
            removal_policy=removal_policy,
            cidr=new.cidr if new else None,
            availability_zones=self._azs,
            egress=net.egress,
            existing_vpc=existing,
            create_endpoints=create_endpoints,
        )

"""The private network: endpoints for what the runtime calls, no internet path by default."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from stacks.network_stack import RUNTIME_ENDPOINTS, endpoint_services
from tests.conftest import Project, valid_environment, valid_job
from tests.synth import Synthesized, synthesize_project

REQUIRED = {
    "airflow.api", "airflow.env", "airflow.ops", "glue", "logs", "monitoring", "sqs", "kms",
    "ecr.api", "ecr.dkr", "secretsmanager", "sts", "sns",
}  # fmt: skip


def endpoint_names(template: dict) -> dict[str, str]:
    """Service short name (e.g. 'glue') -> endpoint type, from the ServiceName properties."""
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::EC2::VPCEndpoint":
            continue
        props = resource["Properties"]
        name = props["ServiceName"]
        if isinstance(name, dict):  # the S3 gateway's name is built with Fn::Join
            name = "".join(part for part in name["Fn::Join"][1] if isinstance(part, str))
        found[name.removeprefix("com.amazonaws.eu-west-1.")] = props.get(
            "VpcEndpointType", "Gateway"
        )
    return found


def test_every_runtime_endpoint_is_present(dev: Synthesized) -> None:
    network = dev.template(dev.stage.network).to_json()
    endpoints = endpoint_names(network)
    assert set(RUNTIME_ENDPOINTS) >= REQUIRED
    expected = dict.fromkeys(endpoint_services(dev.stage.platform.jobs), "Interface")
    assert {k: v for k, v in endpoints.items() if v == "Interface"} == expected
    # sales_daily_aggregate runs a redshift_sql step, so the Data API is reachable too.
    assert "redshift-data" in expected
    assert endpoints.get("s3") == "Gateway" or any(
        k.endswith(".s3") for k, v in endpoints.items() if v == "Gateway"
    )


def test_interface_endpoints_use_private_dns_both_subnets_and_https_only(
    dev: Synthesized,
) -> None:
    template = dev.template(dev.stage.network)
    for props in [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType") == "Interface"
    ]:
        assert props["PrivateDnsEnabled"] is True
        assert len(props["SubnetIds"]) == 2
        assert len(props["SecurityGroupIds"]) == 1
    endpoint_sg = dev.stage.network.network.endpoint_security_group
    sg_id = dev.stage.network.resolve(endpoint_sg.security_group_id)
    ingress = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == sg_id
    ]
    assert len(ingress) == 1
    rule = ingress[0]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert "SourceSecurityGroupId" in rule
    assert "CidrIp" not in rule
    groups = template.find_resources("AWS::EC2::SecurityGroup")
    endpoint_group = next(
        g
        for g in groups.values()
        if "Interface VPC endpoints" in g["Properties"]["GroupDescription"]
    )
    assert "SecurityGroupIngress" not in endpoint_group["Properties"]


def test_no_nat_and_no_internet_gateway_by_default(dev: Synthesized, prod: Synthesized) -> None:
    """prod's file does not ask for egress; dev's does (customer_ltv's dbt Cloud and Tableau
    steps), and gets the one NAT gateway of test_egress_is_an_explicit_opt_in."""
    dev.template(dev.stage.network).resource_count_is("AWS::EC2::NatGateway", 1)
    for synth in (prod,):
        template = synth.template(synth.stage.network)
        template.resource_count_is("AWS::EC2::NatGateway", 0)
        template.resource_count_is("AWS::EC2::InternetGateway", 0)
        template.resource_count_is("AWS::EC2::VPCGatewayAttachment", 0)
        template.resource_count_is("AWS::EC2::Subnet", 2)
        for subnet in template.find_resources("AWS::EC2::Subnet").values():
            assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        azs = sorted(
            s["Properties"]["AvailabilityZone"]
            for s in template.find_resources("AWS::EC2::Subnet").values()
        )
        assert azs == ["eu-west-1a", "eu-west-1b"]
        for route in template.find_resources("AWS::EC2::Route").values():
            assert "NatGatewayId" not in route["Properties"]
            assert "GatewayId" not in route["Properties"]


def test_flow_logs_go_to_an_encrypted_log_group(dev: Synthesized) -> None:
    template = dev.template(dev.stage.network)
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 1
    props = next(iter(groups.values()))["Properties"]
    assert "KmsKeyId" in props
    assert props["RetentionInDays"] == 365


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory):
    """Build an environment of a throwaway project with `network` settings."""

    def build(network: dict, name: str) -> Synthesized:
        root: Path = tmp_path_factory.mktemp(name)
        project = Project(root)
        project.write_env("dev", {**valid_environment(), "network": network})
        project.write_job("ingest", valid_job("ingest"))
        return synthesize_project(project, "dev", root / "cdk.out")

    return build


@pytest.mark.slow  # not in `make test-fast`: a whole environment synthesized with cdk-nag
def test_egress_is_an_explicit_opt_in(project_env) -> None:
    synth = project_env({"new_vpc": {"cidr": "10.9.0.0/16"}, "egress": True}, "egress")
    template = synth.template(synth.stage.network)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)


@pytest.mark.slow  # not in `make test-fast`: a whole environment synthesized with cdk-nag
def test_existing_vpc_is_used_by_ids_without_lookups(project_env) -> None:
    synth = project_env(
        {
            "existing_vpc": {
                "vpc_id": "vpc-0123456789abcdef0",
                "availability_zones": ["eu-west-1a", "eu-west-1b"],
                "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                "route_table_ids": ["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"],
            }
        },
        "existing",
    )
    template = synth.template(synth.stage.network)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.resource_count_is("AWS::EC2::Subnet", 0)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcId": "vpc-0123456789abcdef0",
            "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "PrivateDnsEnabled": True,
        },
    )
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "RouteTableIds": ["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"],
        },
    )
    mwaa = synth.template(synth.stage.orchestration)
    mwaa.has_resource_properties(
        "AWS::MWAA::Environment",
        {
            "NetworkConfiguration": Match.object_like(
                {"SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}
            )
        },
    )

"""PrivateNetwork: two private subnets, VPC endpoints instead of an internet path, flow logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.nag import acknowledge
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole


@dataclass(frozen=True)
class ExistingVpcIds:
    """A VPC that exists already, by ids: no lookup, so synth stays offline."""

    vpc_id: str
    availability_zones: Sequence[str]
    subnet_ids: Sequence[str]
    route_table_ids: Sequence[str]


class PrivateNetwork(Construct):
    """The platform's network.

    A new VPC has two private isolated subnets in two AZs, with no NAT gateway and no internet
    gateway, unless `egress` is set: then a NAT gateway in a public subnet gives the private
    subnets a way out. An existing VPC is imported by ids.

    Every AWS API the platform calls is reached through a VPC endpoint: S3 through a gateway
    endpoint, the rest through interface endpoints with private DNS. The endpoints accept HTTPS
    only, and only from `clients_security_group`, which the platform's compute joins.
    Flow logs of all traffic go to a KMS-encrypted log group.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        interface_endpoint_services: Sequence[str],
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        cidr: str | None = None,
        availability_zones: Sequence[str] = (),
        egress: bool = False,
        existing_vpc: ExistingVpcIds | None = None,
        create_endpoints: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        if existing_vpc is not None:
            self.vpc: ec2.IVpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=existing_vpc.vpc_id,
                availability_zones=list(existing_vpc.availability_zones),
                isolated_subnet_ids=list(existing_vpc.subnet_ids),
                isolated_subnet_route_table_ids=list(existing_vpc.route_table_ids),
            )
            self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        else:
            self.vpc = self._new_vpc(cidr, availability_zones, egress)
            self.subnets = ec2.SubnetSelection(
                subnet_type=(
                    ec2.SubnetType.PRIVATE_WITH_EGRESS
                    if egress
                    else ec2.SubnetType.PRIVATE_ISOLATED
                )
            )
        self.subnet_ids = self.vpc.select_subnets(subnet_type=self.subnets.subnet_type).subnet_ids

        self.clients_security_group = ec2.SecurityGroup(
            self,
            "Clients",
            vpc=self.vpc,
            description="Platform compute (MWAA, Lambda) that may call the VPC endpoints",
            allow_all_outbound=True,  # nothing routes out of the VPC; see egress
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from platform compute only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            self.clients_security_group, ec2.Port.tcp(443), "HTTPS from platform compute"
        )

        self.endpoint_services: list[str] = []
        if create_endpoints:
            self.vpc.add_gateway_endpoint(
                "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]
            )
            for name in interface_endpoint_services:
                self.vpc.add_interface_endpoint(
                    _endpoint_id(name),
                    service=ec2.InterfaceVpcEndpointAwsService(name),
                    subnets=self.subnets,
                    security_groups=[self.endpoint_security_group],
                    private_dns_enabled=True,
                    open=False,
                )
                self.endpoint_services.append(name)

        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=log_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        flow_log_access = ManagedPolicyRole(
            self,
            "FlowLogAccess",
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
            description="VPC flow logs write to their log group",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    resources=[self.flow_log_group.log_group_arn],
                )
            ],
        )
        ec2.FlowLog(
            self,
            "FlowLog",
            resource_type=ec2.FlowLogResourceType.from_vpc(self.vpc),
            # Immutable: CDK's own grants would add an inline policy beside the managed one.
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                self.flow_log_group, flow_log_access.role_for_grants
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    def _new_vpc(self, cidr: str | None, azs: Sequence[str], egress: bool) -> ec2.Vpc:
        subnets = [
            ec2.SubnetConfiguration(
                name="private",
                subnet_type=(
                    ec2.SubnetType.PRIVATE_WITH_EGRESS
                    if egress
                    else ec2.SubnetType.PRIVATE_ISOLATED
                ),
            )
        ]
        if egress:
            subnets.append(
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    map_public_ip_on_launch=False,  # the NAT gateway has its own Elastic IP
                )
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr) if cidr else None,
            availability_zones=list(azs),  # given, so synth needs no AZ lookup
            nat_gateways=1 if egress else 0,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        for subnet in [*vpc.isolated_subnets, *vpc.private_subnets, *vpc.public_subnets]:
            acknowledge(
                subnet,
                {
                    "CloudFormation-Validate::W3010": "the zones are given (the environment's "
                    "availability_zones, default <region>a and <region>b), so synth needs no "
                    "context lookup against the account; the template names them literally"
                },
            )
        for subnet in vpc.public_subnets:
            route = subnet.node.try_find_child("DefaultRoute")
            if route is not None:
                acknowledge(
                    route,
                    {
                        "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW": "the environment opted in "
                        "to egress: the NAT gateway's public subnet routes out through the "
                        "internet gateway; nothing else is placed in it"
                    },
                )
        return vpc


def _endpoint_id(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("-", ".").split("."))

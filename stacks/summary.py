"""`python -m stacks.summary`: what `make synth` built, for review.

Reads the cloud assembly in cdk.out as JSON, the manifest synth wrote beside it, and the
environment's config for prices.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configs.loader import ENVIRONMENTS_DIR, REPO_ROOT, load_environments
from configs.manifest import manifest_path
from configs.models import EnvironmentConfig
from configs.steps import step_type
from stacks.fixed_cost import HOURS_PER_MONTH, DeployedCounts, fixed_monthly_cost
from stacks.iam_review import allow_statements, wildcard_problems

# CloudFormation's per-stack limits.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000


@dataclass(frozen=True)
class StackSummary:
    """One synthesized stack."""

    name: str
    resources: int
    template_bytes: int
    template: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    template_file: str = ""  # its path in the cloud assembly directory

    def count(self, resource_type: str) -> int:
        return sum(
            1 for r in self.template.get("Resources", {}).values() if r["Type"] == resource_type
        )


def stacks_in(assembly: Path, stage: str) -> list[StackSummary]:
    """The stacks of one Stage in a cloud assembly directory."""
    stage_dir = assembly / f"assembly-{stage}"
    if not (stage_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"{stage_dir} has no cloud assembly; run 'make synth ENV={stage}'")
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    found = []
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact["properties"]
        template_file = stage_dir / props["templateFile"]
        template = json.loads(template_file.read_text())
        found.append(
            StackSummary(
                name=props.get("stackName") or artifact.get("displayName", "?"),
                resources=len(template.get("Resources", {})),
                template_bytes=template_file.stat().st_size,
                template=template,
                template_file=template_file.relative_to(assembly).as_posix(),
            )
        )
    return sorted(found, key=lambda s: s.name)


def deployed_counts(stacks: list[StackSummary]) -> DeployedCounts:
    """What carries a fixed price, counted in the templates."""
    interface = [
        r["Properties"]
        for s in stacks
        for r in s.template.get("Resources", {}).values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
        and r["Properties"].get("VpcEndpointType") == "Interface"
    ]
    return DeployedCounts(
        interface_endpoints=len(interface),
        endpoint_azs=max((len(p.get("SubnetIds", [])) for p in interface), default=0),
        kms_keys=sum(s.count("AWS::KMS::Key") for s in stacks),
        nat_gateways=sum(s.count("AWS::EC2::NatGateway") for s in stacks),
        dashboards=sum(s.count("AWS::CloudWatch::Dashboard") for s in stacks),
        alarms=sum(s.count("AWS::CloudWatch::Alarm") for s in stacks),
        glue_jobs=sum(s.count("AWS::Glue::Job") for s in stacks),
    )


def _trigger_text(job: dict[str, Any], started_by_steps: list[str] = ()) -> str:
    """What starts a job: its S3 trigger or cron, its upstreams' assets, and other jobs'
    `trigger_job` steps."""
    trigger = job["trigger"]
    parts = []
    if trigger["type"] == "s3":
        parts.append(f"s3://{trigger['bucket']}/{trigger['prefix']}*{trigger['suffix']}")
    elif trigger["type"] == "schedule":
        parts.append(f"cron {trigger['cron']}")
    elif trigger["type"] == "table":
        parts.append(
            f"table {trigger['table']} of {trigger['name_prefix']}-{trigger['environment']} "
            f"({trigger['account']})"
        )
    if job["depends_on"]:
        parts.append(f"after {', '.join(job['depends_on'])}")
    parts += [f"step {step}" for step in started_by_steps]
    return "; ".join(parts) or "manual"


def started_by(jobs: dict[str, Any]) -> dict[str, str]:
    """Per job, what starts it (`_trigger_text`), other jobs' steps that start it included."""
    steps: dict[str, list[str]] = {}
    for name, job in sorted(jobs.items()):
        for step in job["downstream"]:
            for _, started in step_type(step["type"]).starts(step):
                steps.setdefault(started, []).append(f"{name}.{step['name']}")
    return {name: _trigger_text(job, steps.get(name, [])) for name, job in jobs.items()}


def render(
    env: str, stacks: list[StackSummary], manifest: dict[str, Any], cfg: EnvironmentConfig
) -> str:
    """The summary as printed."""
    meta = manifest["environment"]
    jobs = manifest["jobs"]
    templates = {s.name: s.template for s in stacks}
    counts = deployed_counts(stacks)
    lines = [
        f"Glueflow {env}: account {meta['account']}, {meta['region']}, "
        f"{len(stacks)} stacks, {sum(s.resources for s in stacks)} resources, {len(jobs)} jobs",
        "",
        f"  {'stack':<40} {'resources':>9} {'of 500':>7} {'template':>10} {'of 1 MB':>8}  file",
    ]
    for stack in stacks:
        share = stack.template_bytes / MAX_TEMPLATE_BYTES
        lines.append(
            f"  {stack.name:<40} {stack.resources:>9} {stack.resources / MAX_RESOURCES:>7.0%} "
            f"{stack.template_bytes / 1024:>7.1f} KB {share:>8.0%}  {stack.template_file}"
        )
    network = cfg.network
    egress = (
        "opted in: a NAT gateway gives the private subnets a way out"
        if network.egress
        else "none (no NAT gateway, no internet gateway)"
    )
    vpc = f"existing VPC {network.existing_vpc.vpc_id}" if network.existing_vpc else "new VPC"
    statements = list(allow_statements(templates))
    wildcards = sum(
        1
        for st in statements
        for r in st.resources
        if isinstance(r, str) and ("*" in r or "?" in r)
    )
    alerts = (
        "notifier -> " + ", ".join(f"{c.type} ({c.secret_name})" for c in cfg.alerts)
        if cfg.alerts
        else "NO CHANNEL: nothing reads the alert topic (set `alerts` in the environment file)"
    )
    problems = wildcard_problems(templates)
    lines += [
        "",
        f"  network: {vpc}, {counts.interface_endpoints} interface endpoints x "
        f"{counts.endpoint_azs} AZs; internet egress: {egress}",
        f"  IAM: {sum(s.count('AWS::IAM::Role') for s in stacks)} roles, {len(statements)} allow "
        f"statements, {wildcards} scoped wildcard resources, "
        + ("all allowlisted" if not problems else f"{len(problems)} NOT ALLOWED: {problems}"),
        f"  alerts: {alerts}",
        "",
        f"  {'job':<32} {'glue':<20} started by",
    ]
    starts = started_by(jobs)
    for name, job in sorted(jobs.items()):
        glue = job["glue"]
        size = f"{glue['version']} {glue['workers']} x {glue['worker_type']}"
        if glue["execution_class"] == "FLEX":
            size += " flex"
        lines.append(f"  {name:<32} {size:<20} {starts[name]}")
        lines += [f"    {line}" for line in _job_details(job)]
    cost = fixed_monthly_cost(cfg, counts)
    lines += ["", "  estimated fixed monthly cost (prices from the environment config, USD):"]
    for line in cost:
        lines.append(
            f"    {line.item:<58} {line.quantity:>5g} x {line.unit_usd:>7.3f}/{line.unit:<5} "
            f"{line.monthly_usd:>9.2f}"
        )
    total = sum(line.monthly_usd for line in cost)
    mwaa = cfg.mwaa
    busy = (
        (mwaa.max_workers - mwaa.min_workers)
        * cfg.pricing.mwaa_hour_usd[mwaa.environment_class].worker
        * HOURS_PER_MONTH
    )
    lines.append(f"    {'total (Glue runs, S3 and logs are usage, not included)':<82} "
                 f"{total:>9.2f}")  # fmt: skip
    lines.append(
        f"    MWAA workers range from {mwaa.min_workers} to {mwaa.max_workers}: {total:.2f} at "
        f"min_workers, {total + busy:.2f} with all {mwaa.max_workers} running all month"
    )
    return "\n".join(lines)


def _job_details(job: dict[str, Any]) -> list[str]:
    """A job's inputs, outputs, validation threshold and steps, one line each."""
    details = [
        "in:  " + (", ".join(i["uri"] for i in job["inputs"]) or "none"),
        "out: " + (", ".join(o["uri"] for o in job["outputs"]) or "none"),
    ]
    if job["validation"]:
        details.append(f"gate: at most {job['validation']['max_invalid_ratio']:.1%} invalid")
    return details + step_graph(job)


def step_graph(job: dict[str, Any]) -> list[str]:
    """A job's steps, a line each: type and target, and, where it is not the list's order,
    what the step runs after (so what runs side by side, and where they join)."""
    lines, steps = [], job["downstream"]
    for i, step in enumerate(steps):
        target = step_type(step["type"]).target(step)
        in_order = [steps[i - 1]["name"]] if i else []
        after = "" if step["after"] == in_order else (
            f" after {', '.join(step['after'])}" if step["after"] else " after the publish"
        )  # fmt: skip
        lines.append(f"step: {step['name']} ({step['type']} {target}){after}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.summary", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=REPO_ROOT / "cdk.out")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--manifest", type=Path, help="default ASSEMBLY/glueflow/ENV/manifest.json")
    parser.add_argument("--environments-dir", type=Path, default=ENVIRONMENTS_DIR)
    args = parser.parse_args(argv)
    manifest_file = args.manifest or manifest_path(args.assembly, args.env)
    environments, problems = load_environments(args.environments_dir, only=args.env)
    if problems or args.env not in environments:
        print(f"summary: cannot read environment {args.env!r}", file=sys.stderr)
        return 1
    try:
        stacks = stacks_in(args.assembly, args.env)
        manifest = json.loads(manifest_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 1
    print(render(args.env, stacks, manifest, environments[args.env].config))
    return 0


if __name__ == "__main__":
    sys.exit(main())

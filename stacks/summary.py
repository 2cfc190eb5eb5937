"""`python -m stacks.summary`: what `make synth` built, for review.

Reads the cloud assembly in cdk.out as JSON and the manifest synth wrote beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.loader import REPO_ROOT
from configs.manifest import manifest_path


@dataclass(frozen=True)
class StackSummary:
    """One synthesized stack."""

    name: str
    resources: int
    template_bytes: int


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
            )
        )
    return sorted(found, key=lambda s: s.name)


def _trigger_text(job: dict[str, Any]) -> str:
    trigger = job["trigger"]
    parts = []
    if trigger["type"] == "s3":
        parts.append(f"s3://{trigger['bucket']}/{trigger['prefix']}*{trigger['suffix']}")
    elif trigger["type"] == "schedule":
        parts.append(f"cron {trigger['cron']}")
    if job["depends_on"]:
        parts.append(f"after {', '.join(job['depends_on'])}")
    return "; ".join(parts) or "manual"


def render(env: str, stacks: list[StackSummary], manifest: dict[str, Any]) -> str:
    """The summary as printed."""
    meta = manifest["environment"]
    jobs = manifest["jobs"]
    lines = [
        f"Glueflow {env}: account {meta['account']}, {meta['region']}, "
        f"{len(stacks)} stacks, {sum(s.resources for s in stacks)} resources, {len(jobs)} jobs",
        "",
        f"  {'stack':<40} {'resources':>9} {'template':>10}",
    ]
    for stack in stacks:
        kb = stack.template_bytes / 1024
        lines.append(f"  {stack.name:<40} {stack.resources:>9} {kb:>7.1f} KB")
    lines += ["", f"  {'job':<32} {'glue':<20} trigger"]
    for name, job in sorted(jobs.items()):
        glue = job["glue"]
        size = f"{glue['version']} {glue['workers']} x {glue['worker_type']}"
        if glue["execution_class"] == "FLEX":
            size += " flex"
        lines.append(f"  {name:<32} {size:<20} {_trigger_text(job)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.summary", description=__doc__)
    parser.add_argument("--assembly", type=Path, default=REPO_ROOT / "cdk.out")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--manifest", type=Path, help="default ASSEMBLY/glueflow/ENV/manifest.json")
    args = parser.parse_args(argv)
    manifest_file = args.manifest or manifest_path(args.assembly, args.env)
    try:
        stacks = stacks_in(args.assembly, args.env)
        manifest = json.loads(manifest_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 1
    print(render(args.env, stacks, manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The CDK app: one Stage for the environment picked with `-c env=NAME` (default dev).

    npx cdk synth -c env=prod                       # configs/environments/prod.yaml
    npx cdk synth -c env=dev -c jobs_dir=PATH       # jobs from another folder
    npx cdk synth -c env=dev -c source=agency       # only that external bucket's own stack

With `source`, the app holds one stack: what the owner of the environment's external bucket of
that key deploys in its own account (stacks/source_stack.py, make deploy-source), and not the
environment's Stage.

Configs are validated before anything is built; a bad config prints one line per problem
and exits 1, without a traceback; so does a `source` the environment does not declare.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from configs.loader import JOBS_DIR, Platform, load_platform
from configs.manifest import build_dir, compile_manifest, manifest_path, write_manifest
from configs.problems import ConfigError
from stacks.cdk_context import project_context
from stacks.glue_library import build_glue_library
from stacks.mwaa_files import MwaaFilesError
from stacks.nag import register_checks
from stacks.source_side import UnknownSource, source_side
from stacks.source_stack import SourceStack
from stacks.stage import GlueflowStage

__all__ = [
    "add_environment",
    "add_source",
    "build_app",
    "main",
    "project_context",
    "validation_failures",
]


def build_app(app: cdk.App) -> GlueflowStage | SourceStack:
    """Validate the chosen environment, compile its manifest and add its Stage to `app`; or,
    with the `source` context, add only that external bucket's stack."""
    env_name = app.node.try_get_context("env") or "dev"
    jobs_dir = Path(app.node.try_get_context("jobs_dir") or JOBS_DIR)
    platform = load_platform(env_name, jobs_dir=jobs_dir)
    source = app.node.try_get_context("source")
    if source:
        return add_source(app, platform, str(source))
    return add_environment(app, platform)


def add_source(app: cdk.App, platform: Platform, key: str) -> SourceStack:
    """The stack the owner of external bucket `key` deploys in its account, with cdk-nag.
    Raises UnknownSource when the environment declares no such bucket."""
    side = source_side(platform, key)
    stack = SourceStack(app, side.stack_name, side=side)
    register_checks(app)
    return stack


def add_environment(app: cdk.App, platform: Platform) -> GlueflowStage:
    """Compile `platform`'s manifest into the assembly, add its Stage, and register cdk-nag."""
    env_name = platform.environment.name
    # Beside the templates it belongs to, so a synth of other jobs never overwrites it.
    manifest_file = write_manifest(
        compile_manifest(platform), manifest_path(Path(app.outdir), env_name)
    )
    build_folder = build_dir(Path(app.outdir), env_name)
    stage = GlueflowStage(
        app,
        env_name,
        platform=platform,
        manifest_file=manifest_file,
        glue_library=build_glue_library(build_folder / "glue_library"),
        build_folder=build_folder,
    )
    register_checks(app)
    return stage


def main() -> None:
    app = cdk.App()
    try:
        build_app(app)
    except ConfigError as exc:
        count = len(exc.problems)
        print(f"{exc}\n{count} config problem{'s' if count != 1 else ''}", file=sys.stderr)
        sys.exit(1)
    except MwaaFilesError as exc:
        print(f"synth stopped: {exc}", file=sys.stderr)
        sys.exit(1)
    except UnknownSource as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    try:
        app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        # cdk-nag has printed each finding and where to acknowledge it; the trace adds nothing.
        print(f"synth stopped: {str(exc).split(': ', 1)[-1]}", file=sys.stderr)
        sys.exit(1)
    findings = validation_failures(Path(app.outdir))
    if findings:
        print("\n".join(findings), file=sys.stderr)
        print(f"synth stopped: {len(findings)} unacknowledged finding(s)", file=sys.stderr)
        sys.exit(1)


def validation_failures(outdir: Path) -> list[str]:
    """The failed rules of the app's validation report, one line per construct.

    Under the CDK CLI the app does not stop on them: the CLI sets
    `@aws-cdk/core:failSynthOnValidationErrors` to false and reports only the violations of
    the stacks a command selects (aws-cdk's `loadUnifiedValidationReport`), and `cdk synth`
    with no stack named selects none of the Stage's stacks. So the app reads its own report
    (`validation-report.json`, aws-cdk-lib's core/lib/private/synthesis-validation.js)."""
    import json

    report_file = outdir / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text(encoding="utf-8"))
    lines = []
    # A report that failed, as CDK itself would fail it in-process; acknowledged findings are
    # under suppressedViolations, not here. A plugin that crashed fails with no violation and
    # its error in metadata (aws-cdk-lib's mkPluginFailure).
    for plugin in report.get("pluginReports", []):
        if plugin.get("conclusion") != "failure":
            continue
        violations = plugin.get("violations", [])
        if not violations:
            error = (plugin.get("metadata") or {}).get("error", "no violation listed")
            lines.append(f"{plugin['pluginName']}: failed: {error}")
        lines += [
            f"{plugin['pluginName']}: {violation['ruleName']} "
            f"({violation.get('severity', 'error')}) at {construct['constructPath']}: "
            f"{violation['description']}"
            for violation in violations
            for construct in violation.get("violatingConstructs", [])
        ]
    return lines


if __name__ == "__main__":
    main()

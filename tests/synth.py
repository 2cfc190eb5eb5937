"""Synthesized environments, shared by every test that reads what ships (a synth takes seconds)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app
from configs.loader import Platform, load_platform
from glueflow_local.assembly import CloudAssembly
from stacks.stage import GlueflowStage
from tests.conftest import REPO_ROOT, Project


@dataclass
class Synthesized:
    """One synthesized environment: its stage, assembly folder and templates by stack name."""

    stage: GlueflowStage
    outdir: Path

    @property
    def assembly(self) -> CloudAssembly:
        """The cloud assembly on disk, read as the CDK CLI reads it."""
        return CloudAssembly(self.outdir, self.stage.stage_name)

    @property
    def stacks(self) -> dict[str, cdk.Stack]:
        return {s.stack_name: s for s in self.stage.node.children if isinstance(s, cdk.Stack)}

    def template(self, stack: cdk.Stack) -> Template:
        return Template.from_stack(stack)

    @property
    def templates(self) -> dict[str, dict[str, Any]]:
        """Every stack's template by stack name: a fresh copy each time, so that a test that
        changes what it gets changes nothing another test reads."""
        return json.loads(self._templates_json)

    @functools.cached_property
    def _templates_json(self) -> str:
        # Read through jsii once (about 50 ms for dev's stacks, and some tests ask hundreds of
        # times): the stage is synthesized, so its templates no longer change.
        return json.dumps(
            {name: Template.from_stack(s).to_json() for name, s in self.stacks.items()}
        )


def synthesize(platform: Platform, outdir: Path) -> Synthesized:
    """Synthesize like `make synth` does: cdk.json's feature flags, cdk-nag registered."""
    application = cdk.App(context=cdk_app.project_context(), outdir=str(outdir))
    stage = cdk_app.add_environment(application, platform)
    application.synth()
    return Synthesized(stage, outdir)


def synthesize_app(context: dict[str, object], outdir: Path) -> Synthesized:
    """Synthesize app.py's app as the cdk CLI gives it `context` (`-c env=...`), in-process."""
    application = cdk.App(context=context, outdir=str(outdir))
    stage = cdk_app.build_app(application)
    assert isinstance(stage, GlueflowStage), stage
    application.synth()
    return Synthesized(stage, outdir)


def synthesize_project(project: Project, env: str, outdir: Path) -> Synthesized:
    """Synthesize an environment of a throwaway project (its own environment file and jobs)."""
    platform = load_platform(env, root=project.root, **project.paths())
    return synthesize(platform, outdir)


def run_app(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    """`python app.py` as the cdk CLI runs it: context in CDK_CONTEXT_JSON, output to `outdir`."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)}
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(load_platform("dev"), tmp_path_factory.mktemp("dev") / "cdk.out")


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """prod as `make synth ENV=prod` builds it: app.py's build_app picks the environment from
    the `env` context. tests/stacks/test_app.py checks that choice on this synth rather than
    synthesizing prod a second time."""
    outdir = tmp_path_factory.mktemp("prod") / "cdk.out"
    return synthesize_app(cdk_app.project_context(env="prod"), outdir)

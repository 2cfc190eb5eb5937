"""The trigger Lambda's modules, imported as Lambda imports them: from their own folder."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import REPO_ROOT
from tests.synth import Synthesized

TRIGGER_DIR = REPO_ROOT / "lambda" / "trigger"


def trigger_module(name: str) -> ModuleType:
    """`handler`, `routing` or `transport` from lambda/trigger (a folder, not a package)."""
    if str(TRIGGER_DIR) not in sys.path:
        sys.path.insert(0, str(TRIGGER_DIR))
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def dev_manifest_for_trigger(dev: Synthesized) -> dict:
    """The manifest bundled beside the trigger handler, as the Lambda gets it."""
    bundle = dev.assembly.lambda_bundle("glueflow-dev-triggers", "S3 object created")
    return json.loads((bundle.code_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def mwaa() -> Iterator[tuple[Any, Stubber]]:
    """An MWAA client whose InvokeRestApi answers are stubbed (botocore's Stubber checks each
    request and answer against the service model), and every stubbed answer must be used."""
    client = boto3.client("mwaa", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()

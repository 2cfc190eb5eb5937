"""cdk.json's context, for code that builds an App itself or runs app.py (tests, benchmarks).

Kept free of aws_cdk imports, so reading it starts no jsii Node process.
"""

from __future__ import annotations

import json
from pathlib import Path

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context(**overrides: str) -> dict[str, object]:
    """cdk.json's context (feature flags included) plus `overrides`: what `cdk synth -c` passes.

    An App built in-process, or app.py run with CDK_CONTEXT_JSON, synthesizes with the same
    feature flags as `make synth` only when given this.
    """
    return {**json.loads(CDK_JSON.read_text())["context"], **overrides}

"""The local cloud for tests of tests/local that need AWS alone, without Airflow's processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from glueflow_local.cloud import CREDENTIALS, LocalCloud
from glueflow_local.timeline import Timeline
from tests.synth import Synthesized


@contextmanager
def local_cloud(
    dev: Synthesized, workdir: Path, function_env: dict[str, str] | None = None,
    event_sources: bool = True,
) -> Iterator[LocalCloud]:  # fmt: skip
    """moto's server with what the dev assembly declares. LocalCloud points this process's
    AWS clients at moto: undone after. moto's backends are per process, so they are reset
    after too, for the next module's."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "MOTO_ACCOUNT_ID"):
            monkeypatch.setenv(name, os.environ.get(name, ""))
        with open(os.devnull, "w") as quiet:
            local = LocalCloud(dev.assembly, Timeline(out=quiet), workdir)
            local.start()
            local.function_env = dict(function_env or {})
            local.provision(event_sources=event_sources)
            try:
                yield local
            finally:
                local.stop()
                from moto.backends import get_backend

                for service in ("s3", "sns", "sqs", "logs", "glue", "cloudformation", "events"):
                    get_backend(service).reset()

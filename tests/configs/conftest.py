"""Fixtures of the step types' tests."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any, ClassVar

import boto3
import pytest


class MotoLocal:
    """What a step type's `standin` uses of the local run (glueflow_local.cloud.LocalCloud):
    its region, account, moto endpoint and clients."""

    region, account = "eu-west-1", "123456789012"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint,
                            aws_access_key_id="x", aws_secret_access_key="x")  # noqa: S106 - moto  # fmt: skip


@pytest.fixture
def moto_local() -> Iterator[MotoLocal]:
    """moto's server on a free loopback port, emptied when the test ends: its backends are
    this process's (POST /moto-api/reset, moto's reset API)."""
    from tests.moto_server import MotoServer

    server = MotoServer()
    local = MotoLocal(server.start())
    try:
        yield local
    finally:
        reset = urllib.request.Request(f"{local.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310 - loopback http
        server.stop()


@pytest.fixture
def local_cloud(tmp_path: Any) -> Iterator[Any]:
    """The local run's cloud (glueflow_local.cloud.LocalCloud: moto's server, the secrets a
    stand-in fills) for an environment in eu-west-1 of account 123456789012, started; stopped
    and the process environment it changed put back when the test ends."""
    import os

    from glueflow_local.cloud import LocalCloud

    class Assembly:  # what LocalCloud reads of an assembly before provisioning: its env
        stack_artifacts: ClassVar = {"s": {"environment": "aws://123456789012/eu-west-1"}}

    saved = dict(os.environ)
    cloud = LocalCloud(Assembly(), None, tmp_path)  # type: ignore[arg-type]
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()
        os.environ.clear()
        os.environ.update(saved)

"""Fixtures of the step types' tests."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

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
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    local = MotoLocal(f"http://{host}:{port}")
    try:
        yield local
    finally:
        reset = urllib.request.Request(f"{local.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310 - loopback http
        server.stop()

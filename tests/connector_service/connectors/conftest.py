"""Fixtures for connector tests: the shared HTTP client, a context builder
whose `on_unauthorized` is observable, and a retry policy that records the
waits instead of sleeping them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from connector_service.connectors.auth import Credential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import create_http_client
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.retry import RetryPolicy


@dataclass
class Recorder:
    """Stands in for the core: counts `on_unauthorized` calls and the retry waits."""

    unauthorized: int = 0
    waits: list[float] = field(default_factory=list)

    async def on_unauthorized(self) -> None:
        self.unauthorized += 1

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    client = create_http_client(read_timeout=10)
    yield client
    await client.aclose()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_ctx(http: httpx.AsyncClient, recorder: Recorder):
    def build(
        connector_id: str,
        credential: Credential,
        *,
        base_url: str = "",
        metadata: dict[str, Any] | None = None,
        extra_details: bool = False,
    ) -> ConnectorContext:
        return ConnectorContext(
            connector_id=connector_id,
            credential=credential,
            http=http,
            base_url=base_url,
            metadata=metadata or {},
            extra_details=extra_details,
            tenant_id="t1",
            connection_id="c1",
            on_unauthorized=recorder.on_unauthorized,
            retry=RetryPolicy(sleep=recorder.sleep),
        )

    return build


@pytest.fixture
async def pg() -> AsyncIterator[PostgresConnector]:
    """A PostgreSQL connector, its pooled sessions closed after the test."""
    connector = PostgresConnector()
    yield connector
    await connector.aclose()

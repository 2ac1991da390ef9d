"""The gateway against an in-process fake connector service on a free port.

One fake server and one gateway (lifespan run, so the real channel and stubs
are used) serve the whole session; each test starts from a clean fake with
both health entries SERVING.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import pytest_asyncio
from gateway.app import create_app
from gateway.routes.health import VAULT_SERVICE
from gateway.settings import GatewaySettings
from grpc_health.v1 import health_pb2

from tests.gateway.fakes import FakeConnectorService, start_fake_server

SERVING = health_pb2.HealthCheckResponse.SERVING


def settings_for(address: str, **overrides: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, connector_address=address, api_prefix="/api", **overrides)


@asynccontextmanager
async def gateway_client(settings: GatewaySettings, **app_kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to a gateway app whose lifespan is running."""
    app = create_app(settings, **app_kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


@pytest.fixture(scope="session")
def fake() -> FakeConnectorService:
    return FakeConnectorService()


@pytest_asyncio.fixture(scope="session")
async def fake_server(fake: FakeConnectorService):
    server, port, health_servicer = await start_fake_server(fake)
    yield port, health_servicer
    await server.stop(grace=None)


@pytest_asyncio.fixture(scope="session")
async def client(fake_server) -> AsyncIterator[httpx.AsyncClient]:
    port, _ = fake_server
    async with gateway_client(settings_for(f"127.0.0.1:{port}")) as client:
        yield client


@pytest_asyncio.fixture
async def health_servicer(fake_server):
    _, servicer = fake_server
    return servicer


@pytest_asyncio.fixture(autouse=True)
async def _clean_fake(fake: FakeConnectorService, fake_server) -> None:
    _, servicer = fake_server
    fake.reset()
    await servicer.set("", SERVING)
    await servicer.set(VAULT_SERVICE, SERVING)

"""`GET /` tells the truth about each downstream, and a dead or slow connector
service turns into 503/504 answers instead of hangs or 500s.
"""

from __future__ import annotations

import httpx
import pytest
from gateway.routes.health import VAULT_SERVICE
from grpc_health.v1 import health_pb2

from tests.gateway.conftest import gateway_client, settings_for
from tests.gateway.fakes import FakeConnectorService, start_fake_server
from tests.support.ports import free_port

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_all_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"gateway": "up", "connectorService": "up", "vault": "up"}}


async def test_vault_down_as_the_connector_sees_it(client: httpx.AsyncClient, health_servicer) -> None:
    await health_servicer.set(VAULT_SERVICE, NOT_SERVING)
    response = await client.get("/")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "data": {"gateway": "up", "connectorService": "up", "vault": "down"}}


async def test_connector_not_serving(client: httpx.AsyncClient, health_servicer) -> None:
    await health_servicer.set("", NOT_SERVING)
    response = await client.get("/")
    assert response.status_code == 503
    assert response.json()["data"]["connectorService"] == "down"


async def test_vault_not_published_is_unknown(fake: FakeConnectorService) -> None:
    server, port, servicer = await start_fake_server(fake)
    try:
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        async with gateway_client(settings_for(f"127.0.0.1:{port}")) as client:
            response = await client.get("/")
    finally:
        await server.stop(grace=None)
    assert response.status_code == 503
    assert response.json()["data"] == {"gateway": "up", "connectorService": "up", "vault": "unknown"}


@pytest.fixture
async def client_without_connector():
    # A generous deadline: if the gateway waited for it, the answer would be 504 timeout, not 503.
    settings = settings_for(f"127.0.0.1:{free_port()}", gateway_rpc_timeout_seconds=60,
                            gateway_upstream_rpc_timeout_seconds=60)  # fmt: skip
    async with gateway_client(settings) as client:
        yield client


@pytest.mark.timeout(30)
async def test_connector_down_answers_503_without_waiting(client_without_connector: httpx.AsyncClient) -> None:
    for path in ("/api/connectors", "/api/connections/c1/token"):
        response = await client_without_connector.get(path)
        assert response.status_code == 503
        assert response.json()["error"] == {
            "code": "unavailable", "message": "the connector service is unavailable", "details": {}
        }  # fmt: skip


@pytest.mark.timeout(30)
async def test_health_with_connector_down(client_without_connector: httpx.AsyncClient) -> None:
    response = await client_without_connector.get("/")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "data": {"gateway": "up", "connectorService": "down", "vault": "unknown"}}


@pytest.mark.timeout(30)
async def test_slow_connector_hits_the_deadline(fake: FakeConnectorService, fake_server) -> None:
    port, _ = fake_server
    fake.hanging.add("GetJob")
    settings = settings_for(f"127.0.0.1:{port}", gateway_rpc_timeout_seconds=0.5)
    async with gateway_client(settings) as client:
        response = await client.get("/api/jobs/j1")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"


async def test_health_answer_matches_its_documented_schema(client) -> None:
    document = (await client.get("/openapi.json")).json()
    for status in ("200", "503"):
        content = document["paths"]["/"]["get"]["responses"][status]["content"]["application/json"]
        schema = content["schema"]
        assert schema["required"] == ["ok", "data"]
        assert set(schema["properties"]["data"]["properties"]) == set(content["example"]["data"])
    answer = (await client.get("/")).json()
    assert set(answer["data"]) == {"gateway", "connectorService", "vault"}

"""The gateway forwards the caller's credential, tenant and request id as gRPC
metadata, echoes the request id on every answer, and stamps it on its log lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import grpc
import httpx
import pytest
from ucf_common.logging import JsonFormatter

from tests.gateway.fakes import Failure, FakeConnectorService


async def test_credential_tenant_and_request_id_are_forwarded(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    headers = {"Authorization": "Bearer ucf_k1_abcdef", "X-Tenant-Id": "acme", "X-Request-Id": "abc"}
    response = await client.get("/api/connections/c1/token", headers=headers)
    assert response.headers["x-request-id"] == "abc"
    metadata = fake.only_call().metadata
    assert metadata["authorization"] == "Bearer ucf_k1_abcdef"
    assert metadata["x-tenant-id"] == "acme"
    assert metadata["x-request-id"] == "abc"


async def test_absent_headers_are_not_invented(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    await client.get("/api/connectors")
    metadata = fake.only_call().metadata
    assert "authorization" not in metadata
    assert "x-tenant-id" not in metadata


async def test_generated_request_id_is_echoed_and_forwarded(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    response = await client.get("/api/connectors")
    generated = response.headers["x-request-id"]
    assert generated and fake.only_call().metadata["x-request-id"] == generated


@pytest.mark.parametrize(
    "candidate",
    [pytest.param("has spaces in it", id="spaces"), pytest.param("x" * 129, id="too-long"),
     pytest.param("<script>", id="markup")],
)  # fmt: skip
async def test_malformed_request_id_is_replaced(
    client: httpx.AsyncClient, fake: FakeConnectorService, candidate: str
) -> None:
    response = await client.get("/api/connectors", headers={"X-Request-Id": candidate})
    echoed = response.headers["x-request-id"]
    assert echoed != candidate
    assert fake.only_call().metadata["x-request-id"] == echoed


async def test_request_id_is_echoed_on_errors(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    fake.failures["GetJob"] = Failure(grpc.StatusCode.NOT_FOUND, "job 'j9' not found")
    response = await client.get("/api/jobs/j9", headers={"X-Request-Id": "req-err"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-err"


class _Lines(logging.Handler):
    """Formats each record as it is emitted, while the request id is current."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("gateway"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict]]:
    handler = _Lines()
    logger = logging.getLogger("ucf.gateway")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


async def test_access_line_carries_request_id_but_not_the_query(
    client: httpx.AsyncClient, log_lines: list[dict]
) -> None:
    await client.get("/api/oauth/callback", params={"code": "authcode-Q9", "state": "s"},
                     headers={"X-Request-Id": "abc"})  # fmt: skip
    access = [line for line in log_lines if line["logger"] == "ucf.gateway.access"]
    assert [line["request_id"] for line in access] == ["abc"]
    assert "/api/oauth/callback" in access[0]["msg"]
    assert "authcode-Q9" not in json.dumps(log_lines)


async def test_header_that_cannot_travel_as_metadata_is_400(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    response = await client.get("/api/connectors", headers={"Authorization": "Bearer caf\xe9-key".encode("latin-1")})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "the authorization header must be printable ASCII"
    assert "caf" not in response.text
    assert fake.calls == []


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/connections/c1/token", id="lean-token-route"),
        pytest.param("/api/connections/c1", id="fastapi-route"),
    ],
)
async def test_the_client_address_is_forwarded_and_a_client_cannot_choose_it(
    client: httpx.AsyncClient, fake: FakeConnectorService, path: str
) -> None:
    # The connector service throttles failed authentications by this address.
    await client.get(path, headers={"Authorization": "Bearer k", "X-Forwarded-For": "203.0.113.9"})
    assert fake.only_call().metadata["x-forwarded-for"] == "127.0.0.1"  # httpx's ASGI client address

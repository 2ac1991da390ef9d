"""What every request meets first (`gateway.edge.RequestEdge`): body and header limits before
any other work, the allowed hosts, no Host reflection, and the hardening headers on every answer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from ucf.connector.v1 import connections_pb2 as conn
from ucf.connector.v1 import connectors_pb2 as ctr

from tests.gateway.conftest import gateway_client, settings_for
from tests.gateway.fakes import FakeConnectorService

MiB = 1024 * 1024
AUTH = {"Authorization": "Bearer key-1"}


def _refused(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["error"]["code"] == "invalid_request"
    return body["error"]


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.fixture
async def edge_client(fake_server) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with small limits and an allowed-hosts list (whose `Host` is httpx's base URL)."""
    port, _ = fake_server
    settings = settings_for(
        f"127.0.0.1:{port}", gateway_max_body_bytes=1000, gateway_max_webhook_body_bytes=3000,
        gateway_max_headers=30, gateway_max_header_bytes=2000,
        gateway_allowed_hosts="gateway.test, *.gateway.example",
    )  # fmt: skip
    async with gateway_client(settings) as client:
        yield client


# --- bodies ---------------------------------------------------------------------------------


async def test_declared_oversize_body_is_413_before_authentication(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    response = await client.post("/api/connections", content=b"{" + b" " * (2 * MiB) + b"}")
    error = _refused(response, 413)
    assert error["message"] == "the request body is larger than 1048576 bytes"
    assert error["details"] == {"maxBodyBytes": MiB}
    assert fake.calls == []


async def test_chunked_body_is_refused_when_it_crosses_the_limit(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    response = await client.post("/api/connections", content=_chunks(3 * MiB), headers=AUTH)
    _refused(response, 413)
    assert fake.calls == []


async def test_body_within_the_limit_reaches_the_service_whole(
    edge_client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.replies["UpsertConnection"] = conn.UpsertConnectionResponse(connection=conn.Connection(id="c1"), created=True)
    body = b'{"connectorId": "jira", "workspaceId": "w", "name": "' + b"n" * 900 + b'"}'
    assert len(body) <= 1000
    headers = {**AUTH, "Content-Type": "application/json"}
    response = await edge_client.post("/api/connections", content=_chunks_of(body), headers=headers)
    assert response.status_code == 201, response.text
    assert fake.only_call().request.name == "n" * 900


async def _chunks_of(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 100):
        yield body[start : start + 100]


async def test_webhook_deliveries_have_their_own_larger_limit(
    edge_client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    raw = b"d" * 2500
    assert (await edge_client.post("/api/webhooks/h1", content=raw)).status_code == 200
    assert fake.only_call().request.body == raw
    _refused(await edge_client.post("/api/webhooks/h1", content=b"d" * 3001), 413)
    _refused(await edge_client.post("/api/connections", content=raw, headers=AUTH), 413)
    assert len(fake.calls) == 1


async def test_oversize_grpc_message_is_413_in_our_words(fake_server, fake: FakeConnectorService) -> None:
    """The fake connector service keeps grpc's 4 MiB receive limit; the gateway's is raised above it."""
    port, _ = fake_server
    settings = settings_for(f"127.0.0.1:{port}", gateway_max_webhook_body_bytes=8 * MiB)
    async with gateway_client(settings) as client:
        response = await client.post("/api/webhooks/h1", content=b"d" * (5 * MiB))
    error = _refused(response, 413)
    assert error["message"] == "the request is too large for the connector service"
    assert "larger than max" not in response.text and "rate" not in response.text


# --- headers --------------------------------------------------------------------------------


async def test_too_many_headers_are_431(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    headers = [(f"x-h{i}", "v") for i in range(10_000)]
    error = _refused(await client.get("/api/connections", headers=headers), 431)
    assert error["details"] == {"maxHeaders": 100}
    assert fake.calls == []


async def test_one_huge_header_is_431(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    response = await client.get("/api/connections", headers={"X-Big": "b" * MiB, **AUTH})
    error = _refused(response, 431)
    assert error["details"] == {"maxHeaderBytes": 16 * 1024}
    assert "bbbb" not in response.text
    assert fake.calls == []


async def test_forwarded_headers_too_large_for_grpc_metadata_are_431(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    response = await client.get("/api/connections", headers={"Authorization": "Bearer " + "k" * 6000})
    error = _refused(response, 431)
    assert "k" * 20 not in response.text
    assert error["details"] == {"maxHeaderBytes": 4096}
    assert fake.calls == []


# --- hosts and redirects --------------------------------------------------------------------


async def test_trailing_slash_does_not_redirect_to_the_callers_host(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/connections/", headers={"Host": "evil.example", **AUTH})
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        pytest.param("gateway.test", True, id="listed"),
        pytest.param("GATEWAY.test:8000", True, id="listed-with-port-any-case"),
        pytest.param("api.gateway.example", True, id="wildcard-subdomain"),
        pytest.param("evil.example", False, id="other"),
        pytest.param("gateway.test.evil.example", False, id="listed-as-prefix"),
        pytest.param("gateway.example", False, id="wildcard-parent"),
    ],
)
async def test_allowed_hosts(
    edge_client: httpx.AsyncClient, fake: FakeConnectorService, host: str, allowed: bool
) -> None:
    response = await edge_client.get("/api/connections", headers={"Host": host, **AUTH})
    if allowed:
        assert response.status_code == 200
    else:
        error = _refused(response, 400)
        assert error["message"] == "this host name is not served here"
        assert fake.calls == []


async def test_any_host_is_served_when_none_are_listed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/connections", headers={"Host": "anything.example", **AUTH})).status_code == 200


# --- hardening headers ----------------------------------------------------------------------

HARDENED = {"cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _assert_hardened(response: httpx.Response) -> None:
    for name, value in HARDENED.items():
        assert response.headers.get_list(name) == [value], (name, response.headers.raw)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_every_api_answer_is_hardened(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    fake.replies["GetToken"] = conn.GetTokenResponse(credential=conn.Credential(access_token="at"))
    fake.replies["CompleteOAuthRedirect"] = ctr.CompleteOAuthRedirectResponse(return_url="https://app.example/done")
    answers = [
        await client.get("/api/connections/c1/token", headers=AUTH),  # the lean token route
        await client.get("/api/connections/c1/token?forceRefresh=true", headers=AUTH),
        await client.get("/api/connections", headers=AUTH),
        await client.get("/api/nowhere"),
        await client.get("/api/oauth/callback", params={"code": "c", "state": "s"}),
        await client.post("/api/connections", content=b"x" * (2 * MiB)),
        await client.get("/openapi.json"),
        await client.get("/"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 303, 413, 200, 200]
    for answer in answers:
        _assert_hardened(answer)
        if answer.headers.get("content-type", "").startswith("application/json"):
            assert answer.headers["content-security-policy"].startswith("default-src 'none'; frame-ancestors 'none'")


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_html_pages_get_a_strict_csp_that_allows_what_they_run(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    _assert_hardened(response)
    policy = dict((part.split(" ", 1) + [""])[:2] for part in response.headers["content-security-policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL):
        assert _sha256(script) in policy["script-src"].split()
    for source in re.findall(r'(?:src|href)="(https://[^/"]+)', response.text):
        if "favicon" not in source:
            assert any(source in value for value in policy.values()), source

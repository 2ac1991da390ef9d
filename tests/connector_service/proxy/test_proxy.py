"""The proxy through the real connector service against a local fake provider API:
the credential goes upstream the way the catalog says and never comes back."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as kpb
from ucf.connector.v1 import proxy_pb2 as pb
from ucf.connector.v1 import proxy_pb2_grpc

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, providers_file, start_stack
from tests.connector_service.proxy.upstream import BINARY, CHUNKS, upstream
from tests.fakes._provider import FakeProvider

CANARY = "proxy-canary-secret-7f3e91"
LIMIT = 300_000


def entries(base: str) -> list[str]:
    return [
        f"""
  up-bearer:
    display_name: Bearer API
    auth_mode: api_key
    base_url: {base}/api
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
""",
        f"""
  up-header:
    display_name: Header API
    auth_mode: api_key
    base_url: {base}/api/v2
    request_auth: {{type: header, name: X-Api-Key}}
    headers: {{X-Api-Version: "2024-01"}}
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
""",
        f"""
  up-query:
    display_name: Query API
    auth_mode: api_key
    base_url: {base}/api
    request_auth: {{type: query, name: key}}
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
""",
        f"""
  up-basic:
    display_name: Basic API
    auth_mode: basic
    base_url: {base}/api
""",
    ]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with upstream().serve() as running:
        yield running


@pytest.fixture
async def proxy_stack(fake: FakeProvider, mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    path = providers_file(tmp_path, *entries(fake.base_url))
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(
            mongo_url,
            f"ucf_{db_suffix}",
            FakeVault(),
            http,
            providers_file=path,
            ucf_proxy_max_response_bytes=LIMIT,
        ) as stack,
    ):
        yield stack


def stub(stack: Stack) -> proxy_pb2_grpc.ProxyServiceStub:
    return proxy_pb2_grpc.ProxyServiceStub(stack.channel)


async def connect(stack: Stack, key: str, connector: str = "up-bearer", secret: str = CANARY) -> str:
    stored = await stack.connections.StoreToken(
        cpb.StoreTokenRequest(connector_id=connector, workspace_id="ws1", token_string=secret), metadata=auth(key)
    )
    return stored.connection.id


async def forward(stack: Stack, key: str, **fields) -> tuple[int, list[tuple[str, str]], bytes, list[int]]:
    """(status, headers, body, chunk sizes) of one proxied call."""
    headers = [pb.Header(name=n, value=v) for n, v in fields.pop("headers", [])]
    call = stub(stack).Forward(pb.ForwardRequest(headers=headers, **fields), metadata=auth(key))
    status, answer, body, sizes = 0, [], b"", []
    async for part in call:
        if part.HasField("head"):
            status, answer = part.head.status, [(h.name, h.value) for h in part.head.headers]
        else:
            body += part.body_chunk
            sizes.append(len(part.body_chunk))
    return status, answer, body, sizes


def seen_body(body: bytes) -> dict:
    return json.loads(body)


async def test_the_credential_goes_upstream_and_never_comes_back(
    proxy_stack: Stack, fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    status, headers, body, _ = await forward(
        proxy_stack,
        key,
        connection_id=cid,
        method="GET",
        path="/users/me",
        query="a=1&b=two%20words",
        headers=[
            ("Authorization", "Bearer caller-own-key"),
            ("Cookie", "session=caller"),
            ("X-Custom", "kept"),
            ("Connection", "x-hop"),
            ("X-Hop", "dropped"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic abc"),
        ],
    )
    assert status == 200
    got = seen_body(body)
    assert got["path"] == "/api/users/me" and got["query"] == "a=1&b=two%20words"
    assert got["headers"]["authorization"] == f"Bearer {CANARY}"
    assert got["headers"]["x-custom"] == "kept"
    for gone in ("cookie", "x-hop", "keep-alive", "proxy-authorization", "connection-id"):
        assert gone not in got["headers"]
    names = {n.lower() for n, _ in headers}
    assert "x-upstream" in names and "set-cookie" not in names
    assert CANARY not in repr(headers)
    assert CANARY not in caplog.text


async def test_an_upstream_echoing_the_credential_in_a_header_does_not_leak_it(
    proxy_stack: Stack, fake: FakeProvider
) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    status, headers, body, _ = await forward(proxy_stack, key, connection_id=cid, method="GET", path="echo-auth")
    assert status == 200 and body == b"ok"
    assert fake.seen[-1].headers["authorization"] == f"Bearer {CANARY}"
    assert CANARY not in repr(headers)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_methods_and_bodies_pass_through(proxy_stack: Stack, method: str) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    payload = b"\x00\x01binary\xff" if method != "GET" else b""
    status, _, body, _ = await forward(
        proxy_stack,
        key,
        connection_id=cid,
        method=method,
        path="items/42",
        body=payload,
        headers=[("Content-Type", "application/octet-stream")],
    )
    got = seen_body(body)
    assert status == 200 and got["method"] == method and got["path"] == "/api/items/42"
    assert base64.b64decode(got["body"]) == payload


async def test_binary_and_streamed_answers_arrive_whole_in_chunks(proxy_stack: Stack) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    status, _, body, sizes = await forward(proxy_stack, key, connection_id=cid, method="GET", path="binary")
    assert status == 200 and body == BINARY and len(sizes) > 1
    status, _, body, _ = await forward(proxy_stack, key, connection_id=cid, method="GET", path="stream")
    assert status == 200 and body == b"".join(CHUNKS)


async def test_429_then_success_is_retried_with_retry_after(proxy_stack: Stack, fake: FakeProvider) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    fake.fail(429, {"error": "slow down"}, headers={"Retry-After": "0"}, path_contains="/api/retry")
    fake.fail(503, {"error": "busy"}, path_contains="/api/retry")
    status, _, body, _ = await forward(proxy_stack, key, connection_id=cid, method="GET", path="retry")
    assert status == 200 and seen_body(body)["path"] == "/api/retry"
    assert fake.calls("/api/retry") == 3


async def test_post_is_not_retried_and_a_long_retry_after_goes_back_as_is(
    proxy_stack: Stack, fake: FakeProvider
) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    fake.fail(503, {"error": "busy"}, path_contains="/api/once")
    status, _, _, _ = await forward(proxy_stack, key, connection_id=cid, method="POST", path="once")
    assert status == 503 and fake.calls("/api/once") == 1
    fake.fail(429, {"error": "later"}, headers={"Retry-After": "3600"}, path_contains="/api/later")
    status, headers, _, _ = await forward(proxy_stack, key, connection_id=cid, method="GET", path="later")
    assert status == 429 and ("retry-after", "3600") in [(n.lower(), v) for n, v in headers]
    assert fake.calls("/api/later") == 1


@pytest.mark.parametrize("path", ["big", "big-stream"])
async def test_an_answer_over_the_limit_is_a_clear_502(proxy_stack: Stack, path: str) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await forward(proxy_stack, key, connection_id=cid, method="GET", path=path, query=f"size={LIMIT + 50_000}")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "larger than the proxy's limit" in err.value.details()
    assert ("ucf-error-code", "upstream_error") in tuple(err.value.trailing_metadata())


@pytest.mark.parametrize(
    "path",
    [
        "../../other",
        "%2e%2e/%2e%2e/other",
        "//evil.example/x",
        "http://evil.example/x",
        "https:%2F%2Fevil.example",
        "..%2F..%2Fother",
        "a/..\\..\\other",
    ],
)
async def test_a_path_cannot_change_the_upstream_host_or_leave_the_base(
    proxy_stack: Stack, fake: FakeProvider, path: str
) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    before = len(fake.seen)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await forward(proxy_stack, key, connection_id=cid, method="GET", path=path)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(fake.seen) == before


async def test_placement_header_query_and_basic(proxy_stack: Stack, fake: FakeProvider) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key, "up-header")
    _, _, body, _ = await forward(
        proxy_stack, key, connection_id=cid, method="GET", path="x", headers=[("X-Api-Key", "caller")]
    )
    got = seen_body(body)
    assert got["path"] == "/api/v2/x" and got["headers"]["x-api-key"] == CANARY
    assert got["headers"]["x-api-version"] == "2024-01" and "authorization" not in got["headers"]

    cid = await connect(proxy_stack, key, "up-query")
    _, headers, body, _ = await forward(
        proxy_stack, key, connection_id=cid, method="GET", path="q", query="key=mine&z=1"
    )
    assert seen_body(body)["query"] == f"z=1&key={CANARY}"

    done = await proxy_stack.connectors.ConnectCallback(
        kpb.ConnectCallbackRequest(
            connector_id="up-basic", workspace_id="ws1", method="basic", api_key="ann", api_secret=CANARY
        ),
        metadata=auth(key),
    )
    _, _, body, _ = await forward(proxy_stack, key, connection_id=done.connection_id, method="GET", path="b")
    expected = "Basic " + base64.b64encode(f"ann:{CANARY}".encode()).decode()
    assert seen_body(body)["headers"]["authorization"] == expected


async def test_a_key_without_the_proxy_scope_is_refused(proxy_stack: Stack, fake: FakeProvider) -> None:
    admin = await proxy_stack.key()
    cid = await connect(proxy_stack, admin)
    reader = await proxy_stack.key(scopes="connections:read,tokens:read")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await forward(proxy_stack, reader, connection_id=cid, method="GET", path="x")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "proxy" in err.value.details()
    allowed = await proxy_stack.key(scopes="proxy")
    status, _, _, _ = await forward(proxy_stack, allowed, connection_id=cid, method="GET", path="x")
    assert status == 200


async def test_another_tenants_connection_is_not_found(proxy_stack: Stack, fake: FakeProvider) -> None:
    cid = await connect(proxy_stack, await proxy_stack.key("acme"))
    other = await proxy_stack.key("globex")
    before = len(fake.seen)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await forward(proxy_stack, other, connection_id=cid, method="GET", path="x")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and len(fake.seen) == before


async def test_every_call_is_audited_without_query_values(proxy_stack: Stack) -> None:
    key = await proxy_stack.key()
    cid = await connect(proxy_stack, key)
    await forward(proxy_stack, key, connection_id=cid, method="GET", path="users", query="email=secret%40x.io")
    entries = []
    async for segment in proxy_stack.db["audit_segments"].find({"connection_ids": cid}):
        entries += [e for e in segment["entries"] if e["action"] == "proxy.request"]
    assert len(entries) == 1
    details = entries[0]["details"]
    assert details["method"] == "GET" and details["path"] == "/users" and details["status"] == 200
    assert "durationMs" in details and "secret" not in json.dumps(entries[0], default=str)
    assert await proxy_stack.audited(cid, "credential.use") >= 1

"""`/api/proxy/{path}` through the real gateway, connector service and vault, against a
local fake provider API declared in an operator catalog (UCF_PROVIDERS_FILE)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.connector_service.proxy.upstream import BINARY, CHUNKS, upstream
from tests.fakes._provider import FakeProvider
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

CANARY = "integration-proxy-canary-4d1c77"
LIMIT = 300_000


@pytest.fixture(scope="module")
def world(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, FakeProvider, str]]:
    folder = tmp_path_factory.mktemp("proxy")
    with upstream().serve() as fake:
        providers = folder / "providers.yaml"
        providers.write_text(
            f"""providers:
  up-bearer:
    display_name: Bearer API
    auth_mode: api_key
    base_url: {fake.base_url}/api
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
"""
        )
        env = {"UCF_PROVIDERS_FILE": str(providers), "UCF_PROXY_MAX_RESPONSE_BYTES": str(LIMIT)}
        with LocalStack(folder / "stack", mongo_url, extra_env=env) as stack:
            stored = httpx.post(
                f"{stack.gateway_url}/api/connections/token",
                json={"connectorId": "up-bearer", "workspaceId": "ws1", "token": CANARY},
                headers=stack.auth_headers,
            )
            assert stored.status_code == 200, stored.text
            yield stack, fake, stored.json()["data"]["id"]


def call(stack: LocalStack, method: str, path: str, connection: str, **kwargs) -> httpx.Response:
    headers = {**stack.auth_headers, "Connection-Id": connection, **kwargs.pop("headers", {})}
    return httpx.request(method, f"{stack.gateway_url}/api/proxy/{path}", headers=headers, timeout=30, **kwargs)


def test_the_providers_answer_passes_through_with_the_credential_applied_upstream_only(world) -> None:
    stack, fake, cid = world
    answer = call(stack, "POST", "things/7", cid, params={"q": "1"}, content=b"hello", headers={"X-Custom": "kept"})
    assert answer.status_code == 200
    got = answer.json()  # the provider's own body, not our envelope
    assert got["method"] == "POST" and got["path"] == "/api/things/7" and got["query"] == "q=1"
    assert got["headers"]["authorization"] == f"Bearer {CANARY}" and got["headers"]["x-custom"] == "kept"
    assert stack.api_key not in json.dumps(got)  # our API key never reaches the provider
    assert answer.headers["x-upstream"] == "yes" and "set-cookie" not in answer.headers
    assert CANARY not in str(answer.headers)

    echoed = call(stack, "GET", "echo-auth", cid)
    assert echoed.status_code == 200 and CANARY not in str(echoed.headers)


def test_binary_and_streamed_bodies(world) -> None:
    stack, _, cid = world
    assert call(stack, "GET", "binary", cid).content == BINARY
    with httpx.stream(
        "GET", f"{stack.gateway_url}/api/proxy/stream", headers={**stack.auth_headers, "Connection-Id": cid}
    ) as streamed:
        assert streamed.status_code == 200 and b"".join(streamed.iter_bytes()) == b"".join(CHUNKS)


def test_our_errors_use_the_envelope(world) -> None:
    stack, fake, cid = world
    before = len(fake.seen)
    too_big = call(stack, "GET", "big", cid, params={"size": str(LIMIT + 1)})
    assert too_big.status_code == 502 and too_big.json()["error"]["code"] == "upstream_error"
    assert "limit" in too_big.json()["error"]["message"]
    fake_calls = len(fake.seen)
    climbing = call(stack, "GET", "%2e%2e/%2e%2e/other", cid)
    assert climbing.status_code == 400 and climbing.json()["ok"] is False
    absolute = call(stack, "GET", "http:%2F%2Fevil.example/x", cid)
    assert absolute.status_code == 400
    assert len(fake.seen) == fake_calls and fake_calls == before + 1
    missing = call(stack, "GET", "x", "no-such-connection")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    no_header = httpx.get(f"{stack.gateway_url}/api/proxy/x", headers=stack.auth_headers)
    assert no_header.status_code == 400


def test_scope_tenant_and_logs(world) -> None:
    stack, _, cid = world
    reader = stack.ensure_api_key("dev", "connections:read", stack.folder / "reader-key")
    refused = httpx.get(
        f"{stack.gateway_url}/api/proxy/x", headers={"Authorization": f"Bearer {reader}", "Connection-Id": cid}
    )
    assert refused.status_code == 403 and "proxy" in refused.json()["error"]["message"]
    other = stack.ensure_api_key("globex", "all", stack.folder / "globex-key")
    foreign = httpx.get(
        f"{stack.gateway_url}/api/proxy/x", headers={"Authorization": f"Bearer {other}", "Connection-Id": cid}
    )
    assert foreign.status_code == 404
    for name in ("gateway", "connector", "vault"):
        assert CANARY not in stack.log_text(name)

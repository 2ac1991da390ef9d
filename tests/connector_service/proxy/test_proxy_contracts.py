"""Contract tests: representative built-in catalog entries, their API host moved to a loopback
fake by an operator file, put the credential where each provider's docs say (bearer, a named
header, Basic, extra headers). The expected placement is written here from the docs, not
derived from the entry, so a wrong entry fails."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from connector_service.catalog.providers import load_catalog
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as kpb
from ucf.connector.v1 import proxy_pb2 as pb
from ucf.connector.v1 import proxy_pb2_grpc

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.connector_service.proxy.upstream import upstream
from tests.fakes._provider import FakeProvider

KEY, SECRET = "contract-key-1a2b3c", "contract-secret-4d5e6f"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


#: provider → (mode, credential, the headers the provider's docs say authenticate a request)
CONTRACTS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "notion": ("api_key", {}, {"authorization": f"Bearer {KEY}", "notion-version": "2022-06-28"}),
    "stripe": ("api_key", {}, {"authorization": f"Bearer {KEY}"}),
    "sendgrid": ("api_key", {}, {"authorization": f"Bearer {KEY}"}),
    "okta": ("api_key", {}, {"authorization": f"SSWS {KEY}"}),
    "shopify": ("api_key", {}, {"x-shopify-access-token": KEY}),
    "freshdesk": ("api_key", {}, {"authorization": basic(KEY, "X")}),
    "datadog": ("api_key", {"api_secret": SECRET}, {"dd-api-key": KEY, "dd-application-key": SECRET}),
    "trello": (
        "api_key",
        {"api_secret": SECRET},
        {"authorization": f'OAuth oauth_consumer_key="{KEY}", oauth_token="{SECRET}"'},
    ),
    "twilio": ("basic", {"account_sid": "AC123", "auth_token": SECRET}, {"authorization": basic("AC123", SECRET)}),
    "zendesk": ("basic", {"email": "a@b.io", "api_token": SECRET}, {"authorization": basic("a@b.io", SECRET)}),
    "slack": ("oauth2", {}, {"authorization": f"Bearer {KEY}"}),
}


def operator_file(folder: Path, base: str) -> Path:
    catalog = load_catalog()
    providers: dict[str, Any] = {}
    for pid in CONTRACTS:
        entry = catalog.get(pid).model_dump(exclude_defaults=True, mode="json")
        entry["base_url"] = f"{base}/api/{pid}"
        entry.pop("verification", None)
        entry.pop("connection_metadata", None)
        for mode in entry.get("modes", {}).values():
            mode.pop("verification", None)
            if "base_url" in mode:
                mode["base_url"] = f"{base}/api/{pid}"
        providers[pid] = entry
    path = folder / "providers.yaml"
    path.write_text(yaml.safe_dump({"providers": providers}))
    return path


@pytest.fixture
async def contract_stack(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, FakeProvider]]:
    with upstream().serve() as fake:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url, f"ucf_{db_suffix}", FakeVault(), http, providers_file=operator_file(tmp_path, fake.base_url)
            ) as stack,
        ):
            yield stack, fake


async def _connect(stack: Stack, key: str, pid: str, mode: str, extra: dict[str, str]) -> str:
    if mode == "oauth2":
        stored = await stack.connections.StoreToken(
            cpb.StoreTokenRequest(connector_id=pid, workspace_id="ws1", token_set=cpb.TokenSet(access_token=KEY)),
            metadata=auth(key),
        )
        return stored.connection.id
    request = kpb.ConnectCallbackRequest(connector_id=pid, workspace_id="ws1", method=mode)
    # Connect params (Okta's domain, Shopify's shop...) only name the host, which the operator
    # file points at the fake upstream; any well-formed value does.
    spec = load_catalog().get(pid)
    request.connect_params.update({p.name: "acme" for p in (spec.connect_params if spec else [])})
    if mode == "api_key":
        request.api_key, request.api_secret = KEY, extra.get("api_secret", "")
    else:
        fields = struct_pb2.Struct()
        fields.update(extra)
        request.credentials.CopyFrom(fields)
    return (await stack.connectors.ConnectCallback(request, metadata=auth(key))).connection_id


@pytest.mark.parametrize("pid", list(CONTRACTS))
async def test_the_credential_goes_where_the_provider_documents(contract_stack, pid: str) -> None:
    stack, fake = contract_stack
    mode, extra, expected = CONTRACTS[pid]
    key = await stack.key()
    cid = await _connect(stack, key, pid, mode, extra)
    call = proxy_pb2_grpc.ProxyServiceStub(stack.channel).Forward(
        pb.ForwardRequest(connection_id=cid, method="GET", path="v1/thing", query="limit=1"), metadata=auth(key)
    )
    parts = [part async for part in call]
    assert parts[0].head.status == 200
    seen = json.loads(b"".join(p.body_chunk for p in parts[1:]))
    assert seen["path"] == f"/api/{pid}/v1/thing" and seen["query"] == "limit=1"
    for name, value in expected.items():
        assert seen["headers"].get(name) == value, name
    answer = repr(parts[0].head.headers)
    assert KEY not in answer and SECRET not in answer

"""A catalog-only OAuth2 provider (the strict fake, declared in an operator file with a
`base_url`) proxied end to end: an expiring token is refreshed before the call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as kpb
from ucf.connector.v1 import proxy_pb2 as pb
from ucf.connector.v1 import proxy_pb2_grpc

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.oauth_server import FakeOAuthServer

REDIRECT = "http://127.0.0.1:8000/api/oauth/callback"
SECRET = "proxy-client-secret-5e2a"


@pytest.fixture
def provider() -> Iterator[FakeOAuthServer]:
    # 60 s tokens are always within the 300 s refresh margin: every read is due.
    server = FakeOAuthServer(access_token_lifetime=60)
    server.register_client("acme-client", secret=SECRET, redirect_uris=[REDIRECT])
    with server.serve():
        yield server


@pytest.fixture
async def oauth_stack(
    provider: FakeOAuthServer, mongo_url: str, db_suffix: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, str, httpx.AsyncClient]]:
    path = tmp_path / "providers.yaml"
    path.write_text("providers:" + provider.catalog_entry() + f"    base_url: {provider.issuer}\n")
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, providers_file=path) as stack,
    ):
        key = await stack.key()
        await stack.connectors.UpdateConnector(
            kpb.UpdateConnectorRequest(
                connector_id="acme",
                oauth=kpb.OAuthSettings(client_id="acme-client", client_secret=SECRET, redirect_uri=REDIRECT),
            ),
            metadata=auth(key),
        )
        yield stack, key, http


async def test_an_expiring_token_is_refreshed_before_the_proxied_call(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    started = await stack.connectors.Connect(
        kpb.ConnectRequest(connector_id="acme", workspace_id="ws1", method="oauth2", return_url="https://app.example/"),
        metadata=auth(key),
    )
    back = dict(parse_qsl(urlsplit((await http.get(started.auth_url)).headers["location"]).query))
    done = await stack.connectors.ConnectCallback(
        kpb.ConnectCallbackRequest(
            connector_id="acme", workspace_id="ws1", code=back["code"], state=back["state"], iss=back["iss"]
        ),
        metadata=auth(key),
    )
    refreshes = provider.calls["token:refresh_token"]
    call = proxy_pb2_grpc.ProxyServiceStub(stack.channel).Forward(
        pb.ForwardRequest(connection_id=done.connection_id, method="GET", path="userinfo"), metadata=auth(key)
    )
    parts = [part async for part in call]
    assert parts[0].head.status == 200
    assert b"Test User" in b"".join(p.body_chunk for p in parts[1:])
    assert provider.calls["token:refresh_token"] == refreshes + 1
    conn = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=done.connection_id), metadata=auth(key)
    )
    assert conn.connection.HasField("last_refreshed_at")

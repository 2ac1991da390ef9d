"""A catalog-only OAuth2 provider (the strict fake, declared in an operator file with a
`base_url`) proxied end to end: an expiring token is refreshed before the call, and a token the
provider ended early (401) is refreshed and the call sent again, as the resource connectors do."""

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


@pytest.fixture(params=[pytest.param(60, id="due")])
def provider(request: pytest.FixtureRequest) -> Iterator[FakeOAuthServer]:
    # 60 s tokens are always within the 300 s refresh margin: every read is due. Tests that
    # need a token that is not due ask for 3600 s.
    server = FakeOAuthServer(access_token_lifetime=request.param)
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


async def _connected(stack: Stack, key: str, http: httpx.AsyncClient) -> str:
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
    return done.connection_id


async def _userinfo(stack: Stack, key: str, connection_id: str) -> tuple[int, bytes]:
    call = proxy_pb2_grpc.ProxyServiceStub(stack.channel).Forward(
        pb.ForwardRequest(connection_id=connection_id, method="GET", path="userinfo"), metadata=auth(key)
    )
    parts = [part async for part in call]
    return parts[0].head.status, b"".join(p.body_chunk for p in parts[1:])


async def _status(stack: Stack, key: str, connection_id: str) -> cpb.Connection:
    answer = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=connection_id), metadata=auth(key)
    )
    return answer.connection


async def test_an_expiring_token_is_refreshed_before_the_proxied_call(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    connection_id = await _connected(stack, key, http)
    refreshes = provider.calls["token:refresh_token"]
    status, body = await _userinfo(stack, key, connection_id)
    assert status == 200 and b"Test User" in body
    assert provider.calls["token:refresh_token"] == refreshes + 1
    assert (await _status(stack, key, connection_id)).HasField("last_refreshed_at")


@pytest.mark.parametrize("provider", [pytest.param(3600, id="not-due")], indirect=True)
async def test_a_token_the_provider_ended_early_is_refreshed_and_the_call_sent_again(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    connection_id = await _connected(stack, key, http)
    assert (await _userinfo(stack, key, connection_id))[0] == 200
    refreshes = provider.calls["token:refresh_token"]
    assert refreshes == 0  # not due: the first call used the stored token

    provider.end_access_tokens()
    status, body = await _userinfo(stack, key, connection_id)
    assert status == 200 and b"Test User" in body  # the caller never saw the 401
    assert provider.calls["token:refresh_token"] == 1
    assert (await _status(stack, key, connection_id)).status == "connected"


@pytest.mark.parametrize("provider", [pytest.param(3600, id="not-due")], indirect=True)
async def test_a_revoked_grant_passes_the_401_through_and_marks_the_connection_invalid(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    connection_id = await _connected(stack, key, http)
    provider.revoke_grants()
    status, _ = await _userinfo(stack, key, connection_id)
    assert status == 401  # the provider's own answer
    assert (await _status(stack, key, connection_id)).status == "invalid"  # as a resource read marks it

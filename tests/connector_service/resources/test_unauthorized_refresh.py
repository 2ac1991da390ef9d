"""A provider 401 on an OAuth2 connection with a refresh token: one refresh under the refresh
lease, then one retry; only a second 401 marks the connection invalid. The provider is the
strict fake OAuth2 server, whose userinfo endpoint rejects a revoked access token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from connector_service.catalog.providers import load_catalog
from connector_service.catalog.settings import ConnectorSettingsStore
from connector_service.connectors.auth import OAuth2Credential
from connector_service.connectors.http import CREDENTIAL_REJECTED, Upstream
from connector_service.resources.contexts import ConnectorContexts
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as pb
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.oauth_server import FakeOAuthServer

REDIRECT = "http://127.0.0.1:8000/api/oauth/callback"


@pytest.fixture
def provider() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer(access_token_lifetime=3600)
    server.register_client("acme-client", secret="s3cret-client", redirect_uris=[REDIRECT])
    with server.serve():
        yield server


@pytest.fixture
async def env(
    provider: FakeOAuthServer, mongo_url: str, db_suffix: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, str, ConnectorContexts, httpx.AsyncClient]]:
    providers = tmp_path / "providers.yaml"
    providers.write_text("providers:" + provider.catalog_entry())
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, providers_file=providers) as stack,
    ):
        key = await stack.key()
        await stack.connectors.UpdateConnector(
            pb.UpdateConnectorRequest(
                connector_id="acme",
                oauth=pb.OAuthSettings(client_id="acme-client", client_secret="s3cret-client", redirect_uri=REDIRECT),
            ),
            metadata=auth(key),
        )
        contexts = ConnectorContexts(
            stack.server.credentials, load_catalog(providers), ConnectorSettingsStore(stack.db), http
        )
        yield stack, key, contexts, http


async def _connected(stack: Stack, key: str, http: httpx.AsyncClient) -> str:
    started = await stack.connectors.Connect(
        pb.ConnectRequest(connector_id="acme", workspace_id="ws", method="oauth2"), metadata=auth(key)
    )
    answer = await http.get(started.auth_url, follow_redirects=False)
    back = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    done = await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(
            connector_id="acme", workspace_id="ws", code=back["code"], state=back["state"], iss=back["iss"]
        ),
        metadata=auth(key),
    )
    return done.connection_id


async def _status(stack: Stack, key: str, connection_id: str) -> str:
    got = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=connection_id), metadata=auth(key)
    )
    return got.connection.status


async def _userinfo(contexts: ConnectorContexts, provider: FakeOAuthServer, connection_id: str) -> dict:
    ctx = await contexts("acme", connection_id, "acme")
    upstream = Upstream(ctx, "acme", provider.url("userinfo").rsplit("/", 1)[0], ctx.credential.request_auth().headers)
    return await upstream.get("/userinfo")


async def test_a_rejected_token_is_refreshed_once_and_the_request_retried(env, provider: FakeOAuthServer) -> None:
    stack, key, contexts, http = env
    connection_id = await _connected(stack, key, http)
    first = await stack.connections.GetToken(cpb.GetTokenRequest(connection_id=connection_id), metadata=auth(key))
    first_token = first.credential.access_token
    # The provider stops accepting the token before it expires (revoked on its side).
    revoked = await http.post(
        provider.url("revoke"), data={"token": first_token}, auth=("acme-client", "s3cret-client")
    )
    assert revoked.status_code == 200 and not provider.is_active(first_token)

    answer = await _userinfo(contexts, provider, connection_id)

    assert answer  # the retried request succeeded
    assert provider.calls["token:refresh_token"] == 1
    assert await _status(stack, key, connection_id) == "connected"
    now = await stack.connections.GetToken(cpb.GetTokenRequest(connection_id=connection_id), metadata=auth(key))
    assert now.credential.access_token != first_token and provider.is_active(now.credential.access_token)


async def test_after_a_refresh_the_same_context_sends_the_new_token_at_once(env, provider: FakeOAuthServer) -> None:
    stack, key, contexts, http = env
    connection_id = await _connected(stack, key, http)
    ctx = await contexts("acme", connection_id, "acme")
    rejected = ctx.credential
    assert isinstance(rejected, OAuth2Credential)
    await http.post(
        provider.url("revoke"), data={"token": rejected.access_token}, auth=("acme-client", "s3cret-client")
    )
    base = provider.url("userinfo").rsplit("/", 1)[0]
    assert await Upstream(ctx, "acme", base, ctx.credential.request_auth().headers).get("/userinfo")

    # A later request of the same context (a job's next page) goes out with the new token.
    fresh = ctx.credential
    assert isinstance(fresh, OAuth2Credential) and fresh.access_token != rejected.access_token
    before = provider.calls["userinfo"]
    assert await Upstream(ctx, "acme", base, ctx.credential.request_auth().headers).get("/userinfo")
    assert provider.calls["userinfo"] == before + 1  # accepted at once, no 401 and retry
    assert provider.calls["token:refresh_token"] == 1


async def test_a_second_401_marks_the_connection_invalid(env, provider: FakeOAuthServer) -> None:
    stack, key, contexts, http = env
    connection_id = await _connected(stack, key, http)
    # The userinfo endpoint answers 401 twice, whatever the token.
    provider.fail_next("userinfo", 401, {"error": "invalid_token"}, times=2)

    with pytest.raises(UcfError) as refused:
        await _userinfo(contexts, provider, connection_id)

    assert refused.value.code is ErrorCode.FAILED_PRECONDITION and refused.value.message == CREDENTIAL_REJECTED
    assert provider.calls["token:refresh_token"] == 1  # one refresh, one retry, no more
    assert await _status(stack, key, connection_id) == "invalid"

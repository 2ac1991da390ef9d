"""Onboarding through the real service against the strict fake OAuth2 server,
declared as an operator provider (so this also proves an operator-added
provider is fully connectable and its tokens managed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.oauth_server import FakeOAuthServer

REDIRECT = "http://127.0.0.1:8000/api/oauth/callback"
CLIENT_SECRET = "client-secret-canary-91b2"


@pytest.fixture
def provider() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer(access_token_lifetime=3600)
    server.register_client(
        "acme-client", secret=CLIENT_SECRET, redirect_uris=[REDIRECT], auth_method="client_secret_basic"
    )
    with server.serve():
        yield server


@pytest.fixture
async def oauth_stack(
    provider: FakeOAuthServer, mongo_url: str, db_suffix: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, str, httpx.AsyncClient]]:
    providers = tmp_path / "providers.yaml"
    providers.write_text(
        "providers:"
        + provider.catalog_entry()
        + f"""
  acme-keys:
    display_name: Acme with API keys
    auth_mode: api_key
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
    verification:
      url: {provider.url("userinfo")}
      headers: {{Authorization: "Bearer {{api_key}}"}}
"""
    )
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, providers_file=providers) as stack,
    ):
        key = await stack.key()
        await stack.connectors.UpdateConnector(
            pb.UpdateConnectorRequest(
                connector_id="acme",
                oauth=pb.OAuthSettings(client_id="acme-client", client_secret=CLIENT_SECRET, redirect_uri=REDIRECT),
            ),
            metadata=auth(key),
        )
        yield stack, key, http


async def _authorize(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """What the provider sends the browser back with."""
    response = await http.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


async def _connect(stack: Stack, key: str, workspace: str = "ws1") -> pb.ConnectResponse:
    return await stack.connectors.Connect(
        pb.ConnectRequest(
            connector_id="acme", workspace_id=workspace, method="oauth2", return_url="https://app.example/done"
        ),
        metadata=auth(key),
    )


async def test_full_oauth_flow_stores_tokens_and_tokens_refresh(oauth_stack, provider: FakeOAuthServer) -> None:
    stack, key, http = oauth_stack
    started = await _connect(stack, key)
    assert started.state and started.expires_at.seconds > 0
    sent = dict(parse_qsl(urlsplit(started.auth_url).query))
    assert sent["code_challenge_method"] == "S256" and "code_verifier" not in started.auth_url
    back = await _authorize(http, started.auth_url)
    done = await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(
            connector_id="acme", workspace_id="ws1", code=back["code"], state=back["state"], iss=back["iss"]
        ),
        metadata=auth(key),
    )
    assert done.status == "connected" and done.return_url == "https://app.example/done"

    token = await stack.connections.GetToken(cpb.GetTokenRequest(connection_id=done.connection_id), metadata=auth(key))
    assert provider.is_active(token.credential.access_token)
    forced = await stack.connections.GetToken(
        cpb.GetTokenRequest(connection_id=done.connection_id, force_refresh=True), metadata=auth(key)
    )
    assert forced.credential.refreshed and forced.credential.access_token != token.credential.access_token
    assert provider.is_active(forced.credential.access_token)
    conn = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=done.connection_id), metadata=auth(key)
    )
    assert conn.connection.HasField("last_refreshed_at")

    valid = await stack.connectors.ValidateConnector(
        pb.ValidateConnectorRequest(connector_id="acme", connection_id=done.connection_id), metadata=auth(key)
    )
    assert valid.valid and valid.HasField("validated_at")

    revoked = await stack.connectors.RevokeConnector(
        pb.RevokeConnectorRequest(connector_id="acme", connection_id=done.connection_id), metadata=auth(key)
    )
    assert revoked.revoked_upstream and revoked.status == "revoked"
    assert not provider.is_active(forced.credential.access_token)


async def test_replayed_bogus_or_foreign_state_never_reaches_the_token_endpoint(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    started = await _connect(stack, key)
    back = await _authorize(http, started.auth_url)
    other_tenant = await stack.key("globex")
    attempts = [
        (other_tenant, "ws1", back["state"]),  # foreign tenant
        (key, "ws-other", back["state"]),  # another workspace
        (key, "ws1", "bogus-state"),
    ]
    for caller, workspace, state in attempts:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.connectors.ConnectCallback(
                pb.ConnectCallbackRequest(
                    connector_id="acme", workspace_id=workspace, code=back["code"], state=state, iss=back["iss"]
                ),
                metadata=auth(caller),
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert provider.calls["token"] == 0
    await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(
            connector_id="acme", workspace_id="ws1", code=back["code"], state=back["state"], iss=back["iss"]
        ),
        metadata=auth(key),
    )
    with pytest.raises(grpc.aio.AioRpcError) as replay:
        await stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="acme", workspace_id="ws1", code=back["code"], state=back["state"], iss=back["iss"]
            ),
            metadata=auth(key),
        )
    assert replay.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert provider.calls["token"] == 1


async def test_browser_redirect_completes_without_an_api_key(oauth_stack) -> None:
    stack, key, http = oauth_stack
    back = await _authorize(http, (await _connect(stack, key, "ws9")).auth_url)
    done = await stack.connectors.CompleteOAuthRedirect(
        pb.CompleteOAuthRedirectRequest(code=back["code"], state=back["state"], iss=back["iss"])
    )
    assert (done.connector_id, done.status, done.return_url) == ("acme", "connected", "https://app.example/done")
    listed = await stack.connections.ListConnections(cpb.ListConnectionsRequest(workspace_id="ws9"), metadata=auth(key))
    assert [c.id for c in listed.items] == [done.connection_id]


async def test_provider_denial_is_reported_with_its_reason(oauth_stack, provider) -> None:
    stack, key, _ = oauth_stack
    started = await _connect(stack, key)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="acme",
                workspace_id="ws1",
                state=started.state,
                iss=provider.issuer,
                error="access_denied",
                error_description="user said no",
            ),
            metadata=auth(key),
        )
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "access_denied" in caught.value.details()
    assert provider.calls["token"] == 0


async def test_connector_settings_never_return_or_persist_the_client_secret(oauth_stack) -> None:
    stack, key, _ = oauth_stack
    got = await stack.connectors.GetConnector(pb.GetConnectorRequest(connector_id="acme"), metadata=auth(key))
    assert got.connector.oauth.client_id == "acme-client" and got.connector.oauth.client_secret_set
    assert got.connector.oauth.client_secret == ""
    dump = repr([d for name in await stack.db.list_collection_names() async for d in stack.db[name].find()])
    assert CLIENT_SECRET not in dump and CLIENT_SECRET in stack.vault.plaintexts()
    other = await stack.connectors.GetConnector(
        pb.GetConnectorRequest(connector_id="acme"), metadata=auth(await stack.key("globex"))
    )
    assert other.connector.oauth.client_id == "" and not other.connector.oauth.client_secret_set


async def test_disabled_connector_refuses_to_connect(oauth_stack) -> None:
    stack, key, _ = oauth_stack
    await stack.connectors.UpdateConnector(
        pb.UpdateConnectorRequest(connector_id="acme", enabled=False), metadata=auth(key)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _connect(stack, key)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_api_key_onboarding_verifies_upstream_before_storing(oauth_stack, provider) -> None:
    stack, key, http = oauth_stack
    fields = await stack.connectors.Connect(
        pb.ConnectRequest(connector_id="acme-keys", workspace_id="ws1"), metadata=auth(key)
    )
    assert fields.method == "api_key" and [f.name for f in fields.fields] == ["api_key"] and not fields.auth_url
    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(connector_id="acme-keys", workspace_id="ws1", api_key="wrong-key"),
            metadata=auth(key),
        )
    assert rejected.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "wrong-key" not in rejected.value.details()
    listed = await stack.connections.ListConnections(
        cpb.ListConnectionsRequest(connector_id="acme-keys"), metadata=auth(key)
    )
    assert list(listed.items) == []
    # A token the provider accepts works as an API key, with no prior connect call.
    back = await _authorize(http, (await _connect(stack, key, "ws-src")).auth_url)
    src = await stack.connectors.CompleteOAuthRedirect(
        pb.CompleteOAuthRedirectRequest(code=back["code"], state=back["state"], iss=back["iss"])
    )
    good = (
        await stack.connections.GetToken(cpb.GetTokenRequest(connection_id=src.connection_id), metadata=auth(key))
    ).credential.access_token
    done = await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id="acme-keys", workspace_id="ws2", api_key=good), metadata=auth(key)
    )
    assert done.status == "connected"


async def test_credentials_form_is_checked_against_the_provider_fields(stack: Stack) -> None:
    key = await stack.key()
    form = struct_pb2.Struct()
    form.update({"host": "127.0.0.1", "user": "u", "password": "p", "colour": "red"})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(connector_id="postgres", workspace_id="ws1", credentials=form), metadata=auth(key)
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "colour" in caught.value.details()
    form = struct_pb2.Struct()
    form.update({"host": "127.0.0.1", "port": 1, "database": "d", "user": "u", "password": "pg-canary-pw"})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(connector_id="postgres", workspace_id="ws1", credentials=form), metadata=auth(key)
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "PostgreSQL" in refused.value.details() and "pg-canary-pw" not in refused.value.details()

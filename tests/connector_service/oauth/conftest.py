"""Fixtures: a strict fake authorization server with one client per auth method, an HTTP
client, and helpers to walk the authorization-code flow the way a browser would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from connector_service.oauth import (
    ClientCredentials,
    OAuthClient,
    ProviderEndpoints,
    TokenSet,
    build_authorization_request,
    parse_authorization_response,
)

from tests.fakes.oauth_server import FakeOAuthServer

REDIRECT_URI = "http://127.0.0.1:8000/api/oauth/callback"
CLIENTS = {
    "client_secret_basic": ClientCredentials("basic-client", "basic secret/with+specials"),
    "client_secret_post": ClientCredentials("post-client", "post-secret-value"),
    "none": ClientCredentials("public-client"),
}


def register_clients(server: FakeOAuthServer) -> None:
    for method, creds in CLIENTS.items():
        server.register_client(
            creds.client_id, secret=creds.client_secret, redirect_uris=[REDIRECT_URI], auth_method=method
        )


@pytest.fixture
def oauth_server() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer()
    register_clients(server)
    with server.serve():
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def endpoints(server: FakeOAuthServer, method: str = "client_secret_basic", **overrides) -> ProviderEndpoints:
    fields = {
        "authorization_url": server.url("authorize"),
        "token_url": server.url("token"),
        "revocation_url": server.url("revoke"),
        "token_auth_method": method,
        "issuer": server.issuer,
    }
    return ProviderEndpoints(**{**fields, **overrides})


async def follow_authorization(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """What the provider redirected the browser back with (the callback's query)."""
    response = await http.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return dict(parse_qsl(location.query))


async def connect(
    http: httpx.AsyncClient,
    server: FakeOAuthServer,
    method: str = "client_secret_basic",
    scopes: tuple[str, ...] = ("read", "write"),
) -> TokenSet:
    """The whole authorization-code flow with PKCE; returns the issued tokens."""
    provider = endpoints(server, method)
    request = build_authorization_request(provider, CLIENTS[method], redirect_uri=REDIRECT_URI, scopes=scopes)
    query = await follow_authorization(http, request.url)
    assert query["state"] == request.state
    code = parse_authorization_response(query, expected_issuer=provider.issuer)
    client = OAuthClient(http, provider, CLIENTS[method])
    return await client.exchange_code(code, redirect_uri=REDIRECT_URI, code_verifier=request.code_verifier)

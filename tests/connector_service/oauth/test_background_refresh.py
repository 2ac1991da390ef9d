"""Background refresh against the strict fake OAuth2 server: a credential that
expires soon is refreshed with no one reading it, and a grant the provider
revoked marks the connection `refresh_failed`, is audited and reaches the
refresh-failed listeners (the emit point of `connection.credential_refresh_failed`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from connector_service.connections.model import Connection
from connector_service.oauth.tokens import TokenSet
from connector_service.vault import kinds
from google.protobuf import timestamp_pb2
from ucf.connector.v1 import connections_pb2 as pb
from ucf.connector.v1 import connectors_pb2 as cpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, providers_file, start_stack
from tests.fakes.oauth_server import FakeOAuthServer

CLIENT_ID, CLIENT_SECRET = "acme-client", "acme-client-secret-bg"
REDIRECT = "https://app.example/callback"


def mint(provider: FakeOAuthServer) -> dict:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "read write",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    back = httpx.get(provider.url("authorize") + "?" + query, follow_redirects=False)
    code = dict(parse_qsl(urlsplit(back.headers["location"]).query))["code"]
    answer = httpx.post(
        provider.url("token"),
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
    )
    return answer.json()


@pytest.fixture
async def env(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, FakeOAuthServer, str]]:
    provider = FakeOAuthServer(access_token_lifetime=120)
    provider.register_client(CLIENT_ID, secret=CLIENT_SECRET, redirect_uris=[REDIRECT])
    with provider.serve():
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                providers_file=providers_file(tmp_path, provider.catalog_entry()),
                ucf_background_refresh_ahead_seconds=600,
                ucf_background_refresh_interval_seconds=0.2,
                ucf_egress_allowed_networks="127.0.0.0/8",
            ) as stack,
        ):
            key = await stack.key()
            await stack.connectors.UpdateConnector(
                cpb.UpdateConnectorRequest(
                    connector_id="acme",
                    oauth=cpb.OAuthSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT),
                ),
                metadata=auth(key),
            )
            yield stack, provider, key


async def store(stack: Stack, key: str, tokens: dict) -> str:
    expires = timestamp_pb2.Timestamp()
    expires.FromDatetime(datetime.now(UTC) + timedelta(seconds=tokens["expires_in"]))
    request = pb.StoreTokenRequest(
        connector_id="acme",
        workspace_id="bg",
        token_set=pb.TokenSet(
            access_token=tokens["access_token"], refresh_token=tokens["refresh_token"], expires_at=expires
        ),
    )
    return (await stack.connections.StoreToken(request, metadata=auth(key))).connection.id


async def test_an_expiring_credential_is_refreshed_with_zero_reads(env) -> None:
    stack, provider, key = env
    tokens = mint(provider)
    cid = await store(stack, key, tokens)
    while await stack.audited(cid, "credential.refreshed") == 0:
        await asyncio.sleep(0.05)
    conn = (
        await stack.connections.GetConnection(pb.GetConnectionRequest(connection_id=cid), metadata=auth(key))
    ).connection
    assert conn.status == "connected"
    assert await stack.audited(cid, "credential.use") == 0
    assert await stack.audited(cid, "credential.export") == 0
    stored = await stack.vault.get("acme", cid, kinds.OAUTH2_TOKENS)
    assert TokenSet.from_payload(stored.payload).access_token != tokens["access_token"]
    assert TokenSet.from_payload(stored.payload).expires_at > datetime.now(UTC) + timedelta(seconds=100)


async def test_a_revoked_grant_marks_the_connection_and_is_audited(env) -> None:
    stack, provider, key = env
    failed: list[str] = []

    async def listener(tenant_id: str, connection: Connection, error) -> None:
        failed.append(connection.id)

    stack.server.token_refresher.on_refresh_failed(listener)
    tokens = mint(provider)
    httpx.post(provider.url("revoke"), auth=(CLIENT_ID, CLIENT_SECRET), data={"token": tokens["refresh_token"]})
    cid = await store(stack, key, tokens)
    while not failed:
        await asyncio.sleep(0.05)
    conn = (
        await stack.connections.GetConnection(pb.GetConnectionRequest(connection_id=cid), metadata=auth(key))
    ).connection
    assert conn.status == "refresh_failed"
    assert failed == [cid]
    assert await stack.audited(cid, "credential.refresh_failed") == 1

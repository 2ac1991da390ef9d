"""Issue 4's token lifecycle over real processes: the gateway, two connector-service
processes (same MongoDB, same vault) and the vault, against the strict fake OAuth2
server declared as an operator provider through UCF_PROVIDERS_FILE.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import grpc
import httpx
import pytest
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connections_pb2_grpc

from tests.fakes.oauth_server import FakeOAuthServer
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET = "acme-client", "acme-client-secret-7f3e"
RETURN_URL = "https://app.example/done"
READERS = 50


class Running:
    def __init__(self, stack: LocalStack, provider: FakeOAuthServer, second_connector: str):
        self.stack, self.provider, self.second_connector = stack, provider, second_connector
        self.redirect_uri = stack.gateway_url + "/api/oauth/callback"
        self.http = httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60)
        #: every access/refresh token the tests handled, for the log check at the end
        self.tokens: set[str] = set()


@pytest.fixture(scope="module")
def running(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("lifecycle")
    provider = FakeOAuthServer(access_token_lifetime=3600)
    with provider.serve():
        providers = folder / "providers.yaml"
        providers.write_text("providers:" + provider.catalog_entry())
        stack = LocalStack(folder / "stack", mongo_url, extra_env={"UCF_PROVIDERS_FILE": str(providers)})
        provider.register_client(
            CLIENT_ID,
            secret=CLIENT_SECRET,
            redirect_uris=[stack.gateway_url + "/api/oauth/callback"],
            auth_method="client_secret_basic",
        )
        with stack:
            run = Running(stack, provider, stack.start_connector("connector2"))
            try:
                patched = run.http.patch(
                    "/api/connectors/acme",
                    json={
                        "oauth": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "redirectUri": run.redirect_uri}
                    },
                )
                assert patched.status_code == 200, patched.text
                assert patched.json()["data"]["oauth"]["clientSecretSet"] is True
                assert CLIENT_SECRET not in patched.text
                yield run
            finally:
                run.http.close()


def _connect(run: Running, workspace: str) -> dict:
    started = run.http.post(
        "/api/connectors/acme/connect", json={"workspaceId": workspace, "method": "oauth2", "returnUrl": RETURN_URL}
    )
    assert started.status_code == 200, started.text
    return started.json()["data"]


def _authorize(url: str) -> str:
    """The user approves at the provider; returns where the provider sends the browser."""
    response = httpx.get(url, follow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _mint_tokens(run: Running) -> dict:
    """An authorization-code grant done directly with the provider: a real access/refresh token pair."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    back = _query(
        _authorize(
            run.provider.url("authorize")
            + "?"
            + urlencode(
                {
                    "client_id": CLIENT_ID,
                    "redirect_uri": run.redirect_uri,
                    "response_type": "code",
                    "scope": "read write",
                    "state": "direct",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
        )
    )
    answer = httpx.post(
        run.provider.url("token"),
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": run.redirect_uri,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    run.tokens.update((answer.json()["access_token"], answer.json()["refresh_token"]))
    return answer.json()


def _store_expired(run: Running, workspace: str, tokens: dict) -> str:
    """Stores the pair as a token set that expired a minute ago; returns the connection id."""
    stored = run.http.post(
        "/api/connections/token",
        json={
            "connectorId": "acme",
            "workspaceId": workspace,
            "token": {
                "accessToken": tokens["access_token"],
                "refreshToken": tokens["refresh_token"],
                "tokenType": "Bearer",
                "expiresAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            },
        },
    )
    assert stored.status_code == 200, stored.text
    return stored.json()["data"]["id"]


def test_full_rest_flow_and_bad_states_never_reach_the_token_endpoint(running: Running) -> None:
    run, exchanges = running, running.provider.calls["token:authorization_code"]
    started = _connect(run, "ws-flow")
    assert started["state"] and started["expiresAt"] and started["authUrl"].startswith(run.provider.url("authorize"))
    assert _query(started["authUrl"])["code_challenge_method"] == "S256"
    back = _query(_authorize(started["authUrl"]))
    assert back["state"] == started["state"]

    for state in ("bogus-state", started["state"] + "x"):
        refused = run.http.post(
            "/api/connectors/acme/connect/callback",
            json={"workspaceId": "ws-flow", "code": back["code"], "state": state, "iss": back["iss"]},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
    assert run.provider.calls["token:authorization_code"] == exchanges

    done = run.http.post(
        "/api/connectors/acme/connect/callback",
        json={"workspaceId": "ws-flow", "code": back["code"], "state": back["state"], "iss": back["iss"]},
    )
    assert done.status_code == 200, done.text
    assert done.json()["data"]["status"] == "connected"
    connection_id = done.json()["data"]["connectionId"]
    assert run.provider.calls["token:authorization_code"] == exchanges + 1

    replayed = run.http.post(
        "/api/connectors/acme/connect/callback",
        json={"workspaceId": "ws-flow", "code": back["code"], "state": back["state"], "iss": back["iss"]},
    )
    assert replayed.status_code == 400, replayed.text
    assert run.provider.calls["token:authorization_code"] == exchanges + 1

    token = run.http.get(f"/api/connections/{connection_id}/token")
    assert token.status_code == 200, token.text
    assert token.json()["data"]["kind"] == "oauth2"
    run.tokens.add(token.json()["data"]["accessToken"])
    assert run.provider.is_active(token.json()["data"]["accessToken"])


def test_browser_redirect_variant_lands_on_the_return_url(running: Running) -> None:
    run, exchanges = running, running.provider.calls["token:authorization_code"]
    callback_url = _authorize(_connect(run, "ws-browser")["authUrl"])
    assert callback_url.startswith(run.redirect_uri)

    with httpx.Client(timeout=60) as browser:  # no API key: the state authenticates the redirect
        landed = browser.get(callback_url, follow_redirects=False)
        assert landed.status_code == 303, landed.text
        assert landed.headers["location"].startswith(RETURN_URL)
        result = _query(landed.headers["location"])
        assert result["status"] == "connected" and result["connectorId"] == "acme"

        again = browser.get(callback_url, follow_redirects=False)
        assert again.status_code == 400, again.text
    assert run.provider.calls["token:authorization_code"] == exchanges + 1
    token = run.http.get(f"/api/connections/{result['connectionId']}/token")
    assert token.status_code == 200 and run.provider.is_active(token.json()["data"]["accessToken"])


def test_concurrent_readers_in_two_processes_share_one_refresh(running: Running) -> None:
    run = running
    tokens = _mint_tokens(run)
    connection_id = _store_expired(run, "ws-race", tokens)
    refreshes, reuse = run.provider.calls["token:refresh_token"], run.provider.reuse_detected

    async def read_all() -> list[str]:
        async with (
            httpx.AsyncClient(base_url=run.stack.gateway_url, headers=run.stack.auth_headers, timeout=60) as http,
            grpc.aio.insecure_channel(run.second_connector) as channel,
        ):
            stub = connections_pb2_grpc.ConnectionServiceStub(channel)
            metadata = [("authorization", f"Bearer {run.stack.api_key}")]

            async def via_gateway() -> str:
                answer = await http.get(f"/api/connections/{connection_id}/token")
                assert answer.status_code == 200, answer.text
                return answer.json()["data"]["accessToken"]

            async def direct() -> str:
                answer = await stub.GetToken(
                    cpb.GetTokenRequest(connection_id=connection_id), metadata=metadata, timeout=60
                )
                return answer.credential.access_token

            return await asyncio.gather(*[(via_gateway if n % 2 else direct)() for n in range(READERS)])

    seen = asyncio.run(read_all())

    assert run.provider.calls["token:refresh_token"] == refreshes + 1
    assert run.provider.reuse_detected == reuse
    assert len(seen) == READERS and set(seen) == {seen[0]}
    assert seen[0] != tokens["access_token"] and run.provider.is_active(seen[0])
    run.tokens.add(seen[0])
    connection = run.http.get(f"/api/connections/{connection_id}").json()["data"]
    assert connection["status"] == "connected" and connection["lastRefreshedAt"]


def test_a_failed_refresh_answers_with_the_provider_reason_and_a_revoked_connection_yields_nothing(
    running: Running,
) -> None:
    run = running
    tokens = _mint_tokens(run)
    connection_id = _store_expired(run, "ws-failed", tokens)
    revoked = httpx.post(
        run.provider.url("revoke"),
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=30,
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert revoked.status_code == 200
    refreshes = run.provider.calls["token:refresh_token"]

    for _ in range(2):
        failed = run.http.get(f"/api/connections/{connection_id}/token")
        assert failed.status_code == 412, failed.text
        error = failed.json()["error"]
        assert error["code"] == "failed_precondition"
        assert error["details"]["providerError"] == "invalid_grant"
        assert "revoked" in error["details"]["providerErrorDescription"]
        assert "reconnect" in error["message"]
    # the dead refresh token was presented once, not once per reader
    assert run.provider.calls["token:refresh_token"] == refreshes + 1
    assert run.http.get(f"/api/connections/{connection_id}").json()["data"]["status"] == "refresh_failed"

    # a connected connection, revoked: neither process hands out its token again
    fresh = _mint_tokens(run)
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    stored = run.http.post(
        "/api/connections/token",
        json={
            "connectorId": "acme",
            "workspaceId": "ws-revoked",
            "token": {
                "accessToken": fresh["access_token"],
                "refreshToken": fresh["refresh_token"],
                "expiresAt": in_an_hour,
            },
        },
    )
    live_id = stored.json()["data"]["id"]
    assert run.http.get(f"/api/connections/{live_id}/token").json()["data"]["accessToken"] == fresh["access_token"]
    answer = run.http.post(f"/api/connections/{live_id}/revoke")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["status"] == "revoked"
    assert not run.provider.is_active(fresh["access_token"])
    for reader in (connection_id, live_id):
        run.http.post(f"/api/connections/{reader}/revoke")
        refused = run.http.get(f"/api/connections/{reader}/token", params={"forceRefresh": "true"})
        assert refused.status_code == 412, refused.text
        assert refused.json()["error"]["details"]["status"] == "revoked"
        with grpc.insecure_channel(run.second_connector) as channel, pytest.raises(grpc.RpcError) as direct:
            connections_pb2_grpc.ConnectionServiceStub(channel).GetToken(
                cpb.GetTokenRequest(connection_id=reader),
                metadata=[("authorization", f"Bearer {run.stack.api_key}")],
                timeout=60,
            )
        assert direct.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "accessToken" not in refused.text and fresh["access_token"] not in refused.text


def test_no_process_logged_a_token_or_the_client_secret(running: Running) -> None:
    assert len(running.tokens) >= 6  # the tests above ran and handed tokens around
    for name in ("gateway", "connector", "connector2", "vault"):
        text = running.stack.log_text(name)
        assert text, f"{name} wrote no log"
        leaked = [t for t in (CLIENT_SECRET, *running.tokens) if t in text]
        assert not leaked, f"{name} logged {len(leaked)} secret value(s)"

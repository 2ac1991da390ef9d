"""Issue 16 item 4: catalog-only providers whose URLs take a connect param (Okta-style
`{domain}`) work end to end with no Python code, over the real gateway, connector service
and vault: connect with connectParams, callback, token read, forced refresh, proxy and
revoke; the Connect page asks for the param first; bad params are refused before anything
is dialled. The strict fake OAuth server lives under `/<domain>/` only, so a URL built
without (or with another) domain gets 404 there.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.connector_service.proxy.upstream import upstream
from tests.fakes._provider import FakeProvider
from tests.fakes.oauth_server import FakeOAuthServer
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

DOMAIN = "acme-org.example"
CLIENT_ID, CLIENT_SECRET = "org-client", "org-client-secret-5b2d"
KEY_CANARY = "org-key-canary-91c3"


class World:
    def __init__(self, stack: LocalStack, provider: FakeOAuthServer, api: FakeProvider):
        self.stack, self.provider, self.api = stack, provider, api
        self.http = httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60)


@pytest.fixture(scope="module")
def world(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("connectparams")
    provider = FakeOAuthServer(access_token_lifetime=3600, tenant=DOMAIN)
    with provider.serve(), upstream().serve() as api:
        base, up = provider.base_url, api.base_url
        providers = folder / "providers.yaml"
        providers.write_text(
            f"""providers:
  orgauth:
    display_name: Org Auth
    auth_mode: oauth2
    authorization_url: {base}/{{domain}}/authorize
    token_url: {base}/{{domain}}/token
    revocation_url: {base}/{{domain}}/revoke
    default_scopes: [read, write]
    token_auth_method: client_secret_basic
    base_url: {up}/{{domain}}/api
    connect_params:
      - {{name: domain, label: Organization domain, description: "Your organization's sign-in domain."}}
  orgkey:
    display_name: Org Key
    auth_mode: api_key
    base_url: {up}/{{region}}/api
    credential_fields: [{{name: api_key, label: Key, type: password, secret: true}}]
    connect_params:
      - {{name: region, label: Region, default: eu1}}
"""
        )
        stack = LocalStack(folder / "stack", mongo_url, extra_env={"UCF_PROVIDERS_FILE": str(providers)})
        stack.env["UCF_PUBLIC_URL"] = stack.gateway_url
        redirect = stack.gateway_url + "/api/oauth/callback"
        provider.register_client(CLIENT_ID, secret=CLIENT_SECRET, redirect_uris=[redirect])
        with stack:
            world = World(stack, provider, api)
            patched = world.http.patch(
                "/api/connectors/orgauth",
                json={"oauth": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "redirectUri": redirect}},
            )
            assert patched.status_code == 200, patched.text
            try:
                yield world
            finally:
                world.http.close()


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_oauth_connect_refresh_proxy_and_revoke_use_the_domain(world: World) -> None:
    run = world
    started = run.http.post(
        "/api/connectors/orgauth/connect",
        json={"workspaceId": "ws-org", "method": "oauth2", "connectParams": {"domain": DOMAIN}},
    )
    assert started.status_code == 200, started.text
    auth_url = started.json()["data"]["authUrl"]
    assert auth_url.startswith(run.provider.url("authorize") + "?")

    landed = httpx.get(auth_url, follow_redirects=False, timeout=30)
    assert landed.status_code == 302, landed.text
    back = _query(landed.headers["location"])
    done = run.http.post(
        "/api/connectors/orgauth/connect/callback",
        json={"workspaceId": "ws-org", "code": back["code"], "state": back["state"]},
    )
    assert done.status_code == 200, done.text
    cid = done.json()["data"]["connectionId"]
    assert run.provider.calls["token:authorization_code"] == 1

    conn = run.http.get(f"/api/connections/{cid}")
    assert conn.status_code == 200 and conn.json()["data"]["systemMetadata"]["domain"] == DOMAIN

    first = run.http.get(f"/api/connections/{cid}/token").json()["data"]["accessToken"]
    assert run.provider.is_active(first)
    refreshed = run.http.get(f"/api/connections/{cid}/token", params={"forceRefresh": "true"})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["data"]["accessToken"]
    assert second != first and run.provider.is_active(second)
    assert run.provider.calls["token:refresh_token"] == 1

    proxied = run.http.get("/api/proxy/things/1", headers={"Connection-Id": cid})
    assert proxied.status_code == 200, proxied.text
    echoed = proxied.json()
    assert echoed["path"] == f"/{DOMAIN}/api/things/1"
    assert echoed["headers"]["authorization"] == f"Bearer {second}"

    revoked = run.http.post("/api/connectors/orgauth/revoke", json={"connectionId": cid})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["data"]["revokedUpstream"] is True
    assert run.provider.calls["revoke"] == 1 and not run.provider.is_active(second)
    for name in ("gateway", "connector", "vault"):
        assert second not in run.stack.log_text(name)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"domain": "evil.example/x"}, "connectParams.domain"),
        ({"domain": "user@evil.example"}, "connectParams.domain"),
        ({"domain": DOMAIN, "region": "eu"}, "connectParams.region"),
        ({}, "connectParams.domain"),
    ],
)
def test_bad_connect_params_are_refused_naming_the_field_and_nothing_is_dialled(
    world: World, params: dict[str, str], field: str
) -> None:
    seen_oauth, seen_api = len(world.provider._provider.seen), len(world.api.seen)
    refused = world.http.post(
        "/api/connectors/orgauth/connect",
        json={"workspaceId": "ws-bad", "method": "oauth2", "connectParams": params},
    )
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_request" and field in json.dumps(error)
    for value in params.values():
        assert value not in error["message"] or value == DOMAIN
    assert len(world.provider._provider.seen) == seen_oauth and len(world.api.seen) == seen_api


def test_api_key_connect_params_are_stored_at_form_submit_with_defaults(world: World) -> None:
    refused = world.http.post(
        "/api/connectors/orgkey/connect/callback",
        json={"workspaceId": "ws-key", "method": "api_key", "apiKey": KEY_CANARY, "connectParams": {"region": "a@b"}},
    )
    assert refused.status_code == 400 and "connectParams.region" in refused.text
    for region, workspace in (("us2", "ws-key"), (None, "ws-key-default")):
        body = {"workspaceId": workspace, "method": "api_key", "apiKey": KEY_CANARY}
        if region:
            body["connectParams"] = {"region": region}
        stored = world.http.post("/api/connectors/orgkey/connect/callback", json=body)
        assert stored.status_code == 200, stored.text
        cid = stored.json()["data"]["connectionId"]
        proxied = world.http.get("/api/proxy/ping", headers={"Connection-Id": cid})
        assert proxied.status_code == 200, proxied.text
        assert proxied.json()["path"] == f"/{region or 'eu1'}/api/ping"


def test_the_connect_page_asks_for_the_domain_before_oauth(world: World) -> None:
    run = world
    session = run.http.post("/api/connect-sessions", json={"workspaceId": "ws-page", "allowedConnectors": ["orgauth"]})
    assert session.status_code == 201, session.text
    token = session.json()["data"]["token"]
    with httpx.Client(base_url=run.stack.gateway_url, timeout=60) as browser:
        assert browser.get("/connect", params={"session": token}).status_code == 303  # the cookie is set
        listing = browser.get("/connect").text
        assert 'href="/connect/orgauth"' in listing  # the form first, not straight to /start
        page = browser.get("/connect/orgauth")
        assert page.status_code == 200
        assert 'name="connect.domain"' in page.text and "Organization domain" in page.text
        assert "sign-in domain" in page.text

        before = len(run.provider._provider.seen)
        bad = browser.get("/connect/orgauth/start", params={"connect.domain": "evil.example/x"})
        assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text and "domain" in bad.text
        assert len(run.provider._provider.seen) == before

        cont = browser.get("/connect/orgauth/start", params={"connect.domain": DOMAIN})
        assert cont.status_code == 200, cont.text
        found = re.search(r'id="continue" data-auto="1" href="([^"]+)"', cont.text)
        assert found is not None
        auth_url = html.unescape(found.group(1))
        assert auth_url.startswith(run.provider.url("authorize") + "?")
        callback = httpx.get(auth_url, follow_redirects=False, timeout=30).headers["location"]
        finished = browser.get(callback, follow_redirects=True)
        assert finished.status_code == 200, finished.text
        assert "/connect/done" in str(finished.url) and "connectionId" in str(finished.url)
        cid = _query(str(finished.url))["connectionId"]
    conn = run.http.get(f"/api/connections/{cid}").json()["data"]
    assert conn["systemMetadata"]["domain"] == DOMAIN and conn["status"] == "connected"

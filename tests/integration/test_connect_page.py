"""Issue 15 end to end: connect sessions, the hosted Connect page in a real headless Chromium
(Debian's /usr/bin/chromium driven by Playwright), OAuth through the strict fake provider, the
credential form, connect.js in a popup, and lifecycle events verified with `standardwebhooks`.
Screenshots of every screen go to tests/results/connect/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from tests.fakes._provider import FakeProvider
from tests.fakes.oauth_server import FakeOAuthServer
from tests.support.stack import LocalStack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api")
standardwebhooks = pytest.importorskip("standardwebhooks")

CLIENT_ID, CLIENT_SECRET = "acme-client", "acme-client-secret-7f3e"
RESULTS = Path(__file__).resolve().parents[1] / "results" / "connect"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Receiver:
    """The customer's app: an event endpoint that keeps what it got, and a page embedding connect.js."""

    def __init__(self) -> None:
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.gateway = ""
        self.app = FakeProvider(
            Starlette(
                routes=[
                    Route("/events", self._event, methods=["POST"]),
                    Route("/app", self._page),
                    Route("/back", lambda request: PlainTextResponse("back in the app")),
                ]
            )
        )

    async def _event(self, request: Request) -> PlainTextResponse:
        with self.lock:
            self.events.append((dict(request.headers), await request.body()))
        return PlainTextResponse("ok")

    async def _page(self, request: Request) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><title>App</title><script src="{self.gateway}/connect/connect.js"></script>'
            '<button id="go">Connect</button><output id="out"></output>'
        )

    def of_type(self, event_type: str, secret: str) -> list[dict[str, Any]]:
        verifier = standardwebhooks.Webhook(secret)
        with self.lock:
            received = list(self.events)
        return [verifier.verify(body, headers) for headers, body in received if json.loads(body)["type"] == event_type]


class Env:
    def __init__(self, stack: LocalStack, provider: FakeOAuthServer, receiver: Receiver, beta_key: str, secret: str):
        self.stack, self.provider, self.receiver, self.secret = stack, provider, receiver, secret
        self.http = httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60)
        self.beta = httpx.Client(
            base_url=stack.gateway_url, headers={"Authorization": f"Bearer {beta_key}"}, timeout=60
        )
        self.app_origin = receiver.app.base_url

    def session(self, workspace: str, **extra: Any) -> dict[str, Any]:
        answer = self.http.post("/api/connect-sessions", json={"workspaceId": workspace, **extra})
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]

    def wait_for(self, event_type: str, predicate: Any = lambda e: True, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while datetime.now(UTC) < deadline:
            found = [e for e in self.receiver.of_type(event_type, self.secret) if predicate(e)]
            if found:
                return found
            threading.Event().wait(0.2)
        raise AssertionError(f"no {event_type} event arrived")


@pytest.fixture(scope="module")
def env(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path_factory.mktemp("connect")
    provider, receiver = FakeOAuthServer(access_token_lifetime=3600), Receiver()
    with provider.serve(), receiver.app.serve():
        providers = folder / "providers.yaml"
        providers.write_text(
            "providers:"
            + provider.catalog_entry()
            + f"""
  keyed:
    display_name: Keyed Service
    auth_mode: api_key
    credential_fields:
      - {{name: api_key, label: API key, type: password, secret: true,
         description: "Find it under Settings, then API."}}
    verification:
      url: {provider.url("userinfo")}
      headers: {{Authorization: "Bearer {{api_key}}"}}
"""
        )
        stack = LocalStack(
            folder / "stack",
            mongo_url,
            extra_env={"UCF_PROVIDERS_FILE": str(providers), "UCF_WEBHOOK_RETRY_BASE_SECONDS": "0.2"},
        )
        stack.env["UCF_PUBLIC_URL"] = stack.gateway_url
        receiver.gateway = stack.gateway_url
        provider.register_client(
            CLIENT_ID,
            secret=CLIENT_SECRET,
            redirect_uris=[stack.gateway_url + "/api/oauth/callback"],
            auth_method="client_secret_basic",
        )
        with stack:
            beta_key = stack.ensure_api_key("beta", "admin", folder / "beta-key")
            http = httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60)
            patched = http.patch(
                "/api/connectors/acme", json={"oauth": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}}
            )
            assert patched.status_code == 200, patched.text
            settings = http.patch(
                "/api/tenant-settings",
                json={"name": "Acme Cloud", "primaryColor": "#1e5aa8", "allowedReturnOrigins": [receiver.app.base_url]},
            )
            assert settings.status_code == 200, settings.text
            endpoint = http.post("/api/event-endpoints", json={"url": receiver.app.base_url + "/events"})
            assert endpoint.status_code == 201, endpoint.text
            data = endpoint.json()["data"]
            assert data["secret"].startswith("whsec_") and len(data["events"]) == 9
            yield Env(stack, provider, receiver, beta_key, data["secret"])


@pytest.fixture(scope="module")
def browser(env: Env) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    errors: list[str] = []
    tab = context.new_page()
    tab.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors  # nothing on our pages breaks the CSP


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)


def test_oauth_through_the_page_creates_a_connection_for_the_end_user(env: Env, page: Any) -> None:
    session = env.session("ws-oauth", endUser={"id": "user-42", "displayName": "Ada"}, tags={"plan": "pro"})
    assert session["url"].startswith(env.stack.gateway_url + "/connect?session=")
    page.goto(session["url"])
    assert "session=" not in page.url  # the token left the address bar
    page.get_by_text("Acme", exact=True).wait_for()
    shot(page, "01-connectors")
    page.get_by_role("link", name="Acme").click()
    page.get_by_role("heading", name="Connected").wait_for()
    shot(page, "02-oauth-success")

    listed = env.http.get("/api/connections", params={"workspaceId": "ws-oauth"}).json()["data"]["items"]
    assert [c["endUser"]["id"] for c in listed] == ["user-42"]
    assert listed[0]["tags"] == {"plan": "pro"} and listed[0]["status"] == "connected"
    created = env.wait_for("connection.created", lambda e: e["data"]["connectionId"] == listed[0]["id"])
    assert created[0]["data"]["endUser"]["id"] == "user-42"
    assert created[0]["data"]["workspaceId"] == "ws-oauth"


def test_a_refused_api_key_is_shown_inline_and_stores_nothing(env: Env, page: Any) -> None:
    page.goto(env.session("ws-key", allowedConnectors=["keyed"])["url"])
    page.get_by_role("link", name="Keyed Service").click()
    field = page.get_by_label("API key")
    assert field.get_attribute("type") == "password"
    field.fill("not-a-key-the-provider-knows")
    field.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert (
        "401" in alert.inner_text()
        or "refused" in alert.inner_text().lower()
        or "rejected" in alert.inner_text().lower()
    )
    assert page.evaluate("document.activeElement.id") == "f-api_key"  # focus on the first error
    assert page.get_by_label("API key").input_value() == ""  # a secret is never echoed back
    shot(page, "03-api-key-refused")
    listed = env.http.get("/api/connections", params={"workspaceId": "ws-key"}).json()["data"]["items"]
    assert listed == []


def test_expired_and_bogus_tokens_get_a_clear_page_and_a_4xx(env: Env, page: Any) -> None:
    response = page.goto(env.stack.gateway_url + "/connect?session=ucfcs_" + "x" * 43)
    assert response.status == 401
    page.get_by_role("heading", name="This link has expired").wait_for()
    shot(page, "04-bogus-token")
    api = httpx.get(
        env.stack.gateway_url + "/api/connectors", headers={"Authorization": "Bearer ucfcs_" + "x" * 43}, timeout=30
    )
    assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"


def test_a_session_that_expires_while_the_page_is_open_ends_on_the_expired_page(
    env: Env, page: Any, mongo_url: str
) -> None:
    page.goto(env.session("ws-expiring", allowedConnectors=["keyed"])["url"])
    page.get_by_role("link", name="Keyed Service").wait_for()
    # The end user leaves the tab open past the session's lifetime: the server's clock decides.
    with pymongo.MongoClient(mongo_url) as client:
        moved = client[env.stack.env["MONGODB_DB"]]["connect_sessions"].update_many(
            {"workspace_id": "ws-expiring"}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
        )
    assert moved.modified_count == 1
    with page.expect_response(lambda r: "/connect/" in r.url) as answer:
        page.get_by_role("link", name="Keyed Service").click()
    assert answer.value.status == 401
    page.get_by_role("heading", name="This link has expired").wait_for()
    shot(page, "05-session-expired")
    listed = env.http.get("/api/connections", params={"workspaceId": "ws-expiring"}).json()["data"]["items"]
    assert listed == []


def test_a_denied_consent_shows_the_failure_screen_and_connects_nothing(env: Env, page: Any) -> None:
    env.provider.approve = False
    try:
        page.goto(env.session("ws-denied", allowedConnectors=["acme"])["url"])
        page.get_by_role("link", name="Acme").click()
        page.get_by_role("heading", name="Not connected").wait_for()
    finally:
        env.provider.approve = True
    assert page.get_by_role("alert").inner_text().strip()  # says why, in words
    assert page.get_by_role("link", name="Try again").is_visible()
    shot(page, "06-oauth-denied")
    listed = env.http.get("/api/connections", params={"workspaceId": "ws-denied"}).json()["data"]["items"]
    assert listed == []


def test_a_session_only_reaches_its_own_tenant(env: Env) -> None:
    token = env.session("ws-a")["token"]
    as_session = httpx.Client(base_url=env.stack.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert as_session.get("/api/connections").status_code == 403  # not a Connect page call
    assert as_session.get("/api/connectors", headers={"X-Tenant-Id": "beta"}).status_code == 403
    other = as_session.post("/api/connectors/acme/connect", json={"workspaceId": "ws-b", "method": "oauth2"})
    assert other.status_code == 403
    assert env.beta.get("/api/connections").json()["data"]["items"] == []


def test_a_return_url_outside_the_allowed_origins_is_refused(env: Env) -> None:
    answer = env.http.post("/api/connect-sessions", json={"workspaceId": "w", "returnUrl": "https://evil.example/x"})
    assert answer.status_code == 400 and answer.json()["error"]["details"]["field"] == "returnUrl"
    beta = env.beta.post("/api/connect-sessions", json={"workspaceId": "w", "returnUrl": env.app_origin + "/back"})
    assert beta.status_code == 400  # tenant beta allows no origin


def test_a_script_display_name_is_shown_as_text(env: Env, page: Any) -> None:
    name = "<script>window.pwned=1</script><b>Eve</b>"
    page.goto(env.session("ws-xss", endUser={"id": "u-x", "displayName": name})["url"])
    assert page.locator(".end-user").inner_text() == name
    assert page.evaluate("window.pwned") is None
    shot(page, "05-escaped-display-name")


def test_the_return_url_gets_the_connection_id(env: Env, page: Any) -> None:
    page.goto(env.session("ws-return", returnUrl=env.app_origin + "/back?from=connect")["url"])
    page.get_by_role("link", name="Acme").click()
    page.wait_for_url(env.app_origin + "/back*")
    assert "connectionId=con_" in page.url and "from=connect" in page.url


def test_the_popup_through_connect_js_resolves_with_the_connection_id(env: Env, page: Any) -> None:
    token = env.session("ws-popup", allowedConnectors=["acme"])["token"]
    page.goto(env.app_origin + "/app")
    page.evaluate("token => { window.result = UcfConnect.open({token}).then(r => r, e => ({error: e.code})); }", token)
    popup = page.wait_for_event("popup")
    popup.get_by_role("link", name="Acme").wait_for()
    shot(popup, "06-popup-connectors")
    popup.get_by_role("link", name="Acme").click()
    result = page.evaluate("window.result")
    assert result["connectionId"].startswith("con_"), result
    listed = env.http.get("/api/connections", params={"workspaceId": "ws-popup"}).json()["data"]["items"]
    assert [c["id"] for c in listed] == [result["connectionId"]]


def test_a_refused_refresh_emits_credential_refresh_failed_once(env: Env) -> None:
    stored = env.http.post(
        "/api/connections/token",
        json={
            "connectorId": "acme",
            "workspaceId": "ws-refresh",
            "token": {
                "accessToken": "expired-access",
                "refreshToken": "a-refresh-token-the-provider-never-issued",
                "tokenType": "Bearer",
                "expiresAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            },
        },
    )
    assert stored.status_code in (200, 201), stored.text
    cid = stored.json()["data"]["id"]
    for _ in range(2):
        assert env.http.get(f"/api/connections/{cid}/token").status_code >= 400
    events = env.wait_for("connection.credential_refresh_failed", lambda e: e["data"]["connectionId"] == cid)
    threading.Event().wait(2)  # time for a duplicate to show up, if one were sent
    events = [
        e
        for e in env.receiver.of_type("connection.credential_refresh_failed", env.secret)
        if e["data"]["connectionId"] == cid
    ]
    assert len(events) == 1
    assert events[0]["data"]["error"]  # the provider's refusal, in words

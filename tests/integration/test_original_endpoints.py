"""The original 22 endpoints, walked as the specification lists them, with the bodies they
document, through the real gateway, connector service and vault (LocalStack) against local
fakes only: the strict OAuth2 server as the `acme` provider (connect, callback, validate,
revoke) and the GitHub fake behind the `github` connector (probe, jobs, resources, webhooks).
Each answer's status and envelope is asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.connector_service.harness import api_key_provider
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.fakes.oauth_server import FakeOAuthServer
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

CLIENT_SECRET = "acme-client-secret-e2e"
REPO = "octo/repo0"


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOAuthServer, FakeGitHub]]:
    oauth, github = FakeOAuthServer(access_token_lifetime=3600), FakeGitHub(repos=1, issues_per_repo=3)
    with oauth.serve(), github.serve():
        yield oauth, github


@pytest.fixture(scope="module")
def stack(
    fakes: tuple[FakeOAuthServer, FakeGitHub], mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    oauth, github = fakes
    folder = tmp_path_factory.mktemp("walk")
    providers = folder / "providers.yaml"
    providers.write_text(
        "providers:"
        + oauth.catalog_entry()
        + api_key_provider("github", "GitHub (fake)", github.base_url, verify_path="/user")
    )
    with LocalStack(folder / "stack", mongo_url, {"UCF_PROVIDERS_FILE": str(providers)}) as running:
        oauth.register_client(
            "acme-client", secret=CLIENT_SECRET, redirect_uris=[running.gateway_url + "/api/oauth/callback"]
        )
        yield running


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is True and set(body) == {"ok", "data"}, body
    return body["data"]


def test_the_original_endpoint_list_works_as_documented(stack: LocalStack, fakes) -> None:
    oauth, github = fakes
    h = stack.auth_headers
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as api, httpx.Client(timeout=10) as browser:
        # 1-3: catalog and per-tenant settings
        listed = _ok(api.get("/api/connectors", headers=h))
        assert {"acme", "github"} <= {c["id"] for c in listed["items"]}
        assert _ok(api.get("/api/connectors/acme", headers=h))["id"] == "acme"
        redirect = stack.gateway_url + "/api/oauth/callback"
        patched = _ok(
            api.patch(
                "/api/connectors/acme",
                json={"oauth": {"clientId": "acme-client", "clientSecret": CLIENT_SECRET, "redirectUri": redirect}},
                headers=h,
            )
        )
        assert CLIENT_SECRET not in str(patched)

        # 4-5: OAuth2 onboarding (authorization code + PKCE) against the fake provider
        started = _ok(
            api.post(
                "/api/connectors/acme/connect",
                json={"workspaceId": "ws-walk", "method": "oauth2", "returnUrl": "https://app.example/done"},
                headers=h,
            )
        )
        assert started["authUrl"].startswith(oauth.url("authorize"))
        back = dict(
            parse_qsl(urlsplit(browser.get(started["authUrl"], follow_redirects=False).headers["location"]).query)
        )
        done = _ok(
            api.post(
                "/api/connectors/acme/connect/callback",
                json={"workspaceId": "ws-walk", "code": back["code"], "state": back["state"], "iss": back["iss"]},
                headers=h,
            )
        )
        acme_id = done["connectionId"]
        assert done["status"] == "connected"

        # 6: validate upstream
        assert _ok(api.post("/api/connectors/acme/validate", json={"connectionId": acme_id}, headers=h))["valid"]

        # 7-9: a token stored (it goes to the vault), a connection record created, the list
        github_conn = _ok(
            api.post(
                "/api/connections/token",
                json={"connectorId": "github", "workspaceId": "ws-walk", "token": TOKEN},
                headers=h,
            )
        )
        gh = github_conn["id"]
        created = _ok(
            api.post(
                "/api/connections", json={"connectorId": "github", "workspaceId": "ws-new", "name": "n"}, headers=h
            ),
            201,
        )
        assert {acme_id, gh, created["id"]} <= {c["id"] for c in _ok(api.get("/api/connections", headers=h))["items"]}

        # 10: the plaintext credential for internal callers
        assert _ok(api.get(f"/api/connections/{gh}/token", headers=h))["accessToken"] == TOKEN

        # 11: probe through a connection
        probed = _ok(api.post("/api/connectors/github/probe", json={"connectionId": gh}, headers=h))
        assert probed["capabilities"]

        # 12-14: normalized resources
        containers = _ok(api.get("/api/connectors/github/containers", params={"connectionId": gh}, headers=h))
        assert REPO in {c["id"] for c in containers["items"]}
        items = _ok(
            api.get("/api/connectors/github/items", params={"connectionId": gh, "containerId": REPO}, headers=h)
        )
        item_id = items["items"][0]["id"]
        comments = _ok(
            api.get(
                "/api/connectors/github/comments",
                params={"connectionId": gh, "containerId": REPO, "itemId": item_id},
                headers=h,
            )
        )
        assert "items" in comments

        # 15: a job, persisted and observable
        job = _ok(
            api.post(
                "/api/connectors/github/jobs",
                json={"type": "sync", "connectionId": gh, "params": {"containers": [REPO], "streams": ["items"]}},
                headers=h,
            ),
            202,
        )
        for _ in range(300):
            seen = _ok(api.get(f"/api/jobs/{job['id']}", headers=h))
            if seen["status"] in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.1)
        assert seen["status"] == "succeeded", seen

        # 16-17: webhooks registered upstream and removed
        hook = _ok(
            api.post(
                "/api/connectors/github/webhooks",
                json={"connectionId": gh, "events": ["issues"], "containerId": REPO},
                headers=h,
            ),
            201,
        )
        assert github.hooks
        _ok(api.request("DELETE", "/api/connectors/github/webhooks", json={"webhookId": hook["webhookId"]}, headers=h))
        assert not github.hooks

        # 18-19: sync state written and read back
        written = _ok(
            api.post(
                f"/api/connections/{gh}/sync-state",
                json={"stream": "items", "cursor": {"since": "2024-01-01T00:00:00Z"}},
                headers=h,
            )
        )
        assert written["cursor"] == {"since": "2024-01-01T00:00:00Z"}
        assert _ok(api.get(f"/api/connections/{gh}/sync-state", params={"stream": "items"}, headers=h))["cursor"]

        # 20-21: validate and revoke with the connection id in the body
        assert "valid" in _ok(api.post("/api/connections/validate", json={"connectionId": gh}, headers=h))
        revoked = _ok(api.post("/api/connections/revoke", json={"connectionId": created["id"]}, headers=h))
        assert revoked["status"] == "revoked"

        # 22: revoke upstream (RFC 7009) and delete the secret
        gone = _ok(api.post("/api/connectors/acme/revoke", json={"connectionId": acme_id}, headers=h))
        assert gone["status"] == "revoked" and gone["revokedUpstream"] is True

        # and the error envelope: a revoked connection's token is refused, in our words
        refused = api.get(f"/api/connections/{acme_id}/token", headers=h)
        assert refused.status_code == 412
        assert refused.json()["ok"] is False and refused.json()["error"]["code"] == "failed_precondition"

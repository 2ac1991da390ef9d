"""Issue 11's credential theft through connection metadata, tried over real processes.

A key with only `connections:write` + `connectors:read` tries to point a Salesforce
connection at a host of its own (a loopback catcher) by rewriting `instance_url`, then
reads through the connection. The write is refused naming the key, the read still goes
to the connection's own org, and the catcher receives nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fakes.salesforce_server import TOKEN, FakeSalesforce
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration


class Catcher:
    """A loopback HTTP server that records every request it receives (and answers 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                catcher.requests.append((self.command, self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"records": [], "sobjects": []}')

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Catcher:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, str, str, str]]:
    folder = tmp_path_factory.mktemp("metadata")
    with (
        FakeSalesforce(accounts=3, cases=1, comments_per_case=0).serve() as sf,
        Catcher() as catcher,
        LocalStack(folder / "stack", mongo_url) as stack,
    ):
        with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=30) as admin:
            stored = admin.post(
                "/api/connections/token",
                json={
                    "connectorId": "salesforce",
                    "workspaceId": "victim",
                    "token": {"accessToken": TOKEN, "metadata": {"instance_url": sf.base_url}},
                },
            )
            assert stored.status_code == 200, stored.text
        attacker = stack.ensure_api_key("dev", "connections:write,connectors:read", folder / "attacker-key")
        stack.catcher = catcher  # type: ignore[attr-defined]
        yield stack, stored.json()["data"]["id"], attacker, sf.base_url


def test_a_connections_write_key_cannot_redirect_the_credential(world: tuple[LocalStack, str, str, str]) -> None:
    stack, connection_id, attacker_key, org = world
    catcher: Catcher = stack.catcher  # type: ignore[attr-defined]
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {attacker_key}"}, timeout=30
    ) as attacker:
        for body in (
            {"connectionId": connection_id, "metadata": {"instance_url": catcher.url}},
            {"connectorId": "salesforce", "workspaceId": "victim", "metadata": {"instance_url": catcher.url}},
            {"connectionId": connection_id, "metadata": {"instance_url": None}},
        ):
            refused = attacker.post("/api/connections", json=body)
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["code"] == "invalid_request" and "metadata.instance_url" in error["message"]

        read = attacker.get("/api/connectors/salesforce/containers", params={"connectionId": connection_id})
        assert read.status_code == 200, read.text

    connection = httpx.get(
        f"{stack.gateway_url}/api/connections/{connection_id}", headers=stack.auth_headers, timeout=30
    ).json()["data"]
    assert catcher.requests == []
    assert connection["systemMetadata"] == {"instance_url": org}
    assert TOKEN not in read.text


def test_user_metadata_merges_and_keeps_the_onboarding_facts(world: tuple[LocalStack, str, str, str]) -> None:
    stack, connection_id, attacker_key, org = world
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {attacker_key}"}, timeout=30
    ) as client:
        first = client.post(
            "/api/connections", json={"connectionId": connection_id, "metadata": {"team": "core", "tier": "gold"}}
        )
        assert first.status_code == 200, first.text
        second = client.post("/api/connections", json={"connectionId": connection_id, "metadata": {"tier": None}})
        assert second.status_code == 200, second.text
    data = second.json()["data"]
    assert data["metadata"] == {"team": "core"}
    assert data["systemMetadata"] == {"instance_url": org}

"""The two endpoints that take no API key: the OAuth browser redirect and the
webhook receiver.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
from ucf.connector.v1 import connectors_pb2 as ctr
from ucf.connector.v1 import webhooks_pb2 as wh

from tests.gateway.fakes import Failure, FakeConnectorService


async def test_oauth_callback_redirects_to_the_return_url(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.replies["CompleteOAuthRedirect"] = ctr.CompleteOAuthRedirectResponse(
        connection_id="c1", status="connected", connector_id="jira", return_url="https://app.example/done?tab=2"
    )
    response = await client.get(
        "/api/oauth/callback", params={"code": "abc", "state": "st", "iss": "https://auth.example"}
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.netloc == "app.example" and location.path == "/done"
    assert parse_qs(location.query) == {
        "tab": ["2"], "connectionId": ["c1"], "connectorId": ["jira"], "status": ["connected"]
    }  # fmt: skip
    assert response.headers["cache-control"] == "no-store"
    request = fake.only_call().request
    assert (request.code, request.state, request.iss) == ("abc", "st", "https://auth.example")


async def test_oauth_callback_passes_provider_errors_on(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    fake.failures["CompleteOAuthRedirect"] = Failure(
        grpc.StatusCode.INVALID_ARGUMENT, "the user denied access", "invalid_request",
        {"returnUrl": "https://app.example/done"},
    )  # fmt: skip
    response = await client.get(
        "/api/oauth/callback", params={"state": "st", "error": "access_denied", "error_description": "nope"}
    )
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query == {"error": ["invalid_request"], "errorDescription": ["the user denied access"]}
    request = fake.only_call().request
    assert (request.error, request.error_description) == ("access_denied", "nope")


async def test_oauth_callback_without_return_url_answers_json(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.replies["CompleteOAuthRedirect"] = ctr.CompleteOAuthRedirectResponse(connection_id="c1", status="connected")
    response = await client.get("/api/oauth/callback", params={"code": "abc", "state": "st"})
    assert response.status_code == 200
    assert response.json()["data"]["connectionId"] == "c1"


async def test_oauth_callback_bad_state_without_return_url_is_an_error_envelope(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.failures["CompleteOAuthRedirect"] = Failure(
        grpc.StatusCode.INVALID_ARGUMENT, "unknown state", "invalid_request"
    )
    response = await client.get("/api/oauth/callback", params={"code": "abc", "state": "forged"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "unknown state"


async def test_webhook_receiver_passes_raw_bytes_and_headers(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.replies["ReceiveWebhook"] = wh.ReceiveWebhookResponse(delivery_id="d-1", processed=True)
    raw = b'{"action":"opened",  "issue":{"id":1}}\n\xff'
    response = await client.post(
        "/api/webhooks/h1",
        content=raw,
        headers={"X-Hub-Signature-256": "sha256=00ff", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"deliveryId": "d-1", "processed": True}}
    request = fake.only_call().request
    assert request.webhook_id == "h1"
    assert request.body == raw
    assert request.headers["x-hub-signature-256"] == "sha256=00ff"
    assert request.headers["x-github-delivery"] == "d-1"


async def test_webhook_signature_refusal_is_401(client: httpx.AsyncClient, fake: FakeConnectorService) -> None:
    fake.failures["ReceiveWebhook"] = Failure(grpc.StatusCode.UNAUTHENTICATED, "signature mismatch")
    response = await client.post("/api/webhooks/h1", content=b"{}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"

"""Catalog verification shapes beyond a plain GET: GraphQL POSTs and a JSON `expect` check."""

from __future__ import annotations

import json

import httpx
from connector_service.catalog.providers import load_catalog
from connector_service.connectors.auth import ApiKeyCredential, OAuth2Credential
from connector_service.oauth.tokens import TokenSet
from connector_service.onboarding.verification import verify

CATALOG = load_catalog()


def _client(answer: httpx.Response, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_linear_is_verified_with_a_graphql_post_and_the_bare_key() -> None:
    seen: list[httpx.Request] = []
    async with _client(httpx.Response(200, json={"data": {"viewer": {"id": "u1"}}}), seen) as http:
        verdict = await verify(CATALOG.get("linear"), ApiKeyCredential("lin_api_x"), {}, http)
    assert verdict.valid
    assert seen[0].method == "POST" and str(seen[0].url) == "https://api.linear.app/graphql"
    assert seen[0].headers["Authorization"] == "lin_api_x"
    assert json.loads(seen[0].content) == {"query": "{ viewer { id } }"}


async def test_slack_answering_200_with_ok_false_is_a_rejected_credential() -> None:
    seen: list[httpx.Request] = []
    credential = OAuth2Credential(TokenSet("xoxb-bad"))
    async with _client(httpx.Response(200, json={"ok": False, "error": "invalid_auth"}), seen) as http:
        verdict = await verify(CATALOG.get("slack"), credential, {}, http)
    assert not verdict.valid and "xoxb-bad" not in verdict.message
    async with _client(httpx.Response(200, json={"ok": True, "team": "T1"}), seen) as http:
        assert (await verify(CATALOG.get("slack"), credential, {}, http)).valid

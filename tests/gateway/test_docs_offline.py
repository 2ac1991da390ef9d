"""`/docs` and `/redoc` work without internet: every script, stylesheet and image they
reference is served by the gateway (from the installed fastapi-offline assets), and the
HTML pages' policy names no other origin.
"""

from __future__ import annotations

import re

import httpx
import pytest

_REFERENCE = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_assets_the_gateway_serves(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    references = _REFERENCE.findall(page.text)
    assert references, page.text
    assert "openapi.json" in page.text
    for reference in references:
        assert reference.startswith("/"), f"{path} loads {reference} from elsewhere"
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 1000, reference
    assert any(ref.endswith(".js") for ref in references)


async def test_html_policy_trusts_no_other_origin(client: httpx.AsyncClient) -> None:
    policy = (await client.get("/docs")).headers["content-security-policy"]
    assert "https:" not in policy and "http:" not in policy
    assert "jsdelivr" not in policy and "fonts.g" not in policy


async def test_docs_assets_are_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in paths)

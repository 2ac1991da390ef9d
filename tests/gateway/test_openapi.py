"""The OpenAPI document is served, documents the real answers, and the
committed interfaces/openapi.json matches a fresh generation.
"""

from __future__ import annotations

import httpx
from gateway.generate_openapi import DEFAULT_PATH, openapi_text

from tests.gateway.conftest import settings_for


async def test_docs_and_document_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    document = (await client.get("/openapi.json")).json()
    token = document["paths"]["/api/connections/{connection_id}/token"]["get"]["responses"]
    assert token["200"]["content"]["application/json"]["schema"]["properties"]["data"] == {
        "$ref": "#/components/schemas/ucf.connector.v1.Credential"
    }
    assert "422" not in token and "400" in token
    credential = document["components"]["schemas"]["ucf.connector.v1.Credential"]["properties"]
    assert credential["accessToken"] == {"type": "string"}
    assert "refreshToken" in document["components"]["schemas"]["TokenSetBody"]["properties"]


def test_committed_openapi_matches_a_fresh_generation() -> None:
    fresh = openapi_text(settings_for("127.0.0.1:1"))
    assert DEFAULT_PATH.read_text(encoding="utf-8") == fresh, "run `python -m gateway.generate_openapi`"

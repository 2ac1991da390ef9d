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


async def test_every_operation_documents_errors_and_an_example(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    error_responses = document["components"]["responses"]
    assert error_responses["Error405"]["headers"]["Allow"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "401", "403", "404", "405", "429", "500", "503"):
                assert status in responses, (method, path, status)
            successes = [answer for status, answer in responses.items() if status.startswith(("2", "3"))]
            assert successes, (method, path)
            for answer in successes:
                media = answer.get("content", {}).get("application/json")
                if media is not None:
                    assert "example" in media, (method, path)


async def test_required_query_parameters_are_marked_required(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    items = document["paths"]["/api/connectors/{connector_id}/items"]["get"]["parameters"]
    connection = next(p for p in items if p["name"] == "connectionId")
    assert connection["required"] is True and connection["schema"]["minLength"] == 1
    records = document["paths"]["/api/connections/{connection_id}/records"]["get"]["parameters"]
    stream = next(p for p in records if p["name"] == "stream")
    assert "containers" in str(stream["schema"])

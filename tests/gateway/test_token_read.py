"""`GET /api/connections/{id}/token` without a query string is served by the lean
ASGI route (`TokenReadRoute`); every other shape of the request goes through the
FastAPI route `get_token`. Both must answer the same bytes, headers and statuses.
`?forceRefresh=false` is the same request through FastAPI, so it is the reference.
"""

from __future__ import annotations

import grpc
import httpx
import pytest
from gateway.routes import connections
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.routing import Match
from ucf.connector.v1 import connections_pb2 as conn

from tests.gateway.fakes import Failure, FakeConnectorService
from tests.gateway.test_request_context import log_lines  # noqa: F401  (fixture)

LEAN = "/api/connections/c1/token"
REFERENCE = "/api/connections/c1/token?forceRefresh=false"
HEADERS = {"Authorization": "Bearer key-1", "X-Tenant-Id": "t1", "X-Request-Id": "req-token"}


def _credential(**fields: object) -> conn.Credential:
    return json_format.ParseDict(fields, conn.Credential())


CREDENTIALS = [
    pytest.param(_credential(connectionId="c1", kind="oauth2", accessToken="gho_x", tokenType="bearer"), id="token"),
    pytest.param(_credential(connectionId="c1", kind="oauth2", accessToken="at", tokenType="Bearer", scope="",
                             expiresAt="2030-01-02T03:04:05.120Z", refreshed=True), id="expiring-refreshed"),
    pytest.param(_credential(connectionId="c1", kind="basic", fields={"username": "u", "password": "p\u00e9\"",
                             "port": 5432, "ratio": 1.5, "tags": ["a", None, True], "nested": {}}), id="fields"),
    pytest.param(conn.Credential(), id="empty"),
    pytest.param(conn.Credential(expires_at=Timestamp(seconds=0, nanos=1)), id="epoch-nanos"),
]  # fmt: skip


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[conn.Credential]:
    """The credentials the lean route serialised (to tell which route answered)."""
    seen: list[conn.Credential] = []
    convert = connections._credential_json

    def spy(credential: conn.Credential) -> dict:
        seen.append(credential)
        return convert(credential)

    monkeypatch.setattr(connections, "_credential_json", spy)
    return seen


async def _both(client: httpx.AsyncClient, **kwargs: object) -> tuple[httpx.Response, httpx.Response]:
    return await client.get(LEAN, **kwargs), await client.get(REFERENCE, **kwargs)  # type: ignore[arg-type]


def _same(lean: httpx.Response, reference: httpx.Response) -> None:
    assert lean.status_code == reference.status_code
    assert lean.content == reference.content
    assert lean.headers.raw == reference.headers.raw


@pytest.mark.parametrize("credential", CREDENTIALS)
async def test_lean_route_answers_what_the_fastapi_route_answers(
    client: httpx.AsyncClient, fake: FakeConnectorService, served: list, credential: conn.Credential
) -> None:
    fake.replies["GetToken"] = conn.GetTokenResponse(credential=credential)
    lean, reference = await _both(client, headers=HEADERS)
    _same(lean, reference)
    assert lean.status_code == 200 and lean.headers["x-request-id"] == "req-token"
    assert served == [credential]  # the first request only
    first, second = fake.calls
    assert first.request == second.request == conn.GetTokenRequest(connection_id="c1")
    assert first.metadata == second.metadata
    assert first.metadata["authorization"] == "Bearer key-1" and first.metadata["x-tenant-id"] == "t1"
    assert first.metadata["x-request-id"] == "req-token"


S = grpc.StatusCode


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Failure(S.NOT_FOUND, "connection 'c1' not found"), id="not_found"),
        pytest.param(Failure(S.PERMISSION_DENIED, "needs tokens:read"), id="forbidden"),
        pytest.param(Failure(S.FAILED_PRECONDITION, "refresh failed: invalid_grant", "failed_precondition",
                             {"connectionId": "c1"}), id="trailer-with-details"),
        pytest.param(Failure(S.UNAVAILABLE, "subchannel 10.0.0.3:50052 refused"), id="transport-hidden"),
        pytest.param(Failure(S.INTERNAL, "Traceback at /srv/x.py"), id="internal"),
    ],
)  # fmt: skip
async def test_lean_route_errors_are_the_same_envelope(
    client: httpx.AsyncClient, fake: FakeConnectorService, failure: Failure
) -> None:
    fake.failures["GetToken"] = failure
    lean, reference = await _both(client, headers={"X-Request-Id": "req-err"})
    _same(lean, reference)
    assert lean.status_code >= 400 and lean.json()["ok"] is False
    assert "10.0.0.3" not in lean.text and "Traceback" not in lean.text


async def test_header_that_cannot_travel_as_metadata_is_400_on_the_lean_route(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    headers = {"Authorization": "Bearer caf\xe9-key".encode("latin-1"), "X-Request-Id": "r"}
    lean, reference = await _both(client, headers=headers)
    _same(lean, reference)
    assert lean.status_code == 400
    assert lean.json()["error"]["message"] == "the authorization header must be printable ASCII"
    assert fake.calls == []


async def test_other_shapes_go_through_fastapi(
    client: httpx.AsyncClient, fake: FakeConnectorService, served: list
) -> None:
    assert (await client.get(LEAN, params={"forceRefresh": "true"})).status_code == 200
    assert fake.only_call().request.force_refresh is True
    bad = await client.get(LEAN, params={"forceRefresh": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    assert (await client.post(LEAN)).status_code == 405
    assert (await client.head(LEAN)).status_code == 405
    assert served == []


def test_lean_route_matches_only_a_plain_get() -> None:
    route = connections.TokenReadRoute("/api")

    def scope(method: str = "GET", path: str = "/api/connections/c%201/token", query: bytes = b"") -> dict:
        return {"type": "http", "method": method, "path": path, "root_path": "", "query_string": query}

    match, child = route.matches(scope(path="/api/connections/c 1/token"))
    assert match == Match.FULL and child["path_params"] == {"connection_id": "c 1"}
    assert route.matches(scope(query=b"forceRefresh=true"))[0] == Match.NONE
    assert route.matches(scope(method="HEAD"))[0] == Match.NONE
    assert route.matches(scope(path="/api/connections/c1/token/"))[0] == Match.NONE
    assert route.matches(scope(path="/api/connections/a/b/token"))[0] == Match.NONE
    assert route.matches({"type": "websocket", "path": "/api/connections/c1/token"})[0] == Match.NONE


async def test_lean_route_writes_the_access_line(client: httpx.AsyncClient, log_lines: list[dict]) -> None:  # noqa: F811
    await client.get(LEAN, headers={"X-Request-Id": "acc"})
    access = [line for line in log_lines if line["logger"] == "ucf.gateway.access"]
    assert [line["request_id"] for line in access] == ["acc"]
    assert access[0]["msg"].startswith("GET /api/connections/c1/token 200 ")


async def test_the_edge_refuses_before_the_lean_route_runs(
    client: httpx.AsyncClient, fake: FakeConnectorService, served: list
) -> None:
    response = await client.get(LEAN, headers={**HEADERS, **{f"x-filler-{i}": "v" for i in range(120)}})
    assert response.status_code == 431 and response.json()["error"]["code"] == "invalid_request"
    assert response.headers["x-request-id"] == "req-token" and response.headers["cache-control"] == "no-store"
    assert fake.calls == [] and served == []


async def test_an_unexpected_error_on_the_lean_route_is_the_500_envelope(
    client: httpx.AsyncClient, fake: FakeConnectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(credential: conn.Credential) -> dict:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(connections, "_credential_json", broken)
    response = await client.get(LEAN, headers=HEADERS)
    assert response.status_code == 500 and response.json()["error"] == {
        "code": "internal", "message": "internal error", "details": {}
    }  # fmt: skip
    assert "secret detail" not in response.text and response.headers["x-request-id"] == "req-token"
    assert response.headers["cache-control"] == "no-store"

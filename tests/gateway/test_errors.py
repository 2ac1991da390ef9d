"""Every failure answers the error envelope: gRPC statuses and `ucf-error-code`
trailers through the one table, request validation as 400 without echoing
values, unknown routes as 404, and crashes as a 500 that reveals nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import grpc
import httpx
import pytest
from gateway.rpc import Stubs

from tests.gateway.conftest import gateway_client, settings_for
from tests.gateway.fakes import Failure, FakeConnectorService

CANARY = "canary-Zx81-secret-value"

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("failure", "http_status", "code", "message"),
    [
        pytest.param(Failure(S.INVALID_ARGUMENT, "bad id", "invalid_request"), 400, "invalid_request", "bad id",
                     id="invalid_argument"),
        pytest.param(Failure(S.UNAUTHENTICATED, "missing key", "unauthenticated"), 401, "unauthenticated",
                     "missing key", id="unauthenticated"),
        pytest.param(Failure(S.PERMISSION_DENIED, "tenant mismatch", "forbidden"), 403, "forbidden", "tenant mismatch",
                     id="permission_denied"),
        pytest.param(Failure(S.NOT_FOUND, "connection 'c1' not found", "not_found"), 404, "not_found",
                     "connection 'c1' not found", id="not_found"),
        pytest.param(Failure(S.ABORTED, "version moved", "conflict"), 409, "conflict", "version moved", id="aborted"),
        pytest.param(Failure(S.ALREADY_EXISTS, "exists", "conflict"), 409, "conflict", "exists", id="already_exists"),
        pytest.param(Failure(S.FAILED_PRECONDITION, "refresh failed: invalid_grant",
                             "failed_precondition"), 412, "failed_precondition",
                     "refresh failed: invalid_grant", id="failed_precondition"),
        pytest.param(Failure(S.RESOURCE_EXHAUSTED, "slow down", "rate_limited"), 429, "rate_limited", "slow down",
                     id="resource_exhausted"),
        pytest.param(Failure(S.UNIMPLEMENTED, "comes later", "unimplemented"), 501, "unimplemented", "comes later",
                     id="unimplemented"),
        pytest.param(Failure(S.UNAVAILABLE, "jira answered 500", "upstream_error"), 502, "upstream_error",
                     "jira answered 500", id="unavailable-with-upstream_error-trailer"),
        pytest.param(Failure(S.UNAVAILABLE, "vault down", "unavailable"), 503, "unavailable", "vault down",
                     id="unavailable-with-trailer"),
        pytest.param(Failure(S.UNAVAILABLE, "subchannel 10.0.0.3:50052 refused"), 503, "unavailable",
                     "the connector service is unavailable", id="unavailable-bare-hides-transport"),
        pytest.param(Failure(S.DEADLINE_EXCEEDED, "deadline"), 504, "timeout",
                     "the connector service did not answer in time", id="deadline_exceeded"),
        pytest.param(Failure(S.FAILED_PRECONDITION, "unused", "conflict"), 409, "conflict", "unused",
                     id="trailer-wins-over-status"),
        pytest.param(Failure(S.INTERNAL, "Traceback at /srv/x.py line 3"), 500, "internal", "internal error",
                     id="internal-hides-details"),
        pytest.param(Failure(S.UNKNOWN, "ValueError: oops"), 500, "internal", "internal error", id="unknown"),
        # Without our trailer a status is grpc-core's (or a library's): its text never reaches the caller.
        pytest.param(Failure(S.RESOURCE_EXHAUSTED, "SERVER: Received message larger than max (10485772 vs. 4194304)"),
                     413, "invalid_request", "the request is too large for the connector service",
                     id="bare-resource_exhausted-is-a-size-refusal-not-a-rate-limit"),
        pytest.param(Failure(S.UNIMPLEMENTED, "Method not found!"), 501, "unimplemented",
                     "the connector service could not handle the request", id="bare-unimplemented"),
        pytest.param(Failure(S.INVALID_ARGUMENT, "grpc_core::ParseError at chttp2"), 400, "invalid_request",
                     "the connector service could not handle the request", id="bare-invalid_argument"),
        pytest.param(Failure(S.CANCELLED, "Cancelled on client"), 503, "unavailable",
                     "the connector service is unavailable", id="bare-cancelled"),
    ],
)  # fmt: skip
async def test_grpc_failure_maps_to_http(
    client: httpx.AsyncClient, fake: FakeConnectorService, failure: Failure, http_status: int, code: str, message: str
) -> None:
    fake.failures["GetConnection"] = failure
    response = await client.get("/api/connections/c1")
    assert response.status_code == http_status
    assert response.json() == {"ok": False, "error": {"code": code, "message": message, "details": {}}}


async def test_error_details_from_trailer_reach_the_caller(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    fake.failures["ListItems"] = Failure(S.RESOURCE_EXHAUSTED, "github rate limit", "rate_limited", {"retryAfter": 30})
    response = await client.get("/api/connectors/github/items", params={"connectionId": "c1"})
    assert response.status_code == 429
    assert response.json()["error"]["details"] == {"retryAfter": 30}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        pytest.param("POST", "/api/connections/token",
                     {"json": {"connectionId": "c1", "token": {"accessToken": CANARY, "expiresAt": "tomorrow"}}},
                     "token", id="token-set-bad-date"),
        pytest.param("POST", "/api/connections/token",
                     {"json": {"connectionId": "c1", "token": CANARY, "refresh_token": CANARY}},
                     "refresh_token", id="unknown-field"),
        pytest.param("PATCH", "/api/connectors/jira", {"json": {"oauth": {"clientSecret": ["x", CANARY]}}},
                     "oauth.clientSecret", id="secret-wrong-type"),
        pytest.param("POST", "/api/connectors/jira/connect/callback",
                     {"content": '{"apiKey": "' + CANARY + '",', "headers": {"content-type": "application/json"}},
                     "", id="malformed-json"),
        pytest.param("POST", "/api/connectors/jira/jobs", {"json": {"type": "teleport", "connectionId": "c1"}},
                     "type", id="enum-value"),
        pytest.param("GET", "/api/connectors/jira/items", {"params": {"connectionId": "c1", "limit": "0"}},
                     "limit", id="limit-below-range"),
        pytest.param("GET", "/api/connectors/jira/items", {"params": {"connectionId": "c1", "limit": "201"}},
                     "limit", id="limit-above-range"),
        pytest.param("GET", "/api/connectors/jira/items", {"params": {"limit": "5"}}, "connectionId",
                     id="missing-connection"),
        pytest.param("GET", "/api/connectors/jira/items",
                     {"params": {"connectionId": "c1", "updatedSince": "2025-01-01T00:00:00"}}, "updatedSince",
                     id="naive-datetime"),
    ],
)  # fmt: skip
async def test_validation_error_is_400_without_echo(
    client: httpx.AsyncClient, fake: FakeConnectorService, method: str, path: str, kwargs: dict, field: str
) -> None:
    response = await client.request(method, path, **kwargs)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["error"]["code"] == "invalid_request"
    fields = body["error"]["details"]["fields"]
    assert any(f["field"] == field or f["field"].startswith(field + ".") for f in fields), fields
    assert CANARY not in response.text
    assert fake.calls == []


async def test_value_the_proto_cannot_hold_is_400_without_echo(
    client: httpx.AsyncClient, fake: FakeConnectorService
) -> None:
    huge = 2**70
    response = await client.post("/api/connections/c1/sync-state", json={"cursor": {}, "expectedVersion": huge})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert str(huge) not in response.text
    assert fake.calls == []


async def test_unknown_route_is_a_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here", headers={"X-Request-Id": "req-404"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.headers["x-request-id"] == "req-404"


async def test_wrong_method_is_an_envelope(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/connections")
    assert response.status_code == 405
    assert response.json()["ok"] is False


class _Exploding:
    async def ListConnectors(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"database password {CANARY} leaked into a bug")


async def test_unexpected_exception_is_a_bare_500(fake_server) -> None:
    port, _ = fake_server
    stubs = Stubs(**{name: SimpleNamespace() for name in Stubs.__dataclass_fields__} | {"connectors": _Exploding()})
    async with gateway_client(settings_for(f"127.0.0.1:{port}"), stubs=stubs) as client:
        response = await client.get("/api/connectors", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.json() == {"ok": False, "error": {"code": "internal", "message": "internal error", "details": {}}}
    assert response.headers["x-request-id"] == "req-500"
    assert CANARY not in response.text


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/connections/c1/token", id="lean-token-route"),
        pytest.param("/api/connections/c1", id="fastapi-route"),
    ],
)
async def test_a_throttled_caller_is_told_when_to_retry(
    client: httpx.AsyncClient, fake: FakeConnectorService, path: str
) -> None:
    failure = Failure(
        S.RESOURCE_EXHAUSTED,
        "too many failed authentications; retry after 42 s",
        "rate_limited",
        {"retryAfterSeconds": 42},
    )
    fake.failures["GetToken"] = fake.failures["GetConnection"] = failure
    response = await client.get(path)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "42"
    assert response.json()["error"]["code"] == "rate_limited"


async def test_wrong_method_lists_every_allowed_method(client: httpx.AsyncClient) -> None:
    # GET and DELETE are two routes on one path; Allow names both (RFC 9110).
    response = await client.request("TRACE", "/api/connections/c1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert (await client.put("/api/connections")).headers["allow"] == "GET, POST"


async def test_allow_names_the_literal_path_over_a_templated_one(client: httpx.AsyncClient) -> None:
    # /connections/token is its own resource (POST), not /connections/{connection_id}.
    assert (await client.request("OPTIONS", "/api/connections/token")).headers["allow"] == "POST"
    assert (await client.request("OPTIONS", "/api/webhooks/dead-letters")).headers["allow"] == "GET"

"""The closed error table: every code maps to one HTTP and one gRPC status, and
a domain error survives the gRPC hop with its precise code and details."""

from __future__ import annotations

import grpc
import pytest
from ucf_common.errors import ErrorCode, UcfError


@pytest.mark.parametrize(
    ("code", "http", "wire"),
    [
        pytest.param(ErrorCode.INVALID_REQUEST, 400, "invalid_request", id="invalid_request"),
        pytest.param(ErrorCode.UNAUTHENTICATED, 401, "unauthenticated", id="unauthenticated"),
        pytest.param(ErrorCode.FORBIDDEN, 403, "forbidden", id="forbidden"),
        pytest.param(ErrorCode.NOT_FOUND, 404, "not_found", id="not_found"),
        pytest.param(ErrorCode.CONFLICT, 409, "conflict", id="conflict"),
        pytest.param(ErrorCode.FAILED_PRECONDITION, 412, "failed_precondition", id="failed_precondition"),
        pytest.param(ErrorCode.RATE_LIMITED, 429, "rate_limited", id="rate_limited"),
        pytest.param(ErrorCode.INTERNAL, 500, "internal", id="internal"),
        pytest.param(ErrorCode.UNIMPLEMENTED, 501, "unimplemented", id="unimplemented"),
        pytest.param(ErrorCode.UPSTREAM_ERROR, 502, "upstream_error", id="upstream_error"),
        pytest.param(ErrorCode.UNAVAILABLE, 503, "unavailable", id="unavailable"),
        pytest.param(ErrorCode.TIMEOUT, 504, "timeout", id="timeout"),
    ],
)
def test_code_table(code: ErrorCode, http: int, wire: str) -> None:
    assert code.http_status == http
    assert code.wire == wire
    assert ErrorCode.from_wire(wire) is code


class _FakeRpcError(grpc.RpcError):
    def __init__(self, status, details, trailers):
        self._status, self._details, self._trailers = status, details, trailers

    def code(self):
        return self._status

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailers


def test_trailer_code_wins_over_shared_grpc_status() -> None:
    original = UcfError(ErrorCode.UPSTREAM_ERROR, "jira answered 500", {"provider": "jira"})
    assert original.code.grpc_status == grpc.StatusCode.UNAVAILABLE
    rebuilt = UcfError.from_rpc_error(
        _FakeRpcError(grpc.StatusCode.UNAVAILABLE, original.message, original.trailing_metadata())
    )
    assert rebuilt.code is ErrorCode.UPSTREAM_ERROR
    assert rebuilt.details == {"provider": "jira"}
    assert rebuilt.message == "jira answered 500"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(grpc.StatusCode.UNAVAILABLE, ErrorCode.UNAVAILABLE, id="unavailable"),
        pytest.param(grpc.StatusCode.DEADLINE_EXCEEDED, ErrorCode.TIMEOUT, id="deadline"),
        pytest.param(grpc.StatusCode.DATA_LOSS, ErrorCode.INTERNAL, id="data_loss"),
        pytest.param(grpc.StatusCode.UNKNOWN, ErrorCode.INTERNAL, id="unknown"),
    ],
)
def test_bare_status_without_trailers(status: grpc.StatusCode, expected: ErrorCode) -> None:
    rebuilt = UcfError.from_rpc_error(_FakeRpcError(status, "boom", ()))
    assert rebuilt.code is expected


def test_garbled_details_trailer_is_ignored() -> None:
    rebuilt = UcfError.from_rpc_error(
        _FakeRpcError(grpc.StatusCode.NOT_FOUND, "gone", (("ucf-error-details", "{not json"),))
    )
    assert rebuilt.code is ErrorCode.NOT_FOUND
    assert rebuilt.details == {}

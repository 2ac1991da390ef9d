"""The one closed set of error codes shared by REST and gRPC.

Each code carries its HTTP status and gRPC status side by side, so the gRPC
edge and the gateway both map from this single table. A domain error crosses
the gRPC boundary as its status plus two trailing-metadata entries
(`ucf-error-code`, `ucf-error-details`), so codes that share a gRPC status
(e.g. upstream_error and unavailable) survive the hop.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from typing import Any, cast

import grpc

CODE_METADATA_KEY = "ucf-error-code"
DETAILS_METADATA_KEY = "ucf-error-details"


class ErrorCode(enum.Enum):
    """A closed set of codes: value = (wire name, HTTP status, gRPC status)."""

    INVALID_REQUEST = ("invalid_request", 400, grpc.StatusCode.INVALID_ARGUMENT)
    UNAUTHENTICATED = ("unauthenticated", 401, grpc.StatusCode.UNAUTHENTICATED)
    FORBIDDEN = ("forbidden", 403, grpc.StatusCode.PERMISSION_DENIED)
    NOT_FOUND = ("not_found", 404, grpc.StatusCode.NOT_FOUND)
    CONFLICT = ("conflict", 409, grpc.StatusCode.ABORTED)
    FAILED_PRECONDITION = ("failed_precondition", 412, grpc.StatusCode.FAILED_PRECONDITION)
    RATE_LIMITED = ("rate_limited", 429, grpc.StatusCode.RESOURCE_EXHAUSTED)
    INTERNAL = ("internal", 500, grpc.StatusCode.INTERNAL)
    UNIMPLEMENTED = ("unimplemented", 501, grpc.StatusCode.UNIMPLEMENTED)
    UPSTREAM_ERROR = ("upstream_error", 502, grpc.StatusCode.UNAVAILABLE)
    UNAVAILABLE = ("unavailable", 503, grpc.StatusCode.UNAVAILABLE)
    TIMEOUT = ("timeout", 504, grpc.StatusCode.DEADLINE_EXCEEDED)

    @property
    def wire(self) -> str:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return self.value[2]

    @classmethod
    def from_wire(cls, name: str) -> ErrorCode | None:
        return _BY_WIRE.get(name)

    @classmethod
    def from_grpc(cls, status: grpc.StatusCode) -> ErrorCode:
        """The code a bare gRPC status means when no ucf-error-code came with it."""
        return _BY_GRPC.get(status, ErrorCode.INTERNAL)


_BY_WIRE = {c.wire: c for c in ErrorCode}
_BY_GRPC: dict[grpc.StatusCode, ErrorCode] = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCode.INVALID_REQUEST,
    grpc.StatusCode.OUT_OF_RANGE: ErrorCode.INVALID_REQUEST,
    grpc.StatusCode.UNAUTHENTICATED: ErrorCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCode.FORBIDDEN,
    grpc.StatusCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: ErrorCode.CONFLICT,
    grpc.StatusCode.ABORTED: ErrorCode.CONFLICT,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCode.RATE_LIMITED,
    grpc.StatusCode.UNIMPLEMENTED: ErrorCode.UNIMPLEMENTED,
    grpc.StatusCode.UNAVAILABLE: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.TIMEOUT,
    grpc.StatusCode.INTERNAL: ErrorCode.INTERNAL,
    grpc.StatusCode.DATA_LOSS: ErrorCode.INTERNAL,
    grpc.StatusCode.UNKNOWN: ErrorCode.INTERNAL,
}


class UcfError(Exception):
    """A domain error with a code from the closed set.

    `message` is shown to callers: never put a secret in it. `details` is a
    JSON-serialisable dict of extra facts (field errors, retryAfter, ...).
    """

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            (CODE_METADATA_KEY, self.code.wire),
            (DETAILS_METADATA_KEY, json.dumps(self.details, separators=(",", ":"), default=str)),
        )

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> UcfError:
        """Rebuild the domain error a peer raised, from its status and trailers."""
        status = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        message = (err.details() if hasattr(err, "details") else None) or str(status)
        trailers = rpc_trailers(err)
        code = ErrorCode.from_wire(str(trailers.get(CODE_METADATA_KEY, ""))) or ErrorCode.from_grpc(status)
        try:
            details = json.loads(trailers.get(DETAILS_METADATA_KEY) or "{}")
        except (TypeError, ValueError):
            details = {}
        return cls(code, message, details if isinstance(details, dict) else {})


def rpc_trailers(err: grpc.RpcError) -> dict[str, str | bytes]:
    """A failed call's trailing metadata by key (empty when it has none). grpc gives (key, value)
    pairs (namedtuples from a blocking call, tuples from grpc.aio), which grpc-stubs types as
    `_Metadatum`, a class without them."""
    metadata = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return dict(cast("Iterable[tuple[str, str | bytes]]", metadata or ()))


def invalid(message: str, **details: Any) -> UcfError:
    return UcfError(ErrorCode.INVALID_REQUEST, message, details)


def not_found(what: str, ident: str) -> UcfError:
    return UcfError(ErrorCode.NOT_FOUND, f"{what} {ident!r} not found")

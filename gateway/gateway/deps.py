"""Dependencies shared by the routes, as `Annotated` aliases.

`Rpc` is the per-request `Caller`: the process's stubs plus the metadata the
connector service needs — `authorization` and `x-tenant-id` copied from the
HTTP headers (the connector service authenticates; the gateway only forwards),
the request id set by `RequestContextMiddleware`, and the client's address as
`x-forwarded-for` (the TCP peer uvicorn saw; a client's own `X-Forwarded-For`
header is never forwarded), which the connector service believes only from the
peers it lists in `UCF_TRUSTED_PROXIES` and uses to throttle failed authentications.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.request_context import REQUEST_ID_METADATA_KEY, request_id_var

from gateway.envelope import SizeRefused
from gateway.rpc import Caller, Stubs

FORWARDED_FOR_METADATA_KEY = "x-forwarded-for"
_FORWARDED_HEADERS = {b"authorization": "authorization", b"x-tenant-id": "x-tenant-id"}
#: Most bytes of forwarded headers (names and values): well inside grpc-core's metadata limits
#: (8 KiB soft, 16 KiB hard), which would otherwise refuse the call with grpc-core's own words.
METADATA_BUDGET = 4096


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the lifespan builds once and every request shares."""

    stubs: Stubs
    rpc_timeout: float
    upstream_rpc_timeout: float
    health_timeout: float


# Dependencies are `async def` although they never await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hand-off per request on the hot path.
async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def call_metadata(
    headers: Iterable[tuple[bytes, bytes]], client: tuple[str, int] | None = None
) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata of one request: its id, the client's address (ASGI `client`) and the
    forwarded ASGI `headers`."""
    metadata: tuple[tuple[str, str], ...] = ((REQUEST_ID_METADATA_KEY, request_id_var.get()),)
    size = 0
    if client and client[0].isascii() and client[0].isprintable():
        metadata += ((FORWARDED_FOR_METADATA_KEY, client[0]),)
    for key, value in headers:
        name = _FORWARDED_HEADERS.get(key)
        if name is not None:
            size += len(key) + len(value)
            if size > METADATA_BUDGET:
                message = f"the authorization and x-tenant-id headers are larger than {METADATA_BUDGET} bytes"
                raise SizeRefused(431, message, {"maxHeaderBytes": METADATA_BUDGET})
            text = value.decode("latin-1")
            if not (text.isascii() and text.isprintable()):
                # gRPC metadata values are printable ASCII; say which header, never its value.
                raise UcfError(ErrorCode.INVALID_REQUEST, f"the {name} header must be printable ASCII")
            metadata += ((name, text),)
    return metadata


def caller_for(
    runtime: Runtime, headers: Iterable[tuple[bytes, bytes]], client: tuple[str, int] | None = None
) -> Caller:
    return Caller(runtime.stubs, call_metadata(headers, client), runtime.rpc_timeout, runtime.upstream_rpc_timeout)


async def caller(request: Request) -> Caller:
    return caller_for(request.app.state.runtime, request.scope["headers"], request.scope.get("client"))


def timestamp(value: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp for an optional query datetime."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


Rpc = Annotated[Caller, Depends(caller)]
State = Annotated[Runtime, Depends(runtime)]

ConnectionIdQuery = Annotated[
    str, Query(alias="connectionId", min_length=1, description="The connection to read through.")
]
OptionalConnectionIdQuery = Annotated[str, Query(alias="connectionId")]
Cursor = Annotated[
    str,
    Query(
        description="`next` of the previous page, exactly as the service sent it; empty for the first page. "
        "Any other value is refused (400).",
    ),
]
Limit = Annotated[int | None, Query(ge=1, le=200, description="Page size (1–200); the service picks when absent.")]

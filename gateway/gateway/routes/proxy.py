"""`/api/proxy/{path}`: a request to a connection's provider API, with its credential applied
by the connector service (`ProxyService.Forward`).

The header `Connection-Id` names the connection; the path, query string, body and headers
go to the service, which decides the upstream host from the catalog and drops what must not
be forwarded. A success is the provider's own answer — status, safe headers and body
streamed through as they arrive, not wrapped in the `{ok, data}` envelope. Errors of ours
(no such connection, missing scope, a bad path, an unreachable provider, an answer over the
size limit) are the usual error envelope. When the provider's answer grows over the limit
after it has begun streaming, the response is cut off (no final chunk), so a client cannot
take the truncated body for a whole one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Header, Request
from starlette.responses import Response, StreamingResponse
from ucf.connector.v1 import proxy_pb2 as pb
from ucf_common.errors import ErrorCode, UcfError

from gateway.deps import caller_for
from gateway.rpc import error_from_rpc

log = logging.getLogger("ucf.gateway.proxy")
#: What `read()` answers at the end of a stream (grpc-stubs does not declare it).
_EOF: Any = getattr(grpc.aio, "EOF")  # noqa: B009
router = APIRouter(tags=["proxy"])

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Ours (the API key, the tenant, the connection) or the transport's: not the provider's business.
_REQUEST_DROPPED = frozenset({b"authorization", b"x-tenant-id", b"connection-id", b"host", b"content-length"})
#: Set by the server for our answer, never copied from the provider's.
_ANSWER_DROPPED = frozenset({"content-length", "transfer-encoding", "connection", "server", "date"})

_DESCRIPTION = """Forward a request to the provider of the connection named by `Connection-Id`, with the
connection's credential applied the way the provider's catalog entry declares (bearer, a named
header, a query parameter or Basic), refreshed first when due.

The upstream URL is the catalog's `base_url` (for the connection's auth mode, with its
connect parameters and system metadata filled in) joined with `{path}`; the path cannot name
another host or climb above the base (`..`, `//host`, absolute URLs are refused with 400).
The query string, body and headers are forwarded, except hop-by-hop headers and the caller's
authentication (`Authorization`, `Cookie`, `X-Api-Key`, ...). Idempotent methods are retried on
429 and 5xx, honouring `Retry-After` up to a few seconds in all.

A success is the provider's answer as is: its status, headers (without hop-by-hop headers and
`Set-Cookie`) and body, streamed, up to `UCF_PROXY_MAX_RESPONSE_BYTES` (default 50 MiB; beyond it
502 `upstream_error`). Errors of the gateway or connector service use the error envelope.
Needs the `proxy` scope. Every call is audited (`proxy.request`: method, path without the
query, status, duration)."""


async def proxy(
    path: str,
    request: Request,
    connection_id: Annotated[str, Header(alias="Connection-Id", description="The connection to call through.")],
) -> Response:
    runtime = request.app.state.runtime
    rpc = caller_for(runtime, request.scope["headers"], request.scope.get("client"))
    if not connection_id.strip():
        raise UcfError(ErrorCode.INVALID_REQUEST, "the Connection-Id header is required", {"field": "Connection-Id"})
    forwarded = pb.ForwardRequest(
        connection_id=connection_id.strip(),
        method=request.method,
        path=path,
        query=request.url.query,
        headers=[
            pb.Header(name=k.decode("latin-1"), value=v.decode("latin-1"))
            for k, v in request.scope["headers"]
            if k not in _REQUEST_DROPPED
        ],
        body=await request.body(),
    )
    call: Any = runtime.stubs.proxy.Forward(forwarded, metadata=rpc.metadata, timeout=runtime.upstream_rpc_timeout)
    try:
        first = await call.read()
    except grpc.RpcError as err:
        raise error_from_rpc(err) from None
    if first is _EOF or not first.HasField("head"):
        raise UcfError(ErrorCode.UPSTREAM_ERROR, "the connector service sent no answer head")
    head = first.head
    headers = [(h.name, h.value) for h in head.headers if h.name.lower() not in _ANSWER_DROPPED]
    response = StreamingResponse(_body(call), status_code=head.status)
    response.raw_headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    return response


for _method in METHODS:
    # One operation per method, each with its own operationId.
    router.add_api_route(
        "/proxy/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        summary=f"{_method} the provider's API through a connection",
        description=_DESCRIPTION,
        response_class=Response,
        responses={200: {"description": "The provider's answer, passed through (any status)", "content": {"*/*": {}}}},
    )


async def _body(call: Any) -> AsyncIterator[bytes]:
    try:
        while (part := await call.read()) is not _EOF:
            if part.body_chunk:
                yield part.body_chunk
    except grpc.RpcError as err:
        # The head is sent: the status can no longer change. Cut the answer off instead of ending it.
        failure = error_from_rpc(err)
        log.warning("proxied answer cut off: %s %s", failure.code.wire, failure.message)
        raise failure from None
    finally:
        call.cancel()  # the client went away (or the answer is done: then a no-op)

"""API-key authentication and scope/tenant authorization for every RPC.

`AuthInterceptor` runs inside `RequestContextInterceptor` (so its `UcfError`s
become statuses with the error-code trailers). It makes the caller's
`Principal` current for the handler through `principal_var`; servicers read it
with `current_principal()`.

`REQUIRED_SCOPES` is the one table method → scope. A method missing from it
needs `admin`, so a new RPC is closed until someone decides its scope.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.grpc_server import WrappedHandlers

from connector_service.api_keys import ApiKeyStore, Principal

TENANT_METADATA_KEY = "x-tenant-id"

_C = "/ucf.connector.v1."
REQUIRED_SCOPES: dict[str, str] = {
    _C + "ConnectorService/ListConnectors": "connectors:read",
    _C + "ConnectorService/GetConnector": "connectors:read",
    _C + "ConnectorService/UpdateConnector": "connectors:write",
    _C + "ConnectorService/ProbeConnector": "connectors:read",
    _C + "ConnectorService/Connect": "connections:write",
    _C + "ConnectorService/ConnectCallback": "connections:write",
    _C + "ConnectorService/ValidateConnector": "connections:write",
    _C + "ConnectorService/RevokeConnector": "connections:write",
    _C + "ConnectionService/ListConnections": "connections:read",
    _C + "ConnectionService/GetConnection": "connections:read",
    _C + "ConnectionService/UpsertConnection": "connections:write",
    _C + "ConnectionService/DeleteConnection": "connections:write",
    _C + "ConnectionService/StoreToken": "connections:write",
    _C + "ConnectionService/GetToken": "tokens:read",
    _C + "ConnectionService/ValidateConnection": "connections:write",
    _C + "ConnectionService/RevokeConnection": "connections:write",
    _C + "ConnectionService/GetSyncState": "connections:read",
    _C + "ConnectionService/SetSyncState": "connections:write",
    _C + "ConnectionService/ListAuditLogs": "connections:read",
    _C + "ResourceService/ListContainers": "connectors:read",
    _C + "ResourceService/ListItems": "connectors:read",
    _C + "ResourceService/GetItem": "connectors:read",
    _C + "ResourceService/ListComments": "connectors:read",
    _C + "ResourceService/CreateItem": "connectors:write",
    _C + "ResourceService/CreateComment": "connectors:write",
    _C + "JobService/CreateJob": "jobs:write",
    _C + "JobService/CancelJob": "jobs:write",
    _C + "JobService/GetJob": "connectors:read",
    _C + "JobService/ListJobs": "connectors:read",
    _C + "JobService/ListRecords": "connectors:read",
    _C + "WebhookService/RegisterWebhook": "webhooks:write",
    _C + "WebhookService/UnregisterWebhook": "webhooks:write",
    _C + "WebhookService/ListDeadLetters": "webhooks:write",
}

#: Methods callable without an API key: they authenticate otherwise (signed
#: webhook deliveries, single-use OAuth state) or expose nothing tenant-owned.
PUBLIC_METHODS = frozenset({
    _C + "WebhookService/ReceiveWebhook",
    _C + "ConnectorService/CompleteOAuthRedirect",
})
_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                    "/grpc.reflection.v1.ServerReflection/")

principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def is_public(method: str) -> bool:
    return method in PUBLIC_METHODS or method.startswith(_PUBLIC_PREFIXES)


def current_principal() -> Principal:
    """The authenticated caller of the current RPC."""
    principal = principal_var.get()
    if principal is None:
        raise UcfError(ErrorCode.UNAUTHENTICATED, "this operation needs an API key")
    return principal


def _auth_metadata(context: grpc.aio.ServicerContext) -> tuple[str, str | None]:
    """(authorization or "", x-tenant-id or None) in one pass over the metadata; the first
    occurrence of each key counts, as with `metadata_value`."""
    header: str | None = None
    tenant: str | None = None
    for k, v in context.invocation_metadata() or ():
        if k == "authorization":
            if header is None:
                header = v if isinstance(v, str) else v.decode()
        elif k == TENANT_METADATA_KEY and tenant is None:
            tenant = v if isinstance(v, str) else v.decode()
    return header or "", tenant


class Authenticator:
    """Turns request metadata into a principal allowed to call `method`."""

    def __init__(self, keys: ApiKeyStore):
        self._keys = keys

    async def authenticate(self, context: grpc.aio.ServicerContext, method: str) -> Principal:
        header, tenant = _auth_metadata(context)
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise UcfError(ErrorCode.UNAUTHENTICATED, "missing API key: send 'authorization: Bearer <key>'")
        principal = await self._keys.verify(key.strip())
        if principal is None:
            raise UcfError(ErrorCode.UNAUTHENTICATED, "unknown or revoked API key")
        if tenant and tenant != principal.tenant_id:
            raise UcfError(ErrorCode.FORBIDDEN, "x-tenant-id does not match the API key's tenant")
        scope = REQUIRED_SCOPES.get(method, "admin")
        if not principal.allows(scope):
            raise UcfError(ErrorCode.FORBIDDEN, f"this operation needs the {scope} scope", {"requiredScope": scope})
        return principal


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every non-public unary RPC and sets the principal for the handler.

    Authentication happens inside the wrapper, on every call; only the wrapping (closures
    and the RpcMethodHandler) is built once per method and reused (`WrappedHandlers`).
    """

    def __init__(self, authenticator: Authenticator):
        self._auth = authenticator
        self._handlers = WrappedHandlers(self._wrap_handler)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or is_public(method):
            return handler
        return self._handlers.get(handler, method)

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return _refuse_streaming_input(handler)

    def _wrap_unary(self, behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
        authenticate = self._auth.authenticate

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = principal_var.set(await authenticate(context, method))
            try:
                return await behavior(request, context)
            finally:
                principal_var.reset(token)

        return wrapper

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        authenticate = self._auth.authenticate

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = principal_var.set(await authenticate(context, method))
            try:
                async for item in behavior(request, context):
                    yield item
            finally:
                principal_var.reset(token)

        return wrapper


def _refuse_streaming_input(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """No ucf RPC streams requests; refuse rather than let one through unauthenticated."""

    async def refuse(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "streaming-input RPCs are not served")

    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            refuse, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(
        refuse, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)

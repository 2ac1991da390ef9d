"""API-key authentication and scope/tenant authorization for every RPC.

`AuthInterceptor` runs inside `RequestContextInterceptor` (so its `UcfError`s
become statuses with the error-code trailers). It makes the caller's
`Principal` current for the handler through `principal_var`; servicers read it
with `current_principal()`.

`REQUIRED_SCOPES` is the one table method → scope. A method missing from it
needs `admin`, so a new RPC is closed until someone decides its scope.

Refusals are audited under the tenant they concern (`record_denial`, which never
raises): a failed authentication under the tenant of the key id it names (when that
key id is registered; never the secret), a tenant mismatch or missing scope under the
key's tenant, and — for authenticated calls — a handler's egress refusal and a failed
onboarding step (`Connect`, `ConnectCallback`).

Failed authentications are throttled (`AuthThrottle`) per source address and per key
id. A key id over the limit is refused (429) before its secret is checked, even a
right one: that is what stops guessing a secret. An address over the limit gets 429
instead of 401 for every key that fails, but a valid key from it still authenticates:
addresses are shared (NAT, proxies), and guessing a whole key (64-bit id, 256-bit
secret) is hopeless anyway. The source address is the peer's, or the `x-forwarded-for`
metadata value when the peer is one of the trusted proxies (the gateway).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.grpc_server import WrappedHandlers
from ucf_common.logging import log_fields

from connector_service.auth.api_keys import ApiKeyStore, KeyRefusal, Principal, key_id_of
from connector_service.auth.throttle import KEY, SOURCE, AuthThrottle
from connector_service.connect.principal import SessionGuard
from connector_service.connect.sessions import is_session_token
from connector_service.connections import audit
from connector_service.platform import egress

if TYPE_CHECKING:
    from connector_service.connections.audit import AuditLog

log = logging.getLogger("connector_service.auth")

TENANT_METADATA_KEY = "x-tenant-id"
#: The REST client's address, set by the gateway; believed only from a trusted proxy.
FORWARDED_FOR_METADATA_KEY = "x-forwarded-for"

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
    _C + "ScheduleService/PutSchedule": "jobs:write",
    _C + "ScheduleService/GetSchedule": "connections:read",
    _C + "ScheduleService/DeleteSchedule": "jobs:write",
    _C + "WebhookService/RegisterWebhook": "webhooks:write",
    _C + "WebhookService/UnregisterWebhook": "webhooks:write",
    _C + "WebhookService/ListDeadLetters": "webhooks:write",
    _C + "ConnectSessionService/CreateConnectSession": "connect:write",
    _C + "ConnectSessionService/GetTenantSettings": "connect:write",
    _C + "ConnectSessionService/UpdateTenantSettings": "connect:write",
    _C + "EventEndpointService/CreateEventEndpoint": "connect:write",
    _C + "EventEndpointService/ListEventEndpoints": "connect:write",
    _C + "EventEndpointService/DeleteEventEndpoint": "connect:write",
    _C + "EventEndpointService/RotateEventEndpointSecret": "connect:write",
    _C + "ProxyService/Forward": "proxy",
}

#: Methods callable without an API key: they authenticate otherwise (signed
#: webhook deliveries, single-use OAuth state) or expose nothing tenant-owned.
PUBLIC_METHODS = frozenset(
    {
        _C + "WebhookService/ReceiveWebhook",
        _C + "ConnectorService/CompleteOAuthRedirect",
    }
)
_PUBLIC_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

#: Methods whose refusals are onboarding failures, audited as `connection.onboarding`.
_ONBOARDING_METHODS = frozenset({_C + "ConnectorService/Connect", _C + "ConnectorService/ConnectCallback"})

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


def _metadata_value(context: grpc.aio.ServicerContext, name: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == name:
            return v if isinstance(v, str) else v.decode()
    return ""


def _peer_address(peer: str) -> str:
    """The IP address in a gRPC peer string (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`), else the string."""
    scheme, _, rest = peer.partition(":")
    if scheme == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if scheme == "ipv4":
        return rest.rpartition(":")[0]
    return peer[:100]


class Authenticator:
    """Turns request metadata into a principal allowed to call `method`.

    Without a `throttle` failures are not limited; without an `audit_log` refusals are not
    audited (tests of the authorization table alone)."""

    def __init__(
        self,
        keys: ApiKeyStore,
        *,
        throttle: AuthThrottle | None = None,
        audit_log: AuditLog | None = None,
        trusted_proxies: Iterable[str] = (),
        sessions: SessionGuard | None = None,
    ):
        self._keys = keys
        self._sessions = sessions
        self._throttle = throttle
        self._audit = audit_log
        self._trusted = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in trusted_proxies if n.strip())

    async def authenticate(self, context: grpc.aio.ServicerContext, method: str, request: Any = None) -> Principal:
        header, tenant = _auth_metadata(context)
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            await self._failed(context, method, KeyRefusal("missing"))
            raise UcfError(ErrorCode.UNAUTHENTICATED, "missing API key: send 'authorization: Bearer <key>'")
        if self._sessions is not None and is_session_token(key):
            return await self._session_principal(context, method, key, tenant, request)
        if self._throttle is not None:
            key_id = key_id_of(key)
            wait = self._throttle.blocked_for(KEY, key_id) if key_id else None
            if wait is not None:
                raise _throttled(wait)
        result = await self._keys.check(key)
        if not isinstance(result, Principal):
            await self._failed(context, method, result)
            raise UcfError(ErrorCode.UNAUTHENTICATED, "unknown or revoked API key")
        principal = result
        if tenant and tenant != principal.tenant_id:
            await self._denied(principal, method, reason="tenant_mismatch", requested_tenant=tenant[:128])
            raise UcfError(ErrorCode.FORBIDDEN, "x-tenant-id does not match the API key's tenant")
        scope = REQUIRED_SCOPES.get(method, "admin")
        if not principal.allows(scope):
            await self._denied(principal, method, reason="missing_scope", required_scope=scope)
            raise UcfError(ErrorCode.FORBIDDEN, f"this operation needs the {scope} scope", {"requiredScope": scope})
        return principal

    async def _session_principal(
        self, context: grpc.aio.ServicerContext, method: str, token: str, tenant: str | None, request: Any
    ) -> Principal:
        """A connect session's principal, limited by `SessionGuard.restrict`."""
        assert self._sessions is not None
        session = await self._sessions.check(token)
        if session is None:
            await self._failed(context, method, KeyRefusal("unknown_session"))
            raise UcfError(ErrorCode.UNAUTHENTICATED, "unknown or expired connect session; ask the app for a new link")
        principal = Principal(session.tenant_id, f"session:{session.id}", frozenset(), session)
        if tenant and tenant != principal.tenant_id:
            raise UcfError(ErrorCode.FORBIDDEN, "x-tenant-id does not match the connect session's tenant")
        try:
            self._sessions.restrict(session, method, request)
        except UcfError:
            await self._denied(principal, method, reason="connect_session_limit")
            raise
        return principal

    def source_address(self, context: grpc.aio.ServicerContext) -> str:
        """The caller's address: the peer's, or the forwarded one when the peer is a trusted proxy."""
        peer = _peer_address(context.peer() or "")
        forwarded = _metadata_value(context, FORWARDED_FOR_METADATA_KEY) if self._trusted else ""
        if forwarded:
            try:
                if any(ipaddress.ip_address(peer) in network for network in self._trusted):
                    return str(ipaddress.ip_address(forwarded.strip()))
            except ValueError:
                pass
        return peer

    async def _failed(self, context: grpc.aio.ServicerContext, method: str, refusal: KeyRefusal) -> None:
        """Counts a failed authentication (raising 429 once over a limit) and audits it while under."""
        source = self.source_address(context)
        if self._throttle is not None:
            wait = self._throttle.blocked_for(SOURCE, source)
            if wait is not None:  # already known to be over the limit: no counting, no audit entry
                raise _throttled(wait)
            waits = [await self._throttle.failed(SOURCE, source)]
            if refusal.key_id:
                waits.append(await self._throttle.failed(KEY, refusal.key_id))
            longest = max((w for w in waits if w is not None), default=None)
            if longest is not None:
                raise _throttled(longest)
        if refusal.tenant_id and self._audit is not None:
            await self._audit.record_denial(
                refusal.tenant_id,
                audit.AUTH_FAILED,
                actor=refusal.key_id,
                method=method.rsplit("/", 1)[-1],
                reason=refusal.reason,
                key_id=refusal.key_id,
                source=source,
            )
        else:
            log.info(
                "authentication failed", extra=log_fields(reason=refusal.reason, key_id=refusal.key_id, source=source)
            )

    async def _denied(self, principal: Principal, method: str, **details: Any) -> None:
        if self._audit is None:
            return
        token = principal_var.set(principal)
        try:
            await self._audit.record_denial(
                principal.tenant_id, audit.ACCESS_DENIED, method=method.rsplit("/", 1)[-1], **details
            )
        finally:
            principal_var.reset(token)

    async def handler_refused(self, err: UcfError, method: str, request: Any) -> None:
        """Audits a refusal an authenticated handler raised, when it is an egress refusal or an
        onboarding failure; other errors are the handler's to audit."""
        if self._audit is None:
            return
        principal = principal_var.get()
        if principal is None:
            return
        connector_id = str(getattr(request, "connector_id", "") or "")[:100]
        name = method.rsplit("/", 1)[-1]
        if egress.refusal(err) is not None:
            await self._audit.record_denial(
                principal.tenant_id,
                audit.EGRESS_REFUSED,
                connector_id=connector_id,
                method=name,
                field=str(err.details.get("field", "")),
                code=err.code.wire,
            )
        elif method in _ONBOARDING_METHODS:
            await self._audit.record_denial(
                principal.tenant_id,
                audit.ONBOARDING_FAILED,
                outcome=audit.outcome_of(err.code),
                connector_id=connector_id,
                method=name,
                code=err.code.wire,
            )


def _throttled(seconds: int) -> UcfError:
    return UcfError(
        ErrorCode.RATE_LIMITED,
        f"too many failed authentications; retry after {seconds} s",
        {"retryAfterSeconds": seconds},
    )


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
        authenticate, refused = self._auth.authenticate, self._auth.handler_refused

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = principal_var.set(await authenticate(context, method, request))
            try:
                return await behavior(request, context)
            except UcfError as err:
                await refused(err, method, request)
                raise
            finally:
                principal_var.reset(token)

        return wrapper

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        authenticate, refused = self._auth.authenticate, self._auth.handler_refused

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = principal_var.set(await authenticate(context, method, request))
            try:
                async for item in behavior(request, context):
                    yield item
            except UcfError as err:
                await refused(err, method, request)
                raise
            finally:
                principal_var.reset(token)

        return wrapper


def _refuse_streaming_input(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """No ucf RPC streams requests; refuse rather than let one through unauthenticated."""

    async def refuse(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "streaming-input RPCs are not served")

    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )

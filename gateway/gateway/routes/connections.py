"""Connection records, their credentials, sync cursors and the audit trail
(ConnectionService).

`GET /connections/{id}/token` is the hot path of internal callers. `get_token` is
its FastAPI route (the OpenAPI entry, and every request out of the common shape);
`TokenReadRoute` answers the common shape — GET, no query string — as plain ASGI, from
the `gateway.fast_route.FastRoute` middleware ahead of FastAPI's router: no `Request`,
dependency solving or exit stacks, and the reply JSON built straight from the
`Credential` fields. Same metadata, same `Caller` (so the same `error_from_rpc` errors),
same envelope bytes and headers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path, get_route_path
from starlette.types import Receive, Scope, Send
from ucf.connector.v1 import connections_pb2 as pb
from ucf_common.errors import UcfError

from gateway.bodies import ConnectionBody, ConnectionRefBody, SyncStateBody, TokenBody
from gateway.deps import Cursor, Limit, OptionalConnectionIdQuery, Rpc, caller_for
from gateway.envelope import failure, flat_json, ok, ok_bytes
from gateway.schemas import reply, reply_page

router = APIRouter(tags=["connections"])

StreamQuery = Annotated[str, Query(description="Stream key; empty means the default stream.")]


@router.get("/connections", responses=reply_page(pb.Connection.DESCRIPTOR))
async def list_connections(
    rpc: Rpc,
    workspace_id: Annotated[str, Query(alias="workspaceId")] = "",
    connector_id: Annotated[str, Query(alias="connectorId")] = "",
    cursor: Cursor = "",
    limit: Limit = None,
) -> Response:
    request = pb.ListConnectionsRequest(
        workspace_id=workspace_id, connector_id=connector_id, cursor=cursor, limit=limit or 0
    )
    return ok(await rpc(rpc.stubs.connections.ListConnections, request))


@router.post(
    "/connections",
    responses={**reply(pb.Connection.DESCRIPTOR, 201, "Created"), **reply(pb.Connection.DESCRIPTOR, 200, "Updated")},
)
async def upsert_connection(body: ConnectionBody, rpc: Rpc) -> Response:
    """Create a connection, or update the one with the same id or the same connector + workspace."""
    answer = await rpc(rpc.stubs.connections.UpsertConnection, body.to_proto(pb.UpsertConnectionRequest()))
    return ok(answer.connection, status_code=201 if answer.created else 200)


@router.post("/connections/token", responses=reply(pb.Connection.DESCRIPTOR))
async def store_token(body: TokenBody, rpc: Rpc) -> Response:
    """Send a credential to the vault; the connection becomes connected."""
    answer = await rpc(rpc.stubs.connections.StoreToken, body.to_proto(pb.StoreTokenRequest()))
    return ok(answer.connection)


@router.get("/connections/{connection_id}", responses=reply(pb.Connection.DESCRIPTOR))
async def get_connection(connection_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.connections.GetConnection, pb.GetConnectionRequest(connection_id=connection_id))
    return ok(answer.connection)


@router.delete("/connections/{connection_id}", responses=reply(pb.DeleteConnectionResponse.DESCRIPTOR))
async def delete_connection(connection_id: str, rpc: Rpc) -> Response:
    request = pb.DeleteConnectionRequest(connection_id=connection_id)
    return ok(await rpc(rpc.stubs.connections.DeleteConnection, request))


@router.get("/connections/{connection_id}/token", responses=reply(pb.Credential.DESCRIPTOR))
async def get_token(
    connection_id: str, rpc: Rpc, force_refresh: Annotated[bool, Query(alias="forceRefresh")] = False
) -> Response:
    """A credential valid now (refreshed first when near expiry). Needs the tokens:read scope."""
    request = pb.GetTokenRequest(connection_id=connection_id, force_refresh=force_refresh)
    answer = await rpc(rpc.stubs.connections.GetToken, request, upstream=True)
    return ok(answer.credential)


_credential_json = flat_json(pb.Credential.DESCRIPTOR)


class TokenReadRoute(BaseRoute):
    """`GET {prefix}/connections/{connection_id}/token` without a query string, as plain ASGI.

    Anything else on that path (another method, `forceRefresh`, any query) does not match
    here and reaches `get_token` through FastAPI, so validation and 405s stay FastAPI's.
    """

    def __init__(self, prefix: str) -> None:
        self.path = prefix + "/connections/{connection_id}/token"
        self.path_regex, self.path_format, _ = compile_path(self.path)
        self.name = "get_token_lean"
        self.include_in_schema = False

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return Match.NONE, {}
        found = self.path_regex.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        return Match.FULL, {"route": self, "path_params": {**scope.get("path_params", {}), **found.groupdict()}}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answers a scope `matches` accepted; a `UcfError` gets the error handlers' envelope."""
        try:
            rpc = caller_for(scope["app"].state.runtime, scope["headers"], scope.get("client"))
            request = pb.GetTokenRequest(connection_id=scope["path_params"]["connection_id"])
            answer = await rpc(rpc.stubs.connections.GetToken, request, upstream=True)
        except UcfError as err:
            await failure(err)(scope, receive, send)
            return
        body = ok_bytes(_credential_json(answer.credential))
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", b"application/json")],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})


# Validate and revoke take the connection id in the path or, as the original endpoint list
# documents them, in the body (`{"connectionId": …}`); both forms call the same RPC.


@router.post("/connections/validate", responses=reply(pb.ValidateConnectionResponse.DESCRIPTOR))
async def validate_connection_by_body(body: ConnectionRefBody, rpc: Rpc) -> Response:
    """Check the connection's credential upstream and record the result (id in the body)."""
    return await validate_connection(body.connection_id, rpc)


@router.post("/connections/revoke", responses=reply(pb.RevokeConnectionResponse.DESCRIPTOR))
async def revoke_connection_by_body(body: ConnectionRefBody, rpc: Rpc) -> Response:
    """Revoke the credential upstream where supported and delete it (id in the body)."""
    return await revoke_connection(body.connection_id, rpc)


@router.post("/connections/{connection_id}/validate", responses=reply(pb.ValidateConnectionResponse.DESCRIPTOR))
async def validate_connection(connection_id: str, rpc: Rpc) -> Response:
    """Check the connection's credential upstream and record the result."""
    request = pb.ValidateConnectionRequest(connection_id=connection_id)
    return ok(await rpc(rpc.stubs.connections.ValidateConnection, request, upstream=True))


@router.post("/connections/{connection_id}/revoke", responses=reply(pb.RevokeConnectionResponse.DESCRIPTOR))
async def revoke_connection(connection_id: str, rpc: Rpc) -> Response:
    """Revoke the credential upstream where supported and delete it."""
    request = pb.RevokeConnectionRequest(connection_id=connection_id)
    return ok(await rpc(rpc.stubs.connections.RevokeConnection, request, upstream=True))


@router.get("/connections/{connection_id}/sync-state", responses=reply(pb.SyncState.DESCRIPTOR))
async def get_sync_state(connection_id: str, rpc: Rpc, stream: StreamQuery = "") -> Response:
    request = pb.GetSyncStateRequest(connection_id=connection_id, stream=stream)
    answer = await rpc(rpc.stubs.connections.GetSyncState, request)
    return ok(answer.state)


@router.post("/connections/{connection_id}/sync-state", responses=reply(pb.SyncState.DESCRIPTOR))
async def set_sync_state(connection_id: str, body: SyncStateBody, rpc: Rpc) -> Response:
    """Store a cursor; with `expectedVersion` it is a compare-and-swap (409 on a lost race)."""
    request = body.to_proto(pb.SetSyncStateRequest(), connection_id=connection_id)
    answer = await rpc(rpc.stubs.connections.SetSyncState, request)
    return ok(answer.state)


@router.get("/audit-logs", responses=reply_page(pb.AuditLog.DESCRIPTOR))
async def list_audit_logs(
    rpc: Rpc,
    connection_id: OptionalConnectionIdQuery = "",
    action: str = "",
    cursor: Cursor = "",
    limit: Limit = None,
) -> Response:
    request = pb.ListAuditLogsRequest(connection_id=connection_id, action=action, cursor=cursor, limit=limit or 0)
    return ok(await rpc(rpc.stubs.connections.ListAuditLogs, request))

"""Connection records, their credentials, sync cursors and the audit trail
(ConnectionService). `GET /connections/{id}/token` is the hot path of internal
callers: one dependency, one RPC, one serialisation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response
from ucf.connector.v1 import connections_pb2 as pb

from gateway.bodies import ConnectionBody, SyncStateBody, TokenBody
from gateway.deps import Cursor, Limit, OptionalConnectionIdQuery, Rpc
from gateway.envelope import ok
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


@router.post("/connections/{connection_id}/validate", responses=reply(pb.ValidateConnectionResponse.DESCRIPTOR))
async def validate_connection(connection_id: str, rpc: Rpc) -> Response:
    request = pb.ValidateConnectionRequest(connection_id=connection_id)
    return ok(await rpc(rpc.stubs.connections.ValidateConnection, request, upstream=True))


@router.post("/connections/{connection_id}/revoke", responses=reply(pb.RevokeConnectionResponse.DESCRIPTOR))
async def revoke_connection(connection_id: str, rpc: Rpc) -> Response:
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

"""`ucf.connector.v1.ConnectionService`: connection records, credentials
(through the vault), sync cursors and the audit trail, all scoped to the
caller's tenant."""

from __future__ import annotations

from typing import Any

import grpc
from ucf.connector.v1 import connections_pb2, connections_pb2_grpc, connectors_pb2
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.auth.interceptor import current_principal
from connector_service.catalog.providers import Catalog, ProviderSpec
from connector_service.connect.servicer import end_user_message
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.credentials import Credentials
from connector_service.connections.metadata import checked_user_metadata, checked_user_patch, merge_patch, system_keys
from connector_service.connections.model import Connection
from connector_service.connections.store import ConnectionStore, wrong_connector
from connector_service.connections.sync_states import SyncStateStore
from connector_service.connectors.auth import ApiKeyCredential, BasicCredential, FormCredential, OAuth2Credential
from connector_service.oauth.tokens import TokenSet
from connector_service.onboarding.flow import base_url
from connector_service.platform import wire

_AUTH_MODES = {
    "oauth2": connectors_pb2.AUTH_MODE_OAUTH2,
    "api_key": connectors_pb2.AUTH_MODE_API_KEY,
    "basic": connectors_pb2.AUTH_MODE_BASIC,
    "credentials": connectors_pb2.AUTH_MODE_CREDENTIALS,
}
_MAX_TOKEN = 16384


def auth_mode_enum(mode: str | None) -> connectors_pb2.AuthMode:
    return _AUTH_MODES.get(mode or "", connectors_pb2.AUTH_MODE_UNSPECIFIED)


async def connection_matching(
    connections: ConnectionStore, tenant_id: str, connection_id: str, connector_id: str
) -> Connection:
    """The tenant's connection (not_found for another tenant's), which must belong to
    `connector_id` (else conflict, naming the connector it belongs to)."""
    conn = await connections.get(tenant_id, connection_id)
    if connector_id and conn.connector_id != connector_id:
        raise wrong_connector(connection_id, conn.connector_id)
    return conn


def connection_message(conn: Connection) -> connections_pb2.Connection:
    return connections_pb2.Connection(
        id=conn.id,
        tenant_id=conn.tenant_id,
        workspace_id=conn.workspace_id,
        connector_id=conn.connector_id,
        name=conn.name,
        status=conn.status,
        auth_mode=auth_mode_enum(conn.auth_mode),
        credential_set=conn.has_credential,
        credential_expires_at=wire.timestamp(conn.credential_expires_at),
        scopes=conn.scopes,
        metadata=wire.struct(conn.metadata),
        system_metadata=wire.struct(conn.system_metadata),
        status_reason=conn.status_reason,
        last_validated_at=wire.timestamp(conn.last_validated_at),
        last_refreshed_at=wire.timestamp(conn.last_refreshed_at),
        created_at=wire.timestamp(conn.created_at),
        updated_at=wire.timestamp(conn.updated_at),
        end_user=end_user_message(conn.end_user),
        tags=conn.tags,
    )


def _token_set(message: connections_pb2.TokenSet, spec: ProviderSpec | None) -> TokenSet:
    """A client-supplied token set, with only the token-response facts its provider keeps."""
    if not message.access_token or len(message.access_token) > _MAX_TOKEN:
        raise invalid("token.accessToken is required", field="token.accessToken")
    facts = wire.from_struct(message.metadata) if message.HasField("metadata") else {}
    kept = set(spec.token_response_metadata if spec else ())
    for key, value in facts.items():
        if key not in kept:
            raise invalid(
                f"token.metadata.{key} is not a token-response field this provider keeps "
                f"({', '.join(sorted(kept)) or 'none'})",
                field=f"token.metadata.{key}",
            )
        if not isinstance(value, str) or len(value) > 2048:
            raise invalid(f"token.metadata.{key} must be a string", field=f"token.metadata.{key}")
        if key.endswith("_url"):
            facts[key] = base_url(f"token.metadata.{key}", value)
    return TokenSet(
        access_token=message.access_token,
        refresh_token=message.refresh_token or None,
        expires_at=wire.from_timestamp(message.expires_at, message.HasField("expires_at")),
        token_type=message.token_type or "Bearer",
        scope=message.scope or None,
        metadata=facts,
    )


def _sync_message(doc: dict[str, Any]) -> connections_pb2.SyncState:
    return connections_pb2.SyncState(
        connection_id=doc["connection_id"],
        stream=doc["stream"],
        cursor=wire.struct(doc.get("cursor")),
        version=doc["version"],
        updated_at=wire.timestamp(doc.get("updated_at")),
    )


class ConnectionServicer(connections_pb2_grpc.ConnectionServiceServicer):
    def __init__(
        self,
        *,
        catalog: Catalog,
        connections: ConnectionStore,
        credentials: Credentials,
        sync_states: SyncStateStore,
        audit_log: AuditLog,
    ):
        self._catalog = catalog
        self._connections = connections
        self._credentials = credentials
        self._sync = sync_states
        self._audit = audit_log

    async def ListConnections(
        self,
        request: connections_pb2.ListConnectionsRequest,
        context: grpc.aio.ServicerContext[
            connections_pb2.ListConnectionsRequest, connections_pb2.ListConnectionsResponse
        ],
    ) -> connections_pb2.ListConnectionsResponse:
        conns, nxt = await self._connections.list(
            current_principal().tenant_id,
            workspace_id=request.workspace_id,
            connector_id=request.connector_id,
            cursor=request.cursor,
            limit=request.limit,
        )
        return connections_pb2.ListConnectionsResponse(items=[connection_message(c) for c in conns], next=nxt)

    async def GetConnection(
        self,
        request: connections_pb2.GetConnectionRequest,
        context: grpc.aio.ServicerContext[connections_pb2.GetConnectionRequest, connections_pb2.GetConnectionResponse],
    ) -> connections_pb2.GetConnectionResponse:
        conn = await self._connections.get(current_principal().tenant_id, request.connection_id)
        return connections_pb2.GetConnectionResponse(connection=connection_message(conn))

    async def UpsertConnection(
        self,
        request: connections_pb2.UpsertConnectionRequest,
        context: grpc.aio.ServicerContext[
            connections_pb2.UpsertConnectionRequest, connections_pb2.UpsertConnectionResponse
        ],
    ) -> connections_pb2.UpsertConnectionResponse:
        tenant = current_principal().tenant_id
        patch = wire.from_struct(request.metadata) if request.HasField("metadata") else None
        if request.connection_id:
            conn, created = await self._connections.get(tenant, request.connection_id), False
            if request.connector_id and request.connector_id != conn.connector_id:
                raise invalid("a connection's connector cannot change", field="connectorId")
            spec = self._catalog.get(conn.connector_id)
        else:
            spec = self._credentials.provider(request.connector_id)
        if patch is not None:
            patch = checked_user_patch(patch, system_keys(spec))
        if not request.connection_id:
            conn, created = await self._connections.ensure(
                tenant,
                request.connector_id,
                request.workspace_id,
                # the provider found above (`spec` is typed for the stored connection's lookup)
                auth_mode=self._credentials.provider(request.connector_id).auth_mode,
                name=request.name,
                metadata=checked_user_metadata(merge_patch({}, patch)) if patch else None,
            )
        changed: list[str] = []
        if not created:
            conn, changed = await self._connections.patch_user(tenant, conn.id, name=request.name, patch=patch)
        if created or changed:
            action = audit.CONNECTION_CREATED if created else audit.CONNECTION_UPDATED
            await self._audit.record(
                tenant, action, "success", connection_id=conn.id, connector_id=conn.connector_id, fields=changed
            )
        return connections_pb2.UpsertConnectionResponse(connection=connection_message(conn), created=created)

    async def DeleteConnection(
        self,
        request: connections_pb2.DeleteConnectionRequest,
        context: grpc.aio.ServicerContext[
            connections_pb2.DeleteConnectionRequest, connections_pb2.DeleteConnectionResponse
        ],
    ) -> connections_pb2.DeleteConnectionResponse:
        tenant = current_principal().tenant_id
        conn = await self._connections.get(tenant, request.connection_id)
        await self._credentials.delete_all(tenant, conn)
        await self._sync.delete_for(tenant, conn.id)
        await self._connections.delete(tenant, conn.id)
        await self._audit.record(
            tenant, audit.CONNECTION_DELETED, "success", connection_id=conn.id, connector_id=conn.connector_id
        )
        return connections_pb2.DeleteConnectionResponse(connection_id=conn.id)

    async def StoreToken(
        self,
        request: connections_pb2.StoreTokenRequest,
        context: grpc.aio.ServicerContext[connections_pb2.StoreTokenRequest, connections_pb2.StoreTokenResponse],
    ) -> connections_pb2.StoreTokenResponse:
        tenant = current_principal().tenant_id
        if request.connection_id:
            conn = await self._connections.get(tenant, request.connection_id)
        else:
            spec = self._credentials.provider(request.connector_id)
            conn, created = await self._connections.ensure(
                tenant, request.connector_id, request.workspace_id, auth_mode=spec.auth_mode
            )
            if created:
                await self._audit.record(
                    tenant,
                    audit.CONNECTION_CREATED,
                    "success",
                    connection_id=conn.id,
                    connector_id=conn.connector_id,
                )
        which = request.WhichOneof("token")
        if which == "token_string":
            token = request.token_string
            if not token or len(token) > _MAX_TOKEN:
                raise invalid("token must be a non-empty string", field="token")
            kind = "oauth2" if conn.auth_mode == "oauth2" else "api_key"
            payload = {"accessToken": token, "tokenType": "Bearer"} if kind == "oauth2" else {"apiKey": token}
            expires_at, scopes = None, list[str]()
        elif which == "token_set":
            tokens = _token_set(request.token_set, self._catalog.get(conn.connector_id))
            facts = await self._credentials.discover(self._credentials.provider(conn.connector_id), tokens)
            conn = await self._credentials.store_tokens(tenant, conn, tokens, facts)
            return connections_pb2.StoreTokenResponse(connection=connection_message(conn))
        else:
            raise invalid("token is required (a string or a token set)", field="token")
        conn = await self._credentials.store(tenant, conn, kind, payload, expires_at=expires_at, scopes=scopes)
        return connections_pb2.StoreTokenResponse(connection=connection_message(conn))

    async def GetToken(
        self,
        request: connections_pb2.GetTokenRequest,
        context: grpc.aio.ServicerContext[connections_pb2.GetTokenRequest, connections_pb2.GetTokenResponse],
    ) -> connections_pb2.GetTokenResponse:
        tenant = current_principal().tenant_id
        try:
            credential = await self._credentials.read(
                tenant, request.connection_id, force_refresh=request.force_refresh, action=audit.CREDENTIAL_EXPORTED
            )
        except UcfError as err:
            if err.code is ErrorCode.NOT_FOUND:  # another tenant's or a made-up connection id
                await self._audit.record_denial(
                    tenant, audit.CREDENTIAL_EXPORTED, connection_id=request.connection_id[:100], reason="not_found"
                )
            raise
        typed = credential.credential
        if isinstance(typed, OAuth2Credential):  # the hot path: one constructor call
            tokens = typed.tokens
            return connections_pb2.GetTokenResponse(
                credential=connections_pb2.Credential(
                    connection_id=request.connection_id,
                    kind="oauth2",
                    refreshed=credential.refreshed,
                    access_token=tokens.access_token,
                    token_type=tokens.token_type,
                    scope=tokens.scope or "",
                    expires_at=wire.timestamp(tokens.expires_at) if tokens.expires_at else None,
                )
            )
        message = connections_pb2.Credential(
            connection_id=request.connection_id, kind=typed.kind, refreshed=credential.refreshed
        )
        match typed:
            case ApiKeyCredential():
                message.access_token = typed.api_key
                if typed.api_secret:
                    message.fields.CopyFrom(wire.struct({"apiSecret": typed.api_secret}))
            case BasicCredential() | FormCredential():
                message.fields.CopyFrom(wire.struct(dict(typed.fields)))
        return connections_pb2.GetTokenResponse(credential=message)

    async def ValidateConnection(
        self,
        request: connections_pb2.ValidateConnectionRequest,
        context: grpc.aio.ServicerContext[
            connections_pb2.ValidateConnectionRequest, connections_pb2.ValidateConnectionResponse
        ],
    ) -> connections_pb2.ValidateConnectionResponse:
        verdict, conn = await self._credentials.validate(current_principal().tenant_id, request.connection_id)
        return connections_pb2.ValidateConnectionResponse(
            connection_id=conn.id,
            valid=verdict.valid,
            status=conn.status,
            message=verdict.message,
            validated_at=wire.timestamp(conn.last_validated_at),
        )

    async def RevokeConnection(
        self,
        request: connections_pb2.RevokeConnectionRequest,
        context: grpc.aio.ServicerContext[
            connections_pb2.RevokeConnectionRequest, connections_pb2.RevokeConnectionResponse
        ],
    ) -> connections_pb2.RevokeConnectionResponse:
        upstream, conn = await self._credentials.revoke(current_principal().tenant_id, request.connection_id)
        return connections_pb2.RevokeConnectionResponse(
            connection_id=conn.id, status=conn.status, revoked_upstream=upstream
        )

    async def GetSyncState(
        self,
        request: connections_pb2.GetSyncStateRequest,
        context: grpc.aio.ServicerContext[connections_pb2.GetSyncStateRequest, connections_pb2.GetSyncStateResponse],
    ) -> connections_pb2.GetSyncStateResponse:
        tenant = current_principal().tenant_id
        await self._connections.get(tenant, request.connection_id)
        state = await self._sync.get(tenant, request.connection_id, request.stream)
        return connections_pb2.GetSyncStateResponse(state=_sync_message(state))

    async def SetSyncState(
        self,
        request: connections_pb2.SetSyncStateRequest,
        context: grpc.aio.ServicerContext[connections_pb2.SetSyncStateRequest, connections_pb2.SetSyncStateResponse],
    ) -> connections_pb2.SetSyncStateResponse:
        tenant = current_principal().tenant_id
        conn = await self._connections.get(tenant, request.connection_id)
        expected = request.expected_version if request.HasField("expected_version") else None
        state = await self._sync.set(
            tenant, request.connection_id, request.stream, wire.from_struct(request.cursor), expected
        )
        await self._audit.record(
            tenant,
            audit.SYNC_STATE_WRITTEN,
            audit.SUCCESS,
            connection_id=request.connection_id,
            connector_id=conn.connector_id,
            stream=state["stream"],
            version=state["version"],
        )
        return connections_pb2.SetSyncStateResponse(state=_sync_message(state))

    async def ListAuditLogs(
        self,
        request: connections_pb2.ListAuditLogsRequest,
        context: grpc.aio.ServicerContext[connections_pb2.ListAuditLogsRequest, connections_pb2.ListAuditLogsResponse],
    ) -> connections_pb2.ListAuditLogsResponse:
        docs, nxt = await self._audit.list(
            current_principal().tenant_id,
            connection_id=request.connection_id,
            action=request.action,
            cursor=request.cursor,
            limit=request.limit,
        )
        return connections_pb2.ListAuditLogsResponse(
            items=[
                connections_pb2.AuditLog(
                    id=d["_id"],
                    tenant_id=d["tenant_id"],
                    action=d["action"],
                    outcome=d["outcome"],
                    actor=d["actor"],
                    request_id=d.get("request_id", ""),
                    connection_id=d.get("connection_id", ""),
                    connector_id=d.get("connector_id", ""),
                    details=wire.struct(d.get("details")),
                    created_at=wire.timestamp(d.get("created_at")),
                )
                for d in docs
            ],
            next=nxt,
        )

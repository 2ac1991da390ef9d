"""`ucf.connector.v1.ConnectorService`: the catalog merged with the caller
tenant's settings, connector settings updates, and onboarding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from ucf.connector.v1 import connectors_pb2, connectors_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.auth.interceptor import current_principal
from connector_service.catalog.providers import Catalog, ProviderSpec
from connector_service.catalog.settings import (
    ConnectorSettings,
    ConnectorSettingsStore,
    check_redirect_uri,
    check_scopes,
)
from connector_service.connect.sessions import labels as session_labels
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.credentials import Credentials
from connector_service.connections.servicer import auth_mode_enum, connection_matching
from connector_service.connections.store import ConnectionStore
from connector_service.onboarding.flow import CallbackInput, Onboarding
from connector_service.onboarding.probing import Prober
from connector_service.platform import wire
from connector_service.vault import kinds
from connector_service.vault.port import VaultPort

_MAX_SECRET = 4096
#: Capabilities that mean "this connector has normalized resources", not just auth and the proxy.
_NORMALIZED = frozenset({"containers", "items", "comments"})


def _connector(
    connector_id: str, spec: ProviderSpec, settings: ConnectorSettings, capabilities: list[str]
) -> connectors_pb2.Connector:
    mode_fields = [f for mode in spec.auth_modes if mode != "oauth2" for f in spec.form_fields(mode)]
    return connectors_pb2.Connector(
        id=connector_id,
        display_name=spec.display_name,
        auth_modes=[auth_mode_enum(m) for m in spec.auth_modes],
        capabilities=capabilities,
        enabled=settings.enabled,
        extra_details=settings.extra_details,
        oauth=connectors_pb2.OAuthSettings(
            client_id=settings.client_id,
            client_secret_set=settings.client_secret_set,
            scopes=settings.scopes,
            redirect_uri=settings.redirect_uri,
        ),
        default_scopes=spec.default_scopes,
        pkce=spec.pkce,
        credential_fields=[
            connectors_pb2.CredentialField(
                name=f.name, label=f.label, type=f.type, required=f.required, secret=f.secret, description=f.description
            )
            for f in {f.name: f for f in mode_fields}.values()
        ],
        base_url=spec.base_url or "",
        updated_at=wire.timestamp(settings.updated_at),
        normalized=bool(_NORMALIZED & set(capabilities)),
        docs_url=spec.docs_url or "",
        connect_params=[
            connectors_pb2.CredentialField(
                name=p.name,
                label=p.label,
                type=p.type,
                required=p.required and not p.default,
                description=p.description,
                default_value=p.default or "",
            )
            for p in spec.connect_params
        ],
    )


class ConnectorServicer(connectors_pb2_grpc.ConnectorServiceServicer):
    def __init__(
        self,
        *,
        catalog: Catalog,
        settings: ConnectorSettingsStore,
        connections: ConnectionStore,
        credentials: Credentials,
        onboarding: Onboarding,
        vault: VaultPort,
        audit_log: AuditLog,
        capabilities: Callable[[str], list[str]] | None = None,
        prober: Prober | None = None,
    ):
        self._catalog = catalog
        self._settings = settings
        self._connections = connections
        self._credentials = credentials
        self._onboarding = onboarding
        self._vault = vault
        self._audit = audit_log
        self._capabilities = capabilities or (lambda connector_id: [])
        self._prober = prober

    def _spec(self, connector_id: str) -> ProviderSpec:
        spec = self._catalog.get(connector_id)
        if spec is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"connector {connector_id!r} not found")
        return spec

    async def ListConnectors(
        self,
        request: connectors_pb2.ListConnectorsRequest,
        context: grpc.aio.ServicerContext[connectors_pb2.ListConnectorsRequest, connectors_pb2.ListConnectorsResponse],
    ) -> connectors_pb2.ListConnectorsResponse:
        principal = current_principal()
        settings = await self._settings.all(principal.tenant_id)
        items = [
            _connector(cid, spec, settings.get(cid, ConnectorSettings()), self._capabilities(cid))
            for cid, spec in self._catalog.items()
        ]
        if principal.session is not None:  # the Connect page: the session's enabled connectors only
            items = [c for c in items if c.enabled and principal.session.allows_connector(c.id)]
        return connectors_pb2.ListConnectorsResponse(items=items)

    async def GetConnector(
        self,
        request: connectors_pb2.GetConnectorRequest,
        context: grpc.aio.ServicerContext[connectors_pb2.GetConnectorRequest, connectors_pb2.GetConnectorResponse],
    ) -> connectors_pb2.GetConnectorResponse:
        spec = self._spec(request.connector_id)
        settings = await self._settings.get(current_principal().tenant_id, request.connector_id)
        return connectors_pb2.GetConnectorResponse(
            connector=_connector(request.connector_id, spec, settings, self._capabilities(request.connector_id))
        )

    async def UpdateConnector(
        self,
        request: connectors_pb2.UpdateConnectorRequest,
        context: grpc.aio.ServicerContext[
            connectors_pb2.UpdateConnectorRequest, connectors_pb2.UpdateConnectorResponse
        ],
    ) -> connectors_pb2.UpdateConnectorResponse:
        tenant, cid = current_principal().tenant_id, request.connector_id
        spec = self._spec(cid)
        changes: dict[str, Any] = {}
        if request.HasField("enabled"):
            changes["enabled"] = request.enabled
        if request.HasField("extra_details"):
            changes["extra_details"] = request.extra_details
        if request.HasField("oauth"):
            oauth = request.oauth
            if "oauth2" not in spec.auth_modes and (oauth.client_id or oauth.client_secret):
                raise invalid(f"connector {cid!r} does not use OAuth2", field="oauth")
            if oauth.client_id:
                changes["oauth.client_id"] = oauth.client_id
            if oauth.scopes:
                changes["oauth.scopes"] = check_scopes(list(oauth.scopes))
            if oauth.redirect_uri:
                changes["oauth.redirect_uri"] = check_redirect_uri(oauth.redirect_uri, "oauth.redirectUri")
            if oauth.client_secret:
                if len(oauth.client_secret) > _MAX_SECRET:
                    raise invalid("oauth.clientSecret is too long", field="oauth.clientSecret")
                await self._vault.put(tenant, cid, kinds.CLIENT_SECRET, {"clientSecret": oauth.client_secret})
                changes["oauth.client_secret_set"] = True
        settings = await self._settings.update(tenant, cid, changes)
        await self._audit.record(
            tenant,
            audit.CONNECTOR_UPDATED,
            "success",
            connector_id=cid,
            fields=sorted(k.replace("client_secret_set", "client_secret") for k in changes),
        )
        return connectors_pb2.UpdateConnectorResponse(
            connector=_connector(cid, spec, settings, self._capabilities(cid))
        )

    async def ProbeConnector(
        self,
        request: connectors_pb2.ProbeConnectorRequest,
        context: grpc.aio.ServicerContext[connectors_pb2.ProbeConnectorRequest, connectors_pb2.ProbeConnectorResponse],
    ) -> connectors_pb2.ProbeConnectorResponse:
        self._spec(request.connector_id)
        if self._prober is None:
            raise UcfError(ErrorCode.UNIMPLEMENTED, "this process runs without resource connectors")
        return await self._prober.probe(current_principal().tenant_id, request)

    async def Connect(
        self,
        request: connectors_pb2.ConnectRequest,
        context: grpc.aio.ServicerContext[connectors_pb2.ConnectRequest, connectors_pb2.ConnectResponse],
    ) -> connectors_pb2.ConnectResponse:
        self._spec(request.connector_id)
        method, url, state, expires_at, fields = await self._onboarding.connect(
            current_principal().tenant_id,
            request.connector_id,
            workspace_id=request.workspace_id,
            method=request.method,
            redirect_uri=request.redirect_uri,
            scopes=list(request.scopes),
            return_url=request.return_url,
            labels=session_labels(current_principal().session),
            connect_params=dict(request.connect_params),
        )
        return connectors_pb2.ConnectResponse(
            method=method,
            auth_url=url,
            state=state,
            expires_at=wire.timestamp(expires_at),
            fields=[
                connectors_pb2.CredentialField(
                    name=f.name,
                    label=f.label,
                    type=f.type,
                    required=f.required,
                    secret=f.secret,
                    description=f.description,
                )
                for f in fields
            ],
        )

    async def ConnectCallback(
        self,
        request: connectors_pb2.ConnectCallbackRequest,
        context: grpc.aio.ServicerContext[
            connectors_pb2.ConnectCallbackRequest, connectors_pb2.ConnectCallbackResponse
        ],
    ) -> connectors_pb2.ConnectCallbackResponse:
        self._spec(request.connector_id)
        data = CallbackInput(
            connector_id=request.connector_id,
            workspace_id=request.workspace_id,
            method=request.method,
            code=request.code,
            state=request.state,
            iss=request.iss,
            error=request.error,
            error_description=request.error_description,
            api_key=request.api_key,
            api_secret=request.api_secret,
            credentials=wire.from_struct(request.credentials) if request.HasField("credentials") else None,
            name=request.name,
            labels=session_labels(current_principal().session),
            connect_params=dict(request.connect_params),
        )
        conn, return_url = await self._onboarding.callback(current_principal().tenant_id, data)
        return connectors_pb2.ConnectCallbackResponse(connection_id=conn.id, status=conn.status, return_url=return_url)

    async def CompleteOAuthRedirect(
        self,
        request: connectors_pb2.CompleteOAuthRedirectRequest,
        context: grpc.aio.ServicerContext[
            connectors_pb2.CompleteOAuthRedirectRequest, connectors_pb2.CompleteOAuthRedirectResponse
        ],
    ) -> connectors_pb2.CompleteOAuthRedirectResponse:
        data = CallbackInput(
            connector_id="",
            code=request.code,
            state=request.state,
            iss=request.iss,
            error=request.error,
            error_description=request.error_description,
        )
        conn, return_url = await self._onboarding.complete_redirect(data)
        return connectors_pb2.CompleteOAuthRedirectResponse(
            connection_id=conn.id, status=conn.status, return_url=return_url, connector_id=conn.connector_id
        )

    async def ValidateConnector(
        self,
        request: connectors_pb2.ValidateConnectorRequest,
        context: grpc.aio.ServicerContext[
            connectors_pb2.ValidateConnectorRequest, connectors_pb2.ValidateConnectorResponse
        ],
    ) -> connectors_pb2.ValidateConnectorResponse:
        tenant = current_principal().tenant_id
        await connection_matching(self._connections, tenant, request.connection_id, request.connector_id)
        verdict, conn = await self._credentials.validate(tenant, request.connection_id)
        return connectors_pb2.ValidateConnectorResponse(
            connection_id=conn.id,
            valid=verdict.valid,
            status=conn.status,
            message=verdict.message,
            validated_at=wire.timestamp(conn.last_validated_at),
        )

    async def RevokeConnector(
        self,
        request: connectors_pb2.RevokeConnectorRequest,
        context: grpc.aio.ServicerContext[
            connectors_pb2.RevokeConnectorRequest, connectors_pb2.RevokeConnectorResponse
        ],
    ) -> connectors_pb2.RevokeConnectorResponse:
        tenant = current_principal().tenant_id
        await connection_matching(self._connections, tenant, request.connection_id, request.connector_id)
        upstream, conn = await self._credentials.revoke(tenant, request.connection_id)
        return connectors_pb2.RevokeConnectorResponse(
            connection_id=conn.id, status=conn.status, revoked_upstream=upstream
        )

"""`ucf.connector.v1.ConnectSessionService`: creating connect sessions (API key with
`connect:write`), the session's own view for the hosted page (session token), and the
tenant settings the page is branded with."""

from __future__ import annotations

import grpc
from ucf.connector.v1 import connect_pb2, connect_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.auth.interceptor import current_principal
from connector_service.catalog.providers import Catalog
from connector_service.connect.sessions import ConnectSession, ConnectSessionStore, check_end_user, check_tags
from connector_service.connect.tenant_settings import TenantSettings, TenantSettingsStore, origin_of
from connector_service.connections.audit import AuditLog
from connector_service.platform import wire

CONNECT_SESSION_CREATED = "connect_session.created"
TENANT_SETTINGS_UPDATED = "tenant_settings.updated"


def end_user_message(end_user: dict[str, str] | None) -> connect_pb2.EndUser | None:
    if not end_user:
        return None
    return connect_pb2.EndUser(
        id=end_user.get("id", ""), email=end_user.get("email", ""), display_name=end_user.get("displayName", "")
    )


def settings_message(settings: TenantSettings) -> connect_pb2.TenantSettings:
    return connect_pb2.TenantSettings(
        name=settings.name,
        logo_url=settings.logo_url,
        primary_color=settings.primary_color,
        allowed_return_origins=list(settings.allowed_return_origins),
        updated_at=wire.timestamp(settings.updated_at),
    )


def session_message(session: ConnectSession) -> connect_pb2.ConnectSession:
    return connect_pb2.ConnectSession(
        id=session.id,
        tenant_id=session.tenant_id,
        workspace_id=session.workspace_id,
        allowed_connectors=list(session.allowed_connectors),
        end_user=end_user_message(session.end_user),
        return_url=session.return_url,
        tags=session.tags,
        expires_at=wire.timestamp(session.expires_at),
    )


class ConnectSessionServicer(connect_pb2_grpc.ConnectSessionServiceServicer):
    def __init__(
        self,
        *,
        sessions: ConnectSessionStore,
        tenant_settings: TenantSettingsStore,
        catalog: Catalog,
        audit_log: AuditLog,
        public_url: str,
    ):
        self._sessions = sessions
        self._tenants = tenant_settings
        self._catalog = catalog
        self._audit = audit_log
        self._page_url = public_url.rstrip("/") + "/connect"

    async def CreateConnectSession(
        self,
        request: connect_pb2.CreateConnectSessionRequest,
        context: grpc.aio.ServicerContext[
            connect_pb2.CreateConnectSessionRequest, connect_pb2.CreateConnectSessionResponse
        ],
    ) -> connect_pb2.CreateConnectSessionResponse:
        principal = current_principal()
        tenant = principal.tenant_id
        workspace = request.workspace_id
        if not workspace or len(workspace) > 128 or not workspace.isprintable():
            raise invalid("workspaceId is required (1-128 printable characters)", field="workspaceId")
        allowed = list(dict.fromkeys(request.allowed_connectors))
        unknown = [c for c in allowed if self._catalog.get(c) is None]
        if unknown:
            raise invalid(f"unknown connectors: {', '.join(unknown)}", field="allowedConnectors")
        end_user = check_end_user(
            {
                "id": request.end_user.id,
                "email": request.end_user.email,
                "displayName": request.end_user.display_name,
            }
        )
        tags = check_tags(dict(request.tags))
        if request.return_url:
            origin = origin_of(request.return_url, "returnUrl")
            if origin not in (await self._tenants.get(tenant)).allowed_return_origins:
                raise invalid(
                    f"returnUrl's origin {origin} is not one of the tenant's allowedReturnOrigins "
                    "(PATCH /api/tenant-settings)",
                    field="returnUrl",
                )
        token, session = await self._sessions.create(
            tenant,
            workspace_id=workspace,
            allowed_connectors=allowed,
            end_user=end_user,
            tags=tags,
            return_url=request.return_url,
            created_by=principal.key_id,
        )
        await self._audit.record(
            tenant,
            CONNECT_SESSION_CREATED,
            "success",
            session_id=session.id,
            workspace_id=workspace,
            allowed_connectors=allowed,
            end_user_id=end_user.get("id", ""),
        )
        return connect_pb2.CreateConnectSessionResponse(
            token=token, url=f"{self._page_url}?session={token}", expires_at=wire.timestamp(session.expires_at)
        )

    async def GetConnectSession(
        self,
        request: connect_pb2.GetConnectSessionRequest,
        context: grpc.aio.ServicerContext[connect_pb2.GetConnectSessionRequest, connect_pb2.GetConnectSessionResponse],
    ) -> connect_pb2.GetConnectSessionResponse:
        session = current_principal().session
        if not isinstance(session, ConnectSession):
            raise UcfError(ErrorCode.FORBIDDEN, "this operation needs a connect session token")
        settings = await self._tenants.get(session.tenant_id)
        return connect_pb2.GetConnectSessionResponse(
            session=session_message(session),
            tenant=settings_message(settings),
            embed_origin_allowed=bool(request.embed_origin)
            and request.embed_origin.lower() in settings.allowed_return_origins,
        )

    async def GetTenantSettings(
        self,
        request: connect_pb2.GetTenantSettingsRequest,
        context: grpc.aio.ServicerContext[connect_pb2.GetTenantSettingsRequest, connect_pb2.GetTenantSettingsResponse],
    ) -> connect_pb2.GetTenantSettingsResponse:
        settings = await self._tenants.get(current_principal().tenant_id)
        return connect_pb2.GetTenantSettingsResponse(settings=settings_message(settings))

    async def UpdateTenantSettings(
        self,
        request: connect_pb2.UpdateTenantSettingsRequest,
        context: grpc.aio.ServicerContext[
            connect_pb2.UpdateTenantSettingsRequest, connect_pb2.UpdateTenantSettingsResponse
        ],
    ) -> connect_pb2.UpdateTenantSettingsResponse:
        tenant = current_principal().tenant_id
        changes = TenantSettingsStore.checked(
            request.name if request.HasField("name") else None,
            request.logo_url if request.HasField("logo_url") else None,
            request.primary_color if request.HasField("primary_color") else None,
            list(request.allowed_return_origins) if request.set_allowed_return_origins else None,
        )
        settings = await self._tenants.update(tenant, changes)
        await self._audit.record(tenant, TENANT_SETTINGS_UPDATED, "success", fields=sorted(changes))
        return connect_pb2.UpdateTenantSettingsResponse(settings=settings_message(settings))

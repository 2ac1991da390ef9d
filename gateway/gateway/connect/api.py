"""Connect sessions, tenant settings and event endpoints (API key with `connect:write`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response
from ucf.connector.v1 import connect_pb2, events_pb2

from gateway.bodies import Body
from gateway.deps import Rpc
from gateway.envelope import ok
from gateway.schemas import reply

router = APIRouter(tags=["connect"])


class EndUserBody(Body):
    id: str
    email: str | None = None
    display_name: str | None = None


class ConnectSessionBody(Body):
    workspace_id: str
    allowed_connectors: list[str] | None = Field(None, description="Connector ids; every enabled one when absent.")
    end_user: EndUserBody | None = None
    return_url: str | None = Field(None, description="Must have one of the tenant's allowedReturnOrigins.")
    tags: dict[str, str] | None = None


class TenantSettingsBody(Body):
    name: str | None = None
    logo_url: str | None = None
    primary_color: str | None = Field(None, description="Hex color such as #1e5aa8.")
    allowed_return_origins: list[str] | None = None

    def proto_json(self) -> dict[str, Any]:
        data = super().proto_json()
        if self.allowed_return_origins is not None:
            data["setAllowedReturnOrigins"] = True
        return data


class EventEndpointBody(Body):
    url: str
    events: list[str] | None = Field(None, description="Event types; every type when absent.")


@router.post(
    "/connect-sessions",
    status_code=201,
    responses=reply(connect_pb2.CreateConnectSessionResponse.DESCRIPTOR, 201, "Created; the token is shown once"),
)
async def create_connect_session(body: ConnectSessionBody, rpc: Rpc) -> Response:
    """A short-lived token and the hosted Connect page's URL for one end user and workspace."""
    request = body.to_proto(connect_pb2.CreateConnectSessionRequest())
    return ok(await rpc(rpc.stubs.connect_sessions.CreateConnectSession, request), status_code=201)


@router.get("/tenant-settings", responses=reply(connect_pb2.TenantSettings.DESCRIPTOR))
async def get_tenant_settings(rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.connect_sessions.GetTenantSettings, connect_pb2.GetTenantSettingsRequest())
    return ok(answer.settings)


@router.patch("/tenant-settings", responses=reply(connect_pb2.TenantSettings.DESCRIPTOR))
async def update_tenant_settings(body: TenantSettingsBody, rpc: Rpc) -> Response:
    """Connect page branding and the origins a returnUrl may have; absent fields stay."""
    request = body.to_proto(connect_pb2.UpdateTenantSettingsRequest())
    answer = await rpc(rpc.stubs.connect_sessions.UpdateTenantSettings, request)
    return ok(answer.settings)


@router.post(
    "/event-endpoints",
    status_code=201,
    responses=reply(events_pb2.CreateEventEndpointResponse.DESCRIPTOR, 201, "Created; the secret is shown once"),
)
async def create_event_endpoint(body: EventEndpointBody, rpc: Rpc) -> Response:
    """A receiver of lifecycle events, signed per Standard Webhooks with the returned whsec_ secret."""
    request = body.to_proto(events_pb2.CreateEventEndpointRequest())
    return ok(await rpc(rpc.stubs.event_endpoints.CreateEventEndpoint, request), status_code=201)


@router.get("/event-endpoints", responses=reply(events_pb2.ListEventEndpointsResponse.DESCRIPTOR))
async def list_event_endpoints(rpc: Rpc) -> Response:
    return ok(await rpc(rpc.stubs.event_endpoints.ListEventEndpoints, events_pb2.ListEventEndpointsRequest()))


@router.delete("/event-endpoints/{endpoint_id}", responses=reply(events_pb2.DeleteEventEndpointResponse.DESCRIPTOR))
async def delete_event_endpoint(endpoint_id: str, rpc: Rpc) -> Response:
    request = events_pb2.DeleteEventEndpointRequest(id=endpoint_id)
    return ok(await rpc(rpc.stubs.event_endpoints.DeleteEventEndpoint, request))


@router.post(
    "/event-endpoints/{endpoint_id}/rotate-secret",
    responses=reply(events_pb2.RotateEventEndpointSecretResponse.DESCRIPTOR),
)
async def rotate_event_endpoint_secret(endpoint_id: str, rpc: Rpc) -> Response:
    """A new signing secret, shown once; the old one stops signing at once."""
    request = events_pb2.RotateEventEndpointSecretRequest(id=endpoint_id)
    return ok(await rpc(rpc.stubs.event_endpoints.RotateEventEndpointSecret, request))

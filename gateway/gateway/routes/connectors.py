"""Connector catalog, per-tenant connector settings and onboarding
(ConnectorService). Onboarding, probe, validate and revoke may call the
provider, so they get the upstream deadline.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response
from ucf.connector.v1 import connectors_pb2 as pb

from gateway.bodies import (
    ConnectBody,
    ConnectCallbackBody,
    ConnectionRefBody,
    ConnectorSettingsBody,
    ProbeBody,
)
from gateway.deps import Rpc
from gateway.envelope import ok
from gateway.schemas import reply, reply_page

router = APIRouter(prefix="/connectors", tags=["connectors"])


@router.get("", responses=reply_page(pb.Connector.DESCRIPTOR))
async def list_connectors(rpc: Rpc) -> Response:
    """The catalog merged with the caller tenant's settings."""
    answer = await rpc(rpc.stubs.connectors.ListConnectors, pb.ListConnectorsRequest())
    return ok(answer)


@router.get("/{connector_id}", responses=reply(pb.Connector.DESCRIPTOR))
async def get_connector(connector_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.connectors.GetConnector, pb.GetConnectorRequest(connector_id=connector_id))
    return ok(answer.connector)


@router.patch("/{connector_id}", responses=reply(pb.Connector.DESCRIPTOR))
async def update_connector(connector_id: str, body: ConnectorSettingsBody, rpc: Rpc) -> Response:
    """Change the tenant's settings; an OAuth client secret goes to the vault and is never returned."""
    request = body.to_proto(pb.UpdateConnectorRequest(), connector_id=connector_id)
    answer = await rpc(rpc.stubs.connectors.UpdateConnector, request)
    return ok(answer.connector)


@router.post("/{connector_id}/probe", responses=reply(pb.ProbeConnectorResponse.DESCRIPTOR))
async def probe_connector(connector_id: str, body: ProbeBody, rpc: Rpc) -> Response:
    """Capabilities and instance facts (site, version, user, granted scopes)."""
    request = body.to_proto(pb.ProbeConnectorRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.connectors.ProbeConnector, request, upstream=True))


@router.post("/{connector_id}/connect", responses=reply(pb.ConnectResponse.DESCRIPTOR))
async def connect(connector_id: str, body: ConnectBody, rpc: Rpc) -> Response:
    """Start onboarding: an authorization URL (OAuth2 + PKCE) or the form fields of other modes."""
    request = body.to_proto(pb.ConnectRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.connectors.Connect, request))


@router.post("/{connector_id}/connect/callback", responses=reply(pb.ConnectCallbackResponse.DESCRIPTOR))
async def connect_callback(connector_id: str, body: ConnectCallbackBody, rpc: Rpc) -> Response:
    """Finish onboarding: exchange the code (or verify the credentials) and store them in the vault."""
    request = body.to_proto(pb.ConnectCallbackRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.connectors.ConnectCallback, request, upstream=True))


@router.post("/{connector_id}/validate", responses=reply(pb.ValidateConnectorResponse.DESCRIPTOR))
async def validate_connector(connector_id: str, body: ConnectionRefBody, rpc: Rpc) -> Response:
    """Check the connection's credential upstream and record the result."""
    request = body.to_proto(pb.ValidateConnectorRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.connectors.ValidateConnector, request, upstream=True))


@router.post("/{connector_id}/revoke", responses=reply(pb.RevokeConnectorResponse.DESCRIPTOR))
async def revoke_connector(connector_id: str, body: ConnectionRefBody, rpc: Rpc) -> Response:
    """Revoke upstream (RFC 7009 where supported) and delete the secret."""
    request = body.to_proto(pb.RevokeConnectorRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.connectors.RevokeConnector, request, upstream=True))

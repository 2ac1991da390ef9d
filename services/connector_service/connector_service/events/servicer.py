"""`ucf.connector.v1.EventEndpointService`: the tenant's lifecycle-event receivers."""

from __future__ import annotations

from typing import Any

import grpc
from ucf.connector.v1 import events_pb2, events_pb2_grpc

from connector_service.auth.interceptor import current_principal
from connector_service.connections.audit import AuditLog
from connector_service.events.store import EventEndpointStore
from connector_service.platform import wire
from connector_service.webhooks import signing
from connector_service.webhooks.store import SECRET_KIND


def endpoint_message(doc: dict[str, Any]) -> events_pb2.EventEndpoint:
    return events_pb2.EventEndpoint(
        id=doc["_id"], url=doc["url"], events=doc["events"], created_at=wire.timestamp(doc.get("created_at"))
    )


class EventEndpointServicer(events_pb2_grpc.EventEndpointServiceServicer):
    def __init__(self, *, endpoints: EventEndpointStore, vault: Any, audit_log: AuditLog):
        self._endpoints, self._vault, self._audit = endpoints, vault, audit_log

    async def _new_secret(self, tenant_id: str, endpoint_id: str) -> str:
        secret = signing.new_secret()
        await self._vault.put(tenant_id, endpoint_id, SECRET_KIND, {"callbackSecret": secret})
        return secret

    async def CreateEventEndpoint(
        self,
        request: events_pb2.CreateEventEndpointRequest,
        context: grpc.aio.ServicerContext[
            events_pb2.CreateEventEndpointRequest, events_pb2.CreateEventEndpointResponse
        ],
    ) -> events_pb2.CreateEventEndpointResponse:
        tenant = current_principal().tenant_id
        doc = await self._endpoints.add(tenant, request.url, list(request.events))
        try:
            secret = await self._new_secret(tenant, doc["_id"])
        except BaseException:
            await self._endpoints.remove(tenant, doc["_id"])
            raise
        await self._audit.record(
            tenant, "event_endpoint.created", "success", endpoint_id=doc["_id"], events=doc["events"]
        )
        return events_pb2.CreateEventEndpointResponse(
            id=doc["_id"],
            url=doc["url"],
            events=doc["events"],
            secret=secret,
            created_at=wire.timestamp(doc["created_at"]),
        )

    async def ListEventEndpoints(
        self,
        request: events_pb2.ListEventEndpointsRequest,
        context: grpc.aio.ServicerContext[events_pb2.ListEventEndpointsRequest, events_pb2.ListEventEndpointsResponse],
    ) -> events_pb2.ListEventEndpointsResponse:
        docs = await self._endpoints.list(current_principal().tenant_id)
        return events_pb2.ListEventEndpointsResponse(items=[endpoint_message(d) for d in docs])

    async def DeleteEventEndpoint(
        self,
        request: events_pb2.DeleteEventEndpointRequest,
        context: grpc.aio.ServicerContext[
            events_pb2.DeleteEventEndpointRequest, events_pb2.DeleteEventEndpointResponse
        ],
    ) -> events_pb2.DeleteEventEndpointResponse:
        tenant = current_principal().tenant_id
        await self._endpoints.remove(tenant, request.id)
        await self._vault.delete(tenant, request.id, SECRET_KIND)
        await self._audit.record(tenant, "event_endpoint.deleted", "success", endpoint_id=request.id)
        return events_pb2.DeleteEventEndpointResponse(id=request.id)

    async def RotateEventEndpointSecret(
        self,
        request: events_pb2.RotateEventEndpointSecretRequest,
        context: grpc.aio.ServicerContext[
            events_pb2.RotateEventEndpointSecretRequest, events_pb2.RotateEventEndpointSecretResponse
        ],
    ) -> events_pb2.RotateEventEndpointSecretResponse:
        tenant = current_principal().tenant_id
        await self._endpoints.get(tenant, request.id)
        secret = await self._new_secret(tenant, request.id)
        await self._audit.record(tenant, "event_endpoint.secret_rotated", "success", endpoint_id=request.id)
        return events_pb2.RotateEventEndpointSecretResponse(id=request.id, secret=secret)

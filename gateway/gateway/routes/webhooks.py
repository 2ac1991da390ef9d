"""Upstream webhook registration (API key) and the public delivery receiver
(no API key: the connector service checks the provider's signature over the
exact bytes, so the body is passed through untouched).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response
from ucf.connector.v1 import webhooks_pb2 as pb

from gateway.bodies import WebhookBody, WebhookRefBody
from gateway.deps import Cursor, Limit, Rpc
from gateway.envelope import ok
from gateway.schemas import reply, reply_page

router = APIRouter(tags=["webhooks"])

_RAW_BODY = {"requestBody": {"required": True, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}}


@router.post(
    "/connectors/{connector_id}/webhooks",
    status_code=201,
    responses=reply(pb.RegisterWebhookResponse.DESCRIPTOR, 201, "Registered; callbackSecret is shown once"),
)
async def register_webhook(connector_id: str, body: WebhookBody, rpc: Rpc) -> Response:
    """Register with the provider where it allows (412 explaining why otherwise)."""
    request = body.to_proto(pb.RegisterWebhookRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.webhooks.RegisterWebhook, request, upstream=True), status_code=201)


@router.delete("/connectors/{connector_id}/webhooks", responses=reply(pb.UnregisterWebhookResponse.DESCRIPTOR))
async def unregister_webhook(connector_id: str, body: WebhookRefBody, rpc: Rpc) -> Response:
    """Remove the webhook upstream and here."""
    request = body.to_proto(pb.UnregisterWebhookRequest(), connector_id=connector_id)
    return ok(await rpc(rpc.stubs.webhooks.UnregisterWebhook, request, upstream=True))


@router.get("/webhooks/dead-letters", responses=reply_page(pb.DeadLetter.DESCRIPTOR))
async def list_dead_letters(
    rpc: Rpc,
    webhook_id: Annotated[str, Query(alias="webhookId")] = "",
    cursor: Cursor = "",
    limit: Limit = None,
) -> Response:
    """Forwards to a tenant callback that failed every retry."""
    request = pb.ListDeadLettersRequest(webhook_id=webhook_id, cursor=cursor, limit=limit or 0)
    return ok(await rpc(rpc.stubs.webhooks.ListDeadLetters, request))


@router.post("/webhooks/{webhook_id}", responses=reply(pb.ReceiveWebhookResponse.DESCRIPTOR), openapi_extra=_RAW_BODY)
async def receive_webhook(webhook_id: str, request: Request, rpc: Rpc) -> Response:
    """A provider delivery. Repeated headers are joined with ", " (RFC 9110 field combination)."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    delivery = pb.ReceiveWebhookRequest(webhook_id=webhook_id, headers=headers, body=await request.body())
    return ok(await rpc(rpc.stubs.webhooks.ReceiveWebhook, delivery))

"""gRPC `WebhookService`: register/unregister upstream webhooks, receive deliveries, list dead letters.

Registration generates two secrets and stores both in the vault before the
provider is called: the provider signing secret (handed to the provider,
never returned) and the `whsec_` callback secret (returned once, used to
sign forwarded events). If the provider refuses, the secrets are deleted
again. Connectors without registrable webhooks, and connections whose auth
cannot register them (Jira API tokens), answer `failed_precondition` saying
why. An upstream webhook that expires (Jira: 30 days) has `expires_at`;
`refresher.WebhookRefresher` extends it before then.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpcore
from ucf.connector.v1 import webhooks_pb2, webhooks_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError, invalid, not_found

from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.store import ConnectionStore
from connector_service.connectors.base import Capability
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.platform import destinations, egress, wire
from connector_service.resources.contexts import ConnectorContexts
from connector_service.vault.port import VaultPort
from connector_service.webhooks import signing
from connector_service.webhooks.receiver import Receiver
from connector_service.webhooks.store import SECRET_KIND, WebhookStore

_MAX_EVENTS = 50


def _unsupported_reason(connector_id: str) -> str:
    return f"{connector_id} offers no webhooks this service can register; schedule sync jobs instead"


def _callback_url(value: str) -> str:
    if not value:
        return ""
    destinations.http_url(value, "callbackUrl")
    return value.strip()


async def _check_egress(callback_url: str) -> None:
    """A callback the egress policy refuses is refused now, not after five failed forwards.
    A host that does not resolve yet is accepted: every forward is checked again."""
    policy = egress.current()
    if not callback_url or policy is None:
        return
    parts = urlsplit(callback_url)
    try:
        await policy.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except egress.EgressRefused as refused:
        raise egress.refused_error(refused, "callbackUrl") from None
    except httpcore.ConnectError:
        pass


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(
        self,
        *,
        store: WebhookStore,
        receiver: Receiver,
        connections: ConnectionStore,
        registry: ConnectorRegistry,
        contexts: ConnectorContexts,
        vault: VaultPort,
        audit_log: AuditLog,
        public_url: str,
        principal: Callable[[], Any],
    ):
        self._store, self._receiver, self._connections = store, receiver, connections
        self._registry, self._contexts, self._vault, self._audit = registry, contexts, vault, audit_log
        self._public_url, self._principal = public_url.rstrip("/"), principal

    async def RegisterWebhook(
        self,
        request: webhooks_pb2.RegisterWebhookRequest,
        context: grpc.aio.ServicerContext[webhooks_pb2.RegisterWebhookRequest, webhooks_pb2.RegisterWebhookResponse],
    ) -> webhooks_pb2.RegisterWebhookResponse:
        tenant_id = self._principal().tenant_id
        if not request.connection_id:
            raise invalid("connectionId is required", field="connectionId")
        events = list(dict.fromkeys(request.events))
        if len(events) > _MAX_EVENTS or any(not e or len(e) > 100 or not e.isprintable() for e in events):
            raise invalid(f"events must be at most {_MAX_EVENTS} event names", field="events")
        callback_url = _callback_url(request.callback_url)
        await _check_egress(callback_url)
        conn = await self._connections.get(tenant_id, request.connection_id)
        if conn.connector_id != request.connector_id:
            raise not_found("connection", request.connection_id)
        connector = self._registry.get(request.connector_id)
        reason = (
            _unsupported_reason(request.connector_id)
            if Capability.WEBHOOKS not in connector.capabilities
            else connector.webhooks_unavailable(conn.auth_mode)
        )
        if reason:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, reason, {"capability": Capability.WEBHOOKS.value})
        if not request.container_id:
            raise invalid("containerId is required (the repository or project to watch)", field="containerId")
        webhook_id = wire.new_id("whk")
        # One URL per app where the provider allows no more (Jira): deliveries are routed by the
        # webhook ids they match and their site (Receiver.receive).
        receiver_id = (
            await self._store.app_receiver(tenant_id, request.connector_id)
            if connector.webhook_url_per_app
            else webhook_id
        )
        receiver_url = f"{self._public_url}/api/webhooks/{receiver_id}"
        provider_secret, callback_secret = secrets.token_hex(32), signing.new_secret()
        await self._vault.put(
            tenant_id, webhook_id, SECRET_KIND, {"providerSecret": provider_secret, "callbackSecret": callback_secret}
        )
        try:
            ctx = await self._contexts(tenant_id, request.connection_id, request.connector_id)
            registration = await connector.register_webhook(
                ctx, request.container_id, receiver_url, tuple(events), provider_secret
            )
            site = connector.webhook_site(ctx)
        except BaseException:
            await self._vault.delete(tenant_id, webhook_id, SECRET_KIND)
            raise
        await self._store.add(
            {
                "_id": webhook_id,
                "tenant_id": tenant_id,
                "connector_id": request.connector_id,
                "connection_id": request.connection_id,
                "container_id": request.container_id,
                "upstream_id": registration.upstream_id,
                "receiver_url": receiver_url,
                "site": site,
                "events": list(registration.events),
                "callback_url": callback_url,
                "created_at": wire.now(),
                "expires_at": registration.expires_at,
                "refresh_after": wire.now(),
            }
        )
        await self._audit.record(
            tenant_id,
            audit.WEBHOOK_REGISTERED,
            audit.SUCCESS,
            connection_id=request.connection_id,
            connector_id=request.connector_id,
            webhook_id=webhook_id,
        )
        return webhooks_pb2.RegisterWebhookResponse(
            webhook_id=webhook_id, receiver_url=receiver_url, callback_secret=callback_secret if callback_url else ""
        )

    async def UnregisterWebhook(
        self,
        request: webhooks_pb2.UnregisterWebhookRequest,
        context: grpc.aio.ServicerContext[
            webhooks_pb2.UnregisterWebhookRequest, webhooks_pb2.UnregisterWebhookResponse
        ],
    ) -> webhooks_pb2.UnregisterWebhookResponse:
        tenant_id = self._principal().tenant_id
        hook = await self._store.get(tenant_id, request.webhook_id)
        if request.connector_id and hook["connector_id"] != request.connector_id:
            raise not_found("webhook", request.webhook_id)
        connector = self._registry.get(hook["connector_id"])
        ctx = await self._contexts(tenant_id, hook["connection_id"], hook["connector_id"])
        await connector.unregister_webhook(ctx, hook["container_id"], hook["upstream_id"])
        try:
            await self._vault.delete(tenant_id, hook["_id"], SECRET_KIND)
        except UcfError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise
        await self._store.remove(tenant_id, hook["_id"])
        await self._audit.record(
            tenant_id,
            audit.WEBHOOK_UNREGISTERED,
            audit.SUCCESS,
            connection_id=hook["connection_id"],
            connector_id=hook["connector_id"],
            webhook_id=hook["_id"],
        )
        return webhooks_pb2.UnregisterWebhookResponse(webhook_id=hook["_id"])

    async def ReceiveWebhook(
        self,
        request: webhooks_pb2.ReceiveWebhookRequest,
        context: grpc.aio.ServicerContext[webhooks_pb2.ReceiveWebhookRequest, webhooks_pb2.ReceiveWebhookResponse],
    ) -> webhooks_pb2.ReceiveWebhookResponse:
        delivery_id, processed = await self._receiver.receive(request.webhook_id, dict(request.headers), request.body)
        return webhooks_pb2.ReceiveWebhookResponse(delivery_id=delivery_id, processed=processed)

    async def ListDeadLetters(
        self,
        request: webhooks_pb2.ListDeadLettersRequest,
        context: grpc.aio.ServicerContext[webhooks_pb2.ListDeadLettersRequest, webhooks_pb2.ListDeadLettersResponse],
    ) -> webhooks_pb2.ListDeadLettersResponse:
        docs, nxt = await self._store.dead_letters(
            self._principal().tenant_id, request.webhook_id, request.cursor, request.limit
        )
        return webhooks_pb2.ListDeadLettersResponse(
            items=[
                webhooks_pb2.DeadLetter(
                    id=d["_id"],
                    webhook_id=d["webhook_id"],
                    delivery_id=d["delivery_id"],
                    callback_url=d["callback_url"],
                    attempts=d["attempts"],
                    last_error=d["last_error"],
                    created_at=wire.timestamp(d["created_at"]),
                )
                for d in docs
            ],
            next=nxt,
        )

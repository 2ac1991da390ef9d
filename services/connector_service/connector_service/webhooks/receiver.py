"""The public delivery path: verify, reject stale, de-duplicate, sync, forward.

The webhook id in the URL locates the registration and so the tenant; no API
key is involved. The provider signature is checked by the connector over the
exact body bytes (GitHub: `X-Hub-Signature-256`, constant-time) or, for Jira,
the `Authorization` JWT signed with the tenant's OAuth client secret; a
missing or wrong one is `unauthenticated`, and nothing is stored for it. A
delivery that names the upstream webhooks it is for (Jira
`matchedWebhookIds`) must name this registration's, so one app-signed
delivery cannot be replayed to another webhook of the same tenant.

Staleness: a delivery is refused when the time it carries is further than
the tolerance from now. Providers differ in where that time is: a
`webhook-timestamp` header or a `timestamp` (ms) body field when the
provider sends one, otherwise the `updated_at` of the issue/comment/pull
request the event is about (GitHub signs no timestamp, and the object's
update time is the event's time except for deletions, which are not judged).
A delivery that carries no time at all is judged by its id alone.

Each provider delivery id is processed once (unique index); a provider that
sends no id gets the SHA-256 of the body as one. A signed body is processed once
too, whatever delivery id it comes with (a captured delivery resent under a new
`X-GitHub-Delivery` is a duplicate): the SHA-256 of the webhook id and the body is
claimed for twice the tolerance, as long as the body can still pass the staleness
check (its event time is within the tolerance of both its acceptance and a replay).
A duplicate of either kind answers as one: `processed` false, nothing triggered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.connectors.base import WebhookEvent, WebhookSecret
from connector_service.connectors.models import parse_time
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.platform import wire
from connector_service.vault.port import VaultPort
from connector_service.webhooks.store import PENDING, SECRET_KIND, WebhookStore

log = logging.getLogger("connector_service.webhooks")

#: (tenant, connector, connection, containers, streams) -> queues an incremental sync.
SyncTrigger = Callable[[str, str, str, list[str], list[str]], Awaitable[None]]
#: (tenant, connector) -> the tenant's OAuth client secret for it, None when unset.
ClientSecret = Callable[[str, str], Awaitable[str | None]]
_EVENT_OBJECTS = ("comment", "issue", "pull_request")


def event_time(headers: Mapping[str, str], payload: Any) -> dt.datetime | None:
    """The time a delivery says its event happened, or None when it carries none."""
    stamp = headers.get("webhook-timestamp", "")
    if stamp.isdigit():
        return dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    if not isinstance(payload, dict):
        return None
    millis = payload.get("timestamp")
    if isinstance(millis, int) and not isinstance(millis, bool):
        return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    if payload.get("action") == "deleted":
        return None
    times = [
        parse_time((payload.get(name) or {}).get("updated_at"))
        for name in _EVENT_OBJECTS
        if isinstance(payload.get(name), dict)
    ]
    return max((t for t in times if t is not None), default=None)


def affected_streams(event: WebhookEvent) -> list[str]:
    return ["items", "comments"] if "comment" in event.kind else ["items"]


class Receiver:
    def __init__(
        self,
        store: WebhookStore,
        vault: VaultPort,
        registry: ConnectorRegistry,
        trigger: SyncTrigger,
        *,
        tolerance: dt.timedelta,
        on_forward: Callable[[], None],
        client_secret: ClientSecret | None = None,
    ):
        self._store, self._vault, self._registry = store, vault, registry
        self._trigger, self._tolerance, self._on_forward = trigger, tolerance, on_forward
        self._client_secret = client_secret

    async def receive(self, webhook_id: str, raw_headers: Mapping[str, str], body: bytes) -> tuple[str, bool]:
        """(delivery id, processed now); processed is False for a delivery seen before.

        `webhook_id` is a registration's own id, or the id of a (tenant, connector) app's one shared
        receiver (`wha_`, Jira): then the delivery goes to each of that app's registrations whose
        upstream id is in `matchedWebhookIds` and whose site is the delivery's site."""
        app = await self._store.locate_app(webhook_id)
        hook = app if app is not None else await self._store.locate(webhook_id)
        if hook is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"webhook {webhook_id!r} not found")
        headers = {k.lower(): v for k, v in raw_headers.items()}
        connector = self._registry.get(hook["connector_id"])
        secret = await self._secret(hook, connector.webhook_secret)
        if secret is None or not connector.verify_webhook(headers, body, secret):
            raise UcfError(ErrorCode.UNAUTHENTICATED, "webhook signature is missing or does not match")
        try:
            event = connector.parse_webhook(headers, body)
        except ValueError:
            raise UcfError(ErrorCode.INVALID_REQUEST, "webhook body is not valid JSON") from None
        if app is None:
            if event.upstream_ids and str(hook.get("upstream_id", "")) not in event.upstream_ids:
                raise UcfError(ErrorCode.UNAUTHENTICATED, "webhook delivery is not for this webhook")
            self._check_fresh(headers, event.payload)
            return await self._accept(hook, headers, body, event)
        hooks = [
            h
            for h in await self._store.matching(app["tenant_id"], app["connector_id"], event.upstream_ids)
            if not h.get("site") or not event.site or h["site"] == event.site
        ]
        if not hooks:
            raise UcfError(ErrorCode.NOT_FOUND, "no webhook of this app matches the delivery")
        self._check_fresh(headers, event.payload)
        outcomes = [await self._accept(h, headers, body, event) for h in hooks]
        return outcomes[0][0], any(processed for _, processed in outcomes)

    async def _accept(
        self, hook: dict[str, Any], headers: Mapping[str, str], body: bytes, event: WebhookEvent
    ) -> tuple[str, bool]:
        """A verified, fresh delivery for one registration: recorded once, syncs and forwards."""
        delivery_id = event.delivery_id or hashlib.sha256(body).hexdigest()
        forward = None
        if hook.get("callback_url"):
            forward = {
                "status": PENDING,
                "attempts": 0,
                "next_at": wire.now(),
                "callback_url": hook["callback_url"],
                "body": json.dumps(self._forwarded(hook, event, delivery_id), separators=(",", ":")),
            }
        digest = hashlib.sha256(hook["_id"].encode() + b"\0" + body).hexdigest()
        if not await self._store.claim_body(hook, digest, wire.now() + 2 * self._tolerance):
            log.info(
                "webhook body replayed under another delivery id",
                extra=log_fields(webhook_id=hook["_id"], delivery_id=delivery_id),
            )
            metrics.WEBHOOK_DELIVERIES.labels("duplicate").inc()
            return delivery_id, False
        try:
            recorded = await self._store.record_delivery(hook, delivery_id, event.kind, forward)
        except BaseException:
            await self._store.release_body(hook, digest)
            raise
        if recorded is None:
            metrics.WEBHOOK_DELIVERIES.labels("duplicate").inc()
            return delivery_id, False
        fields = log_fields(webhook_id=hook["_id"], delivery_id=delivery_id, kind=event.kind)
        containers = [event.container_id or hook.get("container_id") or ""]
        try:
            await self._trigger(
                hook["tenant_id"],
                hook["connector_id"],
                hook["connection_id"],
                [c for c in containers if c],
                affected_streams(event),
            )
        except UcfError as err:
            log.warning("webhook delivery could not trigger a sync", extra={**fields, "error": err.code.wire})
        if forward is not None:
            self._on_forward()
        metrics.WEBHOOK_DELIVERIES.labels("processed").inc()
        log.info("webhook delivery processed", extra=fields)
        return delivery_id, True

    async def _secret(self, hook: dict[str, Any], source: WebhookSecret) -> str | None:
        try:
            if source is WebhookSecret.OAUTH_CLIENT:
                if self._client_secret is None:
                    return None
                return await self._client_secret(hook["tenant_id"], hook["connector_id"])
            secret: str = (await self._vault.get(hook["tenant_id"], hook["_id"], SECRET_KIND)).payload["providerSecret"]
            return secret
        except UcfError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise
            return None

    def _check_fresh(self, headers: Mapping[str, str], payload: Any) -> None:
        moment = event_time(headers, payload)
        if moment is not None and abs(wire.now() - moment) > self._tolerance:
            raise UcfError(
                ErrorCode.INVALID_REQUEST,
                "webhook delivery is stale",
                {"toleranceSeconds": int(self._tolerance.total_seconds())},
            )

    @staticmethod
    def _forwarded(hook: dict[str, Any], event: WebhookEvent, delivery_id: str) -> dict[str, Any]:
        """The event as the tenant receives it (Standard Webhooks' `type`/`timestamp`/`data`)."""
        return {
            "type": event.kind,
            "timestamp": wire.now().isoformat(),
            "data": {
                "webhookId": hook["_id"],
                "connectorId": hook["connector_id"],
                "connectionId": hook["connection_id"],
                "deliveryId": delivery_id,
                "containerId": event.container_id,
                "itemId": event.item_id,
                "payload": dict(event.payload),
            },
        }

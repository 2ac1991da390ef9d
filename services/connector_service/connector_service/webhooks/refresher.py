"""Keeps expiring upstream webhooks alive (Jira dynamic webhooks live 30 days).

A registration whose provider gave it an expiry carries `expires_at`. Every
`interval` each connector-service process looks for registrations expiring
within `MARGIN`, claims one at a time (`refresh_after` moved past now, so
two processes never refresh the same webhook at once and a failure waits a
`RETRY` before the next try), asks the connector to refresh it upstream and
records the new expiry. A failure is logged and kept on the registration
(`refresh_error`) without any credential in it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ucf_common.errors import UcfError
from ucf_common.logging import log_fields

from connector_service.connectors.registry import ConnectorRegistry
from connector_service.platform import wire
from connector_service.platform.loops import Loop
from connector_service.resources.contexts import ConnectorContexts
from connector_service.webhooks.store import WebhookStore

log = logging.getLogger("connector_service.webhooks")

#: Refresh webhooks expiring within this much time (Jira's lifetime is 30 days).
MARGIN = timedelta(days=7)
#: A claimed refresh that failed (or whose process died) is tried again after this.
RETRY = timedelta(minutes=30)


class WebhookRefresher:
    def __init__(
        self,
        store: WebhookStore,
        registry: ConnectorRegistry,
        contexts: ConnectorContexts,
        *,
        interval: float,
        margin: timedelta = MARGIN,
    ):
        self._store, self._registry, self._contexts = store, registry, contexts
        self._interval, self._margin = interval, margin
        self._loop = Loop("webhook refresh", self._pass, retry_seconds=interval, log=log)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> float:
        await self.refresh_due()
        return self._interval

    async def refresh_due(self) -> int:
        """Refresh every registration expiring within the margin; how many were extended."""
        extended = 0
        while (hook := await self._store.claim_expiring(wire.now() + self._margin, RETRY)) is not None:
            extended += await self._refresh(hook)
        return extended

    async def _refresh(self, hook: dict[str, Any]) -> int:
        fields = log_fields(webhook_id=hook["_id"], connection_id=hook["connection_id"])
        try:
            ctx = await self._contexts(hook["tenant_id"], hook["connection_id"], hook["connector_id"])
            expires_at = await self._registry.get(hook["connector_id"]).refresh_webhook(ctx, hook["upstream_id"])
        except UcfError as err:
            await self._store.refresh_failed(hook, err.message)
            log.warning("webhook refresh failed", extra={**fields, "error": err.code.wire})
            return 0
        await self._store.refreshed(hook, expires_at)
        log.info("webhook refreshed", extra={**fields, "expires_at": expires_at.isoformat() if expires_at else None})
        return 1

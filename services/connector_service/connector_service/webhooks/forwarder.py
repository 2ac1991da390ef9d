"""Relays verified deliveries to the tenant's callback URL, signed per Standard Webhooks.

Each pending forward is claimed with a short lease (so two processes never
send the same attempt), POSTed with `webhook-id` = the delivery's id (stable
across retries, so the tenant can de-duplicate), a fresh
`webhook-timestamp` and its signature. A 2xx answer delivers it; anything
else is retried after `base_delay * 2**attempt`, and after `attempts` tries
the forward becomes a dead letter (`ListDeadLetters`).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.platform import egress, wire
from connector_service.platform.loops import Loop
from connector_service.vault.port import VaultPort
from connector_service.webhooks import signing
from connector_service.webhooks.store import SECRET_KIND, WebhookStore

log = logging.getLogger("connector_service.webhooks")
_CLAIM_LEASE = timedelta(seconds=60)


class Forwarder:
    def __init__(
        self,
        store: WebhookStore,
        vault: VaultPort,
        http: httpx.AsyncClient,
        *,
        attempts: int,
        base_delay: float,
        poll_seconds: float,
    ):
        self._store, self._vault, self._http = store, vault, http
        self._attempts, self._base, self._poll = attempts, base_delay, poll_seconds
        self._worker = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._loop = Loop("webhook forwarding", self._pass, retry_seconds=poll_seconds, log=log)

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> float:
        """Sends one claimed delivery and goes again at once; sleeps when none is due."""
        delivery = await self._store.claim_forward(self._worker, _CLAIM_LEASE)
        if delivery is None:
            return self._poll
        await self._send(delivery)
        return 0.0

    async def _send(self, delivery: dict[str, Any]) -> None:
        forward = delivery["forward"]
        body = forward["body"].encode()
        error = ""
        try:
            secret = await self._vault.get(delivery["tenant_id"], delivery["webhook_id"], SECRET_KIND)
            headers = signing.headers(secret.payload["callbackSecret"], delivery["_id"], int(time.time()), body)
            response = await self._http.post(forward["callback_url"], content=body, headers=headers, timeout=10.0)
            if 200 <= response.status_code < 300:
                await self._store.forward_delivered(delivery, self._worker)
                metrics.WEBHOOK_FORWARDS.labels("delivered").inc()
                return
            error = f"callback answered HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            refused = egress.refusal(exc)
            error = f"callback refused: {refused}" if refused else f"callback unreachable ({type(exc).__name__})"
        except Exception as exc:  # noqa: BLE001 - the vault or an unusable secret: retried like a failed POST
            error = f"could not sign the event ({type(exc).__name__})"
        attempt = forward["attempts"] + 1
        retry_at = wire.now() + timedelta(seconds=self._base * 2 ** (attempt - 1)) if attempt < self._attempts else None
        await self._store.forward_failed(delivery, self._worker, error, retry_at)
        metrics.WEBHOOK_FORWARDS.labels("retry" if retry_at is not None else "dead").inc()
        log.info(
            "webhook forward failed",
            extra=log_fields(delivery_id=delivery["_id"], attempt=attempt, dead=retry_at is None, error=error),
        )

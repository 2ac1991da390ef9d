"""Turns state changes into lifecycle events queued for the webhook forwarder.

`emit` builds `{"type", "timestamp", "data"}` once, queues one delivery per subscribed
endpoint in `webhook_deliveries` (the forwarder's queue: lease, retries with backoff, dead
letters, egress policy, Standard Webhooks signature with the endpoint's vault secret) and
audits the emission. It is called by the stores where state changes (`ConnectionStore`,
`JobStore`), so no RPC, background refresh or webhook-triggered sync can skip it.
Failing to queue is logged, never raised: the state change itself already happened.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ucf_common.logging import log_fields

from connector_service.connections.audit import AuditLog
from connector_service.connections.model import Connection
from connector_service.events.store import EventEndpointStore
from connector_service.platform import wire
from connector_service.webhooks.store import PENDING, WebhookStore

log = logging.getLogger("connector_service.events")
EVENT_EMITTED = "event.emitted"

_TRANSITIONS = {
    "revoked": "connection.revoked",
    "refresh_failed": "connection.credential_refresh_failed",
    "invalid": "connection.invalid",
    "expired": "connection.invalid",
}
_BROKEN = frozenset({"refresh_failed", "invalid", "expired"})
#: Fields whose change is a `connection.updated` (credential refreshes and validation stamps are not).
_UPDATE_FIELDS = frozenset({"name", "metadata", "auth_mode", "end_user", "tags", "scopes"})


def connection_data(conn: Connection) -> dict[str, Any]:
    data: dict[str, Any] = {
        "connectionId": conn.id,
        "connectorId": conn.connector_id,
        "workspaceId": conn.workspace_id,
        "status": conn.status,
    }
    if conn.end_user:
        data["endUser"] = conn.end_user
    if conn.tags:
        data["tags"] = conn.tags
    return data


def status_event(before: str, after: str) -> str | None:
    """The event a status change from `before` to `after` is, if any."""
    if before == after:
        return None
    if after == "connected" and before in _BROKEN:
        return "connection.recovered"
    return _TRANSITIONS.get(after)


class EventEmitter:
    def __init__(
        self, endpoints: EventEndpointStore, deliveries: WebhookStore, audit_log: AuditLog, wake: Callable[[], None]
    ):
        self._endpoints, self._deliveries, self._audit, self._wake = endpoints, deliveries, audit_log, wake

    async def emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
        try:
            await self._emit(tenant_id, event_type, data)
        except Exception:
            log.warning("could not queue a lifecycle event", exc_info=True, extra=log_fields(event=event_type))

    async def _emit(self, tenant_id: str, event_type: str, data: dict[str, Any]) -> None:
        event_id = wire.new_id("evt")
        body = json.dumps(
            {"type": event_type, "timestamp": wire.now().isoformat().replace("+00:00", "Z"), "data": data},
            separators=(",", ":"),
        )
        endpoints = await self._endpoints.list(tenant_id, event_type)
        for endpoint in endpoints:
            owner = {"tenant_id": tenant_id, "_id": endpoint["_id"], "connection_id": data.get("connectionId", "")}
            forward = {
                "status": PENDING,
                "attempts": 0,
                "next_at": wire.now(),
                "callback_url": endpoint["url"],
                "body": body,
            }
            await self._deliveries.record_delivery(owner, event_id, event_type, forward)
        await self._audit.record(
            tenant_id,
            EVENT_EMITTED,
            "success",
            connection_id=data.get("connectionId", ""),
            connector_id=data.get("connectorId", ""),
            actor="events",
            event_type=event_type,
            event_id=event_id,
            endpoints=len(endpoints),
        )
        if endpoints:
            self._wake()

    async def connection_changed(self, before: Connection | None, after: Connection | None, fields: set[str]) -> None:
        """Called by `ConnectionStore` after a write: `before`/`after` are the record around it,
        `fields` the document fields the write set."""
        if before is None and after is not None:
            await self.emit(after.tenant_id, "connection.created", connection_data(after))
        elif after is None and before is not None:
            await self.emit(before.tenant_id, "connection.deleted", connection_data(before))
        elif before is not None and after is not None:
            event = status_event(before.status, after.status)
            data = connection_data(after)
            if event is not None:
                if event != "connection.recovered" and after.status_reason:
                    data["error"] = after.status_reason
                await self.emit(after.tenant_id, event, data)
            elif fields & _UPDATE_FIELDS or (fields >= {"credential_kind"} and "last_refreshed_at" not in fields):
                await self.emit(after.tenant_id, "connection.updated", data)

    async def job_finished(self, job: dict[str, Any], connection: Connection | None) -> None:
        if job.get("type") not in ("sync", "import") or job.get("status") not in ("succeeded", "failed"):
            return
        data = (
            connection_data(connection)
            if connection
            else {"connectionId": job["connection_id"], "connectorId": job["connector_id"], "workspaceId": ""}
        )
        data.pop("status", None)
        data.update({"jobId": job["_id"], "jobType": job["type"], "counts": job.get("counts") or {}})
        if job.get("error"):
            data["error"] = job["error"]
        await self.emit(job["tenant_id"], f"sync.{job['status']}", data)

"""The tenant's event endpoints (`event_endpoints`): where lifecycle events are POSTed.

A record holds the URL and the subscribed types; its Standard Webhooks signing secret
lives in the vault (kind WEBHOOK_SIGNING_SECRET, owner = endpoint id, payload
`{"callbackSecret": "whsec_..."}`), the shape the webhook forwarder signs with.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import invalid, not_found

from connector_service.platform import destinations, wire

EVENT_TYPES = (
    "connection.created",
    "connection.updated",
    "connection.deleted",
    "connection.revoked",
    "connection.credential_refresh_failed",
    "connection.invalid",
    "connection.recovered",
    "sync.succeeded",
    "sync.failed",
)
_MAX_ENDPOINTS = 20


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise invalid(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}", field="events")
    return list(dict.fromkeys(events)) or list(EVENT_TYPES)


class EventEndpointStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["event_endpoints"]

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("_id", 1)])

    async def add(self, tenant_id: str, url: str, events: list[str]) -> dict[str, Any]:
        destinations.http_url(url, "url")
        if await self._col.count_documents({"tenant_id": tenant_id}) >= _MAX_ENDPOINTS:
            raise invalid(f"a tenant may have at most {_MAX_ENDPOINTS} event endpoints", field="url")
        doc = {
            "_id": wire.new_id("evep"),
            "tenant_id": tenant_id,
            "url": url.strip(),
            "events": check_events(events),
            "created_at": wire.now(),
        }
        await self._col.insert_one(doc)
        return doc

    async def get(self, tenant_id: str, endpoint_id: str) -> dict[str, Any]:
        doc = await self._col.find_one({"_id": endpoint_id, "tenant_id": tenant_id}) if endpoint_id else None
        if doc is None:
            raise not_found("event endpoint", endpoint_id)
        return doc

    async def list(self, tenant_id: str, event_type: str = "") -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if event_type:
            query["events"] = event_type
        return [doc async for doc in self._col.find(query).sort("_id", 1)]

    async def remove(self, tenant_id: str, endpoint_id: str) -> None:
        result = await self._col.delete_one({"_id": endpoint_id, "tenant_id": tenant_id})
        if result.deleted_count == 0:
            raise not_found("event endpoint", endpoint_id)

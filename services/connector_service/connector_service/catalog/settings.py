"""Per-tenant connector settings (`connectors` collection), one document per
(tenant, connector): enabled, extraDetails and the OAuth client.

The OAuth client secret goes to the vault (kind OAUTH_CLIENT_SECRET, owner =
the connector id); the document records only that one is set. A connector a
tenant never configured is enabled, with no OAuth client of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import invalid

from connector_service.platform import wire

_MAX_SCOPES = 100
# `cached()` answers from the store's memory for this long; `update()` through the same store drops
# the entry at once, a change made by another process is seen within this many seconds.
CACHE_TTL_SECONDS = 30.0
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class ConnectorSettings:
    enabled: bool = True
    extra_details: bool = False
    client_id: str = ""
    client_secret_set: bool = False
    scopes: list[str] = field(default_factory=list)
    redirect_uri: str = ""
    updated_at: Any = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> ConnectorSettings:
        if not doc:
            return cls()
        oauth = doc.get("oauth") or {}
        return cls(
            enabled=doc.get("enabled", True),
            extra_details=doc.get("extra_details", False),
            client_id=oauth.get("client_id", ""),
            client_secret_set=oauth.get("client_secret_set", False),
            scopes=list(oauth.get("scopes", [])),
            redirect_uri=oauth.get("redirect_uri", ""),
            updated_at=doc.get("updated_at"),
        )


def check_redirect_uri(uri: str, field_name: str = "redirectUri") -> str:
    if uri and not uri.startswith(("https://", "http://")) or len(uri) > 2000:
        raise invalid("redirect URI must be an absolute http(s) URL", field=field_name)
    return uri


def check_scopes(scopes: list[str]) -> list[str]:
    if len(scopes) > _MAX_SCOPES or any(not s or len(s) > 200 or not s.isprintable() or " " in s for s in scopes):
        raise invalid("scopes must be non-empty printable strings without spaces", field="scopes")
    return list(dict.fromkeys(scopes))


class ConnectorSettingsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["connectors"]
        self._cache: dict[tuple[str, str], tuple[float, ConnectorSettings]] = {}

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("connector_id", 1)], unique=True)

    async def get(self, tenant_id: str, connector_id: str) -> ConnectorSettings:
        doc = await self._col.find_one({"tenant_id": tenant_id, "connector_id": connector_id})
        return ConnectorSettings.from_doc(doc)

    async def cached(self, tenant_id: str, connector_id: str) -> ConnectorSettings:
        """`get`, served from a per-process cache for up to `CACHE_TTL_SECONDS` (hot resource paths)."""
        key = (tenant_id, connector_id)
        entry = self._cache.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        settings = await self.get(tenant_id, connector_id)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + CACHE_TTL_SECONDS, settings)
        return settings

    async def all(self, tenant_id: str) -> dict[str, ConnectorSettings]:
        return {
            doc["connector_id"]: ConnectorSettings.from_doc(doc)
            async for doc in self._col.find({"tenant_id": tenant_id})
        }

    async def update(self, tenant_id: str, connector_id: str, changes: dict[str, Any]) -> ConnectorSettings:
        """Applies `changes` (dotted field names, e.g. `oauth.client_id`) and returns the result."""
        self._cache.pop((tenant_id, connector_id), None)
        doc = await self._col.find_one_and_update(
            {"tenant_id": tenant_id, "connector_id": connector_id},
            {"$set": {**changes, "updated_at": wire.now()}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        self._cache.pop((tenant_id, connector_id), None)
        return ConnectorSettings.from_doc(doc)

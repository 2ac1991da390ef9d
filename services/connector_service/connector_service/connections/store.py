"""Connection records (`connections`): one per tenant, connector and workspace.

A record holds only non-secret facts about its credential (which kind the
vault holds, expiry, scopes); the credential itself lives in the vault under
(tenant, connection id, kind). Every query carries the tenant, so another
tenant's connection is indistinguishable from a missing one.

Status life cycle: pending → connected → expired | refresh_failed | invalid
→ revoked. Storing a new credential makes any connection connected again.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, invalid, not_found

from connector_service.connections.metadata import checked_user_metadata, merge_patch
from connector_service.platform import wire

PENDING, CONNECTED, EXPIRED, REFRESH_FAILED, INVALID, REVOKED = (
    "pending",
    "connected",
    "expired",
    "refresh_failed",
    "invalid",
    "revoked",
)
STATUSES = (PENDING, CONNECTED, EXPIRED, REFRESH_FAILED, INVALID, REVOKED)
_MAX_NAME = 200
_PATCH_ATTEMPTS = 5


def wrong_connector(connection_id: str, connector_id: str) -> UcfError:
    """A tenant's connection used with a connector it does not belong to: 409, naming its owner."""
    return UcfError(
        ErrorCode.CONFLICT,
        f"connection {connection_id!r} belongs to connector {connector_id!r}",
        {"connectionId": connection_id, "connectorId": connector_id},
    )


def _require(value: str, field: str) -> str:
    if not value or len(value) > 128 or not value.isprintable():
        raise invalid(f"{field} is required (1-128 printable characters)", field=field)
    return value


class ConnectionStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["connections"]
        self._listeners: list[Callable[[str, str], None]] = []
        #: `events.emitter.EventEmitter` (lifecycle events), set by the wiring; None emits nothing.
        self.events: Any = None
        self._removal_listeners: list[Callable[[str, str], Awaitable[None]]] = []

    def on_removed(self, listener: Callable[[str, str], Awaitable[None]]) -> None:
        """`await listener(tenant_id, connection_id)` after a connection is deleted or revoked
        (e.g. its sync schedule is removed)."""
        self._removal_listeners.append(listener)

    async def _removed(self, tenant_id: str, connection_id: str) -> None:
        for listener in self._removal_listeners:
            await listener(tenant_id, connection_id)

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """`listener(tenant_id, connection_id)` runs before and after every write to a connection."""
        self._listeners.append(listener)

    def _changed(self, tenant_id: str, connection_id: str) -> None:
        for listener in self._listeners:
            listener(tenant_id, connection_id)

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("connector_id", 1), ("workspace_id", 1)], unique=True)
        await self._col.create_index([("tenant_id", 1), ("workspace_id", 1), ("_id", 1)])

    async def get(self, tenant_id: str, connection_id: str) -> dict[str, Any]:
        doc = await self._col.find_one({"_id": connection_id, "tenant_id": tenant_id}) if connection_id else None
        if doc is None:
            raise not_found("connection", connection_id)
        return doc

    async def find_by_id(self, tenant_id: str, connection_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": connection_id, "tenant_id": tenant_id})

    async def find(self, tenant_id: str, connector_id: str, workspace_id: str) -> dict[str, Any] | None:
        return await self._col.find_one(
            {"tenant_id": tenant_id, "connector_id": connector_id, "workspace_id": workspace_id}
        )

    async def list(
        self, tenant_id: str, *, workspace_id: str = "", connector_id: str = "", cursor: str = "", limit: int = 0
    ) -> tuple[list[dict[str, Any]], str]:
        """Oldest first; returns a page and the next cursor ('' at the end)."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if workspace_id:
            query["workspace_id"] = workspace_id
        if connector_id:
            query["connector_id"] = connector_id
        return await wire.find_page(self._col, query, cursor, limit)

    async def ensure(
        self,
        tenant_id: str,
        connector_id: str,
        workspace_id: str,
        *,
        auth_mode: str,
        name: str = "",
        metadata: dict[str, Any] | None = None,
        labels: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The (connector, workspace) connection, created pending when missing. `labels`
        (a connect session's end_user, tags and id) are recorded on it, also when it exists."""
        _require(workspace_id, "workspaceId")
        if len(name) > _MAX_NAME:
            raise invalid(f"name is longer than {_MAX_NAME} characters", field="name")
        existing = await self.find(tenant_id, connector_id, workspace_id)
        if existing is not None:
            if labels:
                existing = await self.update(tenant_id, existing["_id"], **labels)
            return existing, False
        moment = wire.now()
        doc = {
            "_id": wire.new_id("con"),
            "tenant_id": tenant_id,
            "connector_id": connector_id,
            "workspace_id": workspace_id,
            "name": name or f"{connector_id} ({workspace_id})",
            "status": PENDING,
            "auth_mode": auth_mode,
            "credential_kind": None,
            "credential_expires_at": None,
            "scopes": [],
            "metadata": metadata or {},
            "system_metadata": {},
            "status_reason": "",
            "last_validated_at": None,
            "last_refreshed_at": None,
            "created_at": moment,
            "updated_at": moment,
            **(labels or {}),
        }
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            # A concurrent call created it first; theirs is the connection.
            return await self.find(tenant_id, connector_id, workspace_id) or doc, False
        if self.events is not None:
            await self.events.connection_changed(None, doc, set(doc))
        return doc, True

    async def update(self, tenant_id: str, connection_id: str, **fields: Any) -> dict[str, Any]:
        """Sets fields (plus updated_at) and returns the new record."""
        if "status" in fields and fields["status"] not in STATUSES:
            raise UcfError(ErrorCode.INTERNAL, "unknown connection status")
        fields["updated_at"] = wire.now()
        self._changed(tenant_id, connection_id)
        before: dict[str, Any] | None = None
        try:
            if self.events is None:
                doc = await self._col.find_one_and_update(
                    {"_id": connection_id, "tenant_id": tenant_id},
                    {"$set": fields},
                    return_document=ReturnDocument.AFTER,
                )
            else:  # the record before the write tells which lifecycle event this is
                before = await self._col.find_one_and_update(
                    {"_id": connection_id, "tenant_id": tenant_id}, {"$set": fields}
                )
                doc = await self._col.find_one({"_id": connection_id, "tenant_id": tenant_id}) if before else None
        finally:
            self._changed(tenant_id, connection_id)
        if doc is None:
            raise not_found("connection", connection_id)
        if before is not None:
            await self.events.connection_changed(before, doc, set(fields))
        return doc

    async def set_status(
        self, tenant_id: str, connection_id: str, status: str, reason: str = "", **fields: Any
    ) -> dict[str, Any]:
        doc = await self.update(tenant_id, connection_id, status=status, status_reason=reason, **fields)
        if status == REVOKED:
            await self._removed(tenant_id, connection_id)
        return doc

    async def record_credential(
        self,
        tenant_id: str,
        connection_id: str,
        *,
        kind: str,
        expires_at: datetime | None,
        scopes: builtins.list[str],
        refreshed: bool = False,
        system_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Notes the non-secret facts of a credential just written to the vault.

        Onboarding (`refreshed=False`) replaces the system metadata with what it found, so a
        connection onboarded again keeps no fact of its former account; a refresh merges the
        token response's facts into it.
        """
        fields: dict[str, Any] = {
            "status": CONNECTED,
            "status_reason": "",
            "credential_kind": kind,
            "credential_expires_at": expires_at,
            "scopes": scopes,
        }
        if refreshed:
            fields["last_refreshed_at"] = wire.now()
            for key, value in (system_metadata or {}).items():
                fields[f"system_metadata.{key}"] = value
        else:
            fields["system_metadata"] = dict(system_metadata or {})
        return await self.update(tenant_id, connection_id, **fields)

    async def patch_user(
        self, tenant_id: str, connection_id: str, *, name: str = "", patch: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], builtins.list[str]]:
        """Renames and/or merge-patches (RFC 7396) the user metadata; returns the record and the
        fields that changed. The metadata is written with a compare-and-set on its previous
        value, so concurrent patches of one connection each apply in full."""
        for _ in range(_PATCH_ATTEMPTS):
            doc = await self.get(tenant_id, connection_id)
            fields: dict[str, Any] = {}
            if name and name != doc.get("name"):
                fields["name"] = name[:_MAX_NAME]
            current = doc.get("metadata") or {}
            if patch is not None:
                merged = checked_user_metadata(merge_patch(current, patch))
                if merged != current:
                    fields["metadata"] = merged
            if not fields:
                return doc, []
            fields["updated_at"] = wire.now()
            self._changed(tenant_id, connection_id)
            try:
                updated = await self._col.find_one_and_update(
                    {"_id": connection_id, "tenant_id": tenant_id, "metadata": doc.get("metadata")},
                    {"$set": fields},
                    return_document=ReturnDocument.AFTER,
                )
            finally:
                self._changed(tenant_id, connection_id)
            if updated is not None:
                if self.events is not None:
                    await self.events.connection_changed(doc, updated, set(fields))
                return updated, sorted(k for k in fields if k != "updated_at")
        raise UcfError(ErrorCode.CONFLICT, "the connection's metadata changed concurrently; try again")

    async def adopt_system_metadata(self, system_keys: Callable[[str], frozenset[str]]) -> int:
        """Once per record written before system metadata existed: moves its provider-derived
        keys (`system_keys(connector_id)`) out of the user metadata. Returns how many moved.

        This start-up migration is the one query not scoped by tenant: it is the operator's
        process upgrading every tenant's records, and each update names its record's tenant."""
        moved = 0
        async for doc in self._col.find(
            {"system_metadata": {"$exists": False}}, {"tenant_id": 1, "connector_id": 1, "metadata": 1}
        ):
            metadata = doc.get("metadata") or {}
            keys = system_keys(doc["connector_id"])
            system = {k: v for k, v in metadata.items() if k in keys}
            user = {k: v for k, v in metadata.items() if k not in keys}
            result = await self._col.update_one(
                {"_id": doc["_id"], "tenant_id": doc["tenant_id"], "system_metadata": {"$exists": False}},
                {"$set": {"system_metadata": system, "metadata": user}},
            )
            if result.modified_count:
                self._changed(doc["tenant_id"], doc["_id"])
                moved += 1
        return moved

    async def delete(self, tenant_id: str, connection_id: str) -> None:
        self._changed(tenant_id, connection_id)
        try:
            deleted = await self._col.find_one_and_delete({"_id": connection_id, "tenant_id": tenant_id})
        finally:
            self._changed(tenant_id, connection_id)
        if deleted is None:
            raise not_found("connection", connection_id)
        if self.events is not None:
            await self.events.connection_changed(deleted, None, set())
        await self._removed(tenant_id, connection_id)

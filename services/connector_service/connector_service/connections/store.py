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
from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, invalid, not_found

from connector_service.connections.metadata import checked_user_metadata, merge_patch
from connector_service.connections.model import CONNECTED as CONNECTED
from connector_service.connections.model import EXPIRED as EXPIRED
from connector_service.connections.model import INVALID as INVALID
from connector_service.connections.model import PENDING as PENDING
from connector_service.connections.model import REFRESH_FAILED as REFRESH_FAILED
from connector_service.connections.model import REVOKED as REVOKED
from connector_service.connections.model import STATUSES as STATUSES
from connector_service.connections.model import Connection
from connector_service.platform import wire

if TYPE_CHECKING:
    from connector_service.events.emitter import EventEmitter

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
        self.events: EventEmitter | None = None
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

    async def get(self, tenant_id: str, connection_id: str) -> Connection:
        """The tenant's connection; not_found for a missing one and for another tenant's."""
        return Connection.from_document(await self._get_document(tenant_id, connection_id))

    async def _get_document(self, tenant_id: str, connection_id: str) -> dict[str, Any]:
        doc = await self._col.find_one({"_id": connection_id, "tenant_id": tenant_id}) if connection_id else None
        if doc is None:
            raise not_found("connection", connection_id)
        return doc

    async def find_by_id(self, tenant_id: str, connection_id: str) -> Connection | None:
        return _connection(await self._col.find_one({"_id": connection_id, "tenant_id": tenant_id}))

    async def find(self, tenant_id: str, connector_id: str, workspace_id: str) -> Connection | None:
        query = {"tenant_id": tenant_id, "connector_id": connector_id, "workspace_id": workspace_id}
        return _connection(await self._col.find_one(query))

    async def list(
        self, tenant_id: str, *, workspace_id: str = "", connector_id: str = "", cursor: str = "", limit: int = 0
    ) -> tuple[builtins.list[Connection], str]:
        """Oldest first; returns a page and the next cursor ('' at the end)."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if workspace_id:
            query["workspace_id"] = workspace_id
        if connector_id:
            query["connector_id"] = connector_id
        docs, nxt = await wire.find_page(self._col, query, cursor, limit)
        return [Connection.from_document(d) for d in docs], nxt

    async def due_for_refresh(self, horizon: datetime, limit: int) -> builtins.list[Connection]:
        """Up to `limit` connected OAuth2 connections of any tenant whose credential expires by
        `horizon` (the background refresher's scan; it acts on each in that record's tenant)."""
        cursor = self._col.find(
            {"credential_kind": "oauth2", "status": CONNECTED, "credential_expires_at": {"$lte": horizon}}
        ).limit(limit)
        return [Connection.from_document(d) for d in await cursor.to_list(limit)]

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
    ) -> tuple[Connection, bool]:
        """The (connector, workspace) connection, created pending when missing. `labels`
        (a connect session's end_user, tags and id) are recorded on it, also when it exists."""
        _require(workspace_id, "workspaceId")
        if len(name) > _MAX_NAME:
            raise invalid(f"name is longer than {_MAX_NAME} characters", field="name")
        existing = await self.find(tenant_id, connector_id, workspace_id)
        if existing is not None:
            if labels:
                existing = await self.update(tenant_id, existing.id, **labels)
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
            theirs = await self.find(tenant_id, connector_id, workspace_id)
            return theirs or Connection.from_document(doc), False
        created = Connection.from_document(doc)
        if self.events is not None:
            await self.events.connection_changed(None, created, set(doc))
        return created, True

    async def update(self, tenant_id: str, connection_id: str, **fields: Any) -> Connection:
        """Sets fields (plus updated_at) and returns the new record."""
        if "status" in fields and fields["status"] not in STATUSES:
            raise UcfError(ErrorCode.INTERNAL, "unknown connection status")
        fields["updated_at"] = wire.now()
        self._changed(tenant_id, connection_id)
        events, before = self.events, None
        try:
            if events is None:
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
        updated = Connection.from_document(doc)
        if events is not None and before is not None:
            await events.connection_changed(Connection.from_document(before), updated, set(fields))
        return updated

    async def set_status(
        self, tenant_id: str, connection_id: str, status: str, reason: str = "", **fields: Any
    ) -> Connection:
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
    ) -> Connection:
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
    ) -> tuple[Connection, builtins.list[str]]:
        """Renames and/or merge-patches (RFC 7396) the user metadata; returns the record and the
        fields that changed. The metadata is written with a compare-and-set on its previous
        value, so concurrent patches of one connection each apply in full."""
        for _ in range(_PATCH_ATTEMPTS):
            # The raw document: the compare-and-set below matches its stored (or missing) metadata.
            doc = await self._get_document(tenant_id, connection_id)
            fields: dict[str, Any] = {}
            if name and name != doc.get("name"):
                fields["name"] = name[:_MAX_NAME]
            current = doc.get("metadata") or {}
            if patch is not None:
                merged = checked_user_metadata(merge_patch(current, patch))
                if merged != current:
                    fields["metadata"] = merged
            if not fields:
                return Connection.from_document(doc), []
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
                after = Connection.from_document(updated)
                if self.events is not None:
                    await self.events.connection_changed(Connection.from_document(doc), after, set(fields))
                return after, sorted(k for k in fields if k != "updated_at")
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
            await self.events.connection_changed(Connection.from_document(deleted), None, set())
        await self._removed(tenant_id, connection_id)


def _connection(doc: dict[str, Any] | None) -> Connection | None:
    return None if doc is None else Connection.from_document(doc)

"""Connection records (`connections`): one per tenant, connector and workspace.

A record holds only non-secret facts about its credential (which kind the
vault holds, expiry, scopes); the credential itself lives in the vault under
(tenant, connection id, kind). Every query carries the tenant, so another
tenant's connection is indistinguishable from a missing one.

Status life cycle: pending → connected → expired | refresh_failed | invalid
→ revoked. Storing a new credential makes any connection connected again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, invalid, not_found

from connector_service import wire

PENDING, CONNECTED, EXPIRED, REFRESH_FAILED, INVALID, REVOKED = (
    "pending", "connected", "expired", "refresh_failed", "invalid", "revoked")
STATUSES = (PENDING, CONNECTED, EXPIRED, REFRESH_FAILED, INVALID, REVOKED)
_MAX_NAME = 200


def _require(value: str, field: str) -> str:
    if not value or len(value) > 128 or not value.isprintable():
        raise invalid(f"{field} is required (1-128 printable characters)", field=field)
    return value


class ConnectionStore:
    def __init__(self, db: AsyncDatabase):
        self._col = db["connections"]
        self._listeners: list[Callable[[str, str], None]] = []

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

    async def find(self, tenant_id: str, connector_id: str, workspace_id: str) -> dict[str, Any] | None:
        return await self._col.find_one(
            {"tenant_id": tenant_id, "connector_id": connector_id, "workspace_id": workspace_id})

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
        self, tenant_id: str, connector_id: str, workspace_id: str, *, auth_mode: str,
        name: str = "", metadata: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The (connector, workspace) connection, created pending when missing."""
        _require(workspace_id, "workspaceId")
        if len(name) > _MAX_NAME:
            raise invalid(f"name is longer than {_MAX_NAME} characters", field="name")
        existing = await self.find(tenant_id, connector_id, workspace_id)
        if existing is not None:
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
            "status_reason": "",
            "last_validated_at": None,
            "last_refreshed_at": None,
            "created_at": moment,
            "updated_at": moment,
        }
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            # A concurrent call created it first; theirs is the connection.
            return await self.find(tenant_id, connector_id, workspace_id) or doc, False
        return doc, True

    async def update(self, tenant_id: str, connection_id: str, **fields: Any) -> dict[str, Any]:
        """Sets fields (plus updated_at) and returns the new record."""
        if "status" in fields and fields["status"] not in STATUSES:
            raise UcfError(ErrorCode.INTERNAL, "unknown connection status")
        fields["updated_at"] = wire.now()
        self._changed(tenant_id, connection_id)
        try:
            doc = await self._col.find_one_and_update(
                {"_id": connection_id, "tenant_id": tenant_id},
                {"$set": fields},
                return_document=ReturnDocument.AFTER,
            )
        finally:
            self._changed(tenant_id, connection_id)
        if doc is None:
            raise not_found("connection", connection_id)
        return doc

    async def set_status(self, tenant_id: str, connection_id: str, status: str, reason: str = "",
                         **fields: Any) -> dict[str, Any]:
        return await self.update(tenant_id, connection_id, status=status, status_reason=reason, **fields)

    async def record_credential(
        self, tenant_id: str, connection_id: str, *, kind: str, expires_at: datetime | None,
        scopes: list[str], refreshed: bool = False, metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Notes the non-secret facts of a credential just written to the vault."""
        fields: dict[str, Any] = {
            "status": CONNECTED, "status_reason": "", "credential_kind": kind,
            "credential_expires_at": expires_at, "scopes": scopes,
        }
        if refreshed:
            fields["last_refreshed_at"] = wire.now()
        for key, value in (metadata or {}).items():
            fields[f"metadata.{key}"] = value
        return await self.update(tenant_id, connection_id, **fields)

    async def delete(self, tenant_id: str, connection_id: str) -> None:
        self._changed(tenant_id, connection_id)
        try:
            result = await self._col.delete_one({"_id": connection_id, "tenant_id": tenant_id})
        finally:
            self._changed(tenant_id, connection_id)
        if result.deleted_count == 0:
            raise not_found("connection", connection_id)

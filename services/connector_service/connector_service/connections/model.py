"""`Connection`: the typed record every module past `ConnectionStore` works with.

The store keeps the MongoDB document shape (`connections` collection); `from_document` is the
only code besides the store's queries and inserts that knows its field names
(`_id` is `id`; the user's `metadata` is `metadata`, the provider-derived facts are
`system_metadata`; a connect session's `end_user`, `tags` and `connect_session_id` are the
labels). A record written before a field existed reads as that field's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Connection:
    """One tenant's connection to a connector for a workspace, without any secret.

    `credential_kind` is the vault kind holding its credential (None: none stored yet, or
    revoked); `credential_expires_at` and `scopes` describe that credential. Timestamps are
    UTC-aware; None means the event has not happened (never validated, never refreshed).
    """

    id: str
    tenant_id: str
    connector_id: str
    workspace_id: str
    status: str
    name: str = ""
    auth_mode: str = ""
    status_reason: str = ""
    credential_kind: str | None = None
    credential_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    #: The user's metadata (merge-patched through the API).
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Facts the provider told at onboarding or refresh (cloud id, instance URL, connect params).
    system_metadata: dict[str, Any] = field(default_factory=dict)
    end_user: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    connect_session_id: str | None = None
    last_validated_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.status == REVOKED

    @property
    def has_credential(self) -> bool:
        return bool(self.credential_kind)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Connection:
        """The record of a stored `connections` document."""
        return cls(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            connector_id=doc["connector_id"],
            workspace_id=doc["workspace_id"],
            status=doc["status"],
            name=doc.get("name") or "",
            auth_mode=doc.get("auth_mode") or "",
            status_reason=doc.get("status_reason") or "",
            credential_kind=doc.get("credential_kind") or None,
            credential_expires_at=wire.as_utc(doc.get("credential_expires_at")),
            scopes=tuple(doc.get("scopes") or ()),
            metadata=dict(doc.get("metadata") or {}),
            system_metadata=dict(doc.get("system_metadata") or {}),
            end_user=dict(doc.get("end_user") or {}),
            tags=dict(doc.get("tags") or {}),
            connect_session_id=doc.get("connect_session_id"),
            last_validated_at=wire.as_utc(doc.get("last_validated_at")),
            last_refreshed_at=wire.as_utc(doc.get("last_refreshed_at")),
            created_at=wire.as_utc(doc.get("created_at")),
            updated_at=wire.as_utc(doc.get("updated_at")),
        )

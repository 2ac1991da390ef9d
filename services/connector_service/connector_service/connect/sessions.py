"""Connect sessions (`connect_sessions`): a short-lived bearer token for one end user.

A token reads `ucfcs_<random>`; the document's `_id` is the SHA-256 of the whole
token, so the database alone yields no usable token. A session is bound to its
tenant, one workspace and (optionally) a list of connectors, and carries the end
user and tags stamped on the connection it creates. Expired sessions are refused
at once and removed by a TTL index later.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import invalid

from connector_service.platform import wire

TOKEN_PREFIX = "ucfcs_"
_TOKEN_FORMAT = re.compile(r"^ucfcs_[A-Za-z0-9_\-]{32,128}$")
_MAX_TAGS = 50
_MAX_TEXT = 256


def is_session_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ConnectSession:
    """What a session allows: connectors of `allowed_connectors` (every one when empty) in one
    workspace of one tenant, on behalf of `end_user`."""

    id: str
    tenant_id: str
    workspace_id: str
    allowed_connectors: tuple[str, ...]
    end_user: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    return_url: str = ""
    expires_at: datetime | None = None

    def allows_connector(self, connector_id: str) -> bool:
        return not self.allowed_connectors or connector_id in self.allowed_connectors


def check_end_user(end_user: dict[str, str]) -> dict[str, str]:
    """`{id, email?, displayName?}` with printable values of at most 256 characters; {} when no id."""
    cleaned = {k: str(v) for k, v in end_user.items() if v}
    if not cleaned:
        return {}
    if not cleaned.get("id"):
        raise invalid("endUser.id is required when endUser is given", field="endUser.id")
    for key, value in cleaned.items():
        if len(value) > _MAX_TEXT or not value.isprintable():
            raise invalid(f"endUser.{key} must be at most {_MAX_TEXT} printable characters", field=f"endUser.{key}")
    return cleaned


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > _MAX_TAGS:
        raise invalid(f"at most {_MAX_TAGS} tags", field="tags")
    for key, value in tags.items():
        if not key or len(key) > 64 or not key.isprintable() or "." in key or key.startswith("$"):
            raise invalid("tag names are 1-64 printable characters without '.' or a leading '$'", field="tags")
        if len(value) > _MAX_TEXT or not value.isprintable():
            raise invalid(f"tag values are at most {_MAX_TEXT} printable characters", field=f"tags.{key}")
    return dict(tags)


class ConnectSessionStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], ttl: timedelta):
        self._col = db["connect_sessions"]
        self.ttl = ttl

    async def create_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)
        await self._col.create_index([("tenant_id", 1), ("created_at", 1)])

    async def create(
        self,
        tenant_id: str,
        *,
        workspace_id: str,
        allowed_connectors: list[str],
        end_user: dict[str, str],
        tags: dict[str, str],
        return_url: str,
        created_by: str,
    ) -> tuple[str, ConnectSession]:
        """A new session; returns the plaintext token (shown once) and the session."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        moment = wire.now()
        session = ConnectSession(
            id=wire.new_id("cs"),
            tenant_id=tenant_id,
            workspace_id=workspace_id,
            allowed_connectors=tuple(allowed_connectors),
            end_user=end_user,
            tags=tags,
            return_url=return_url,
            expires_at=moment + self.ttl,
        )
        await self._col.insert_one(
            {
                "_id": _digest(token),
                "session_id": session.id,
                "tenant_id": tenant_id,
                "workspace_id": workspace_id,
                "allowed_connectors": list(allowed_connectors),
                "end_user": end_user,
                "tags": tags,
                "return_url": return_url,
                "created_by": created_by,
                "created_at": moment,
                "expires_at": session.expires_at,
            }
        )
        return token, session

    async def check(self, token: str) -> ConnectSession | None:
        """The unexpired session of `token`, else None. The lookup is by the token's digest,
        which names the tenant; no other query is possible without the token."""
        if not _TOKEN_FORMAT.match(token):
            return None
        doc = await self._col.find_one({"_id": _digest(token), "expires_at": {"$gt": wire.now()}})
        if doc is None:
            return None
        return ConnectSession(
            id=doc["session_id"],
            tenant_id=doc["tenant_id"],
            workspace_id=doc["workspace_id"],
            allowed_connectors=tuple(doc.get("allowed_connectors") or ()),
            end_user=dict(doc.get("end_user") or {}),
            tags=dict(doc.get("tags") or {}),
            return_url=doc.get("return_url", ""),
            expires_at=wire.as_utc(doc["expires_at"]),
        )


def labels(session: ConnectSession | None) -> dict[str, Any] | None:
    """The fields a connection created through `session` records (None without a session)."""
    if session is None:
        return None
    return {"end_user": dict(session.end_user), "tags": dict(session.tags), "connect_session_id": session.id}

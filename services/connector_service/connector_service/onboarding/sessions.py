"""Pending OAuth2 authorizations (`oauth_sessions`): single-use, bound to tenant
+ connector + workspace, expiring after `SESSION_TTL` (10 minutes).

The document's `_id` is the SHA-256 of the state, and the PKCE verifier is
stored sealed under a key derived from the state (SHAKE-256 keystream; each
state is random and used once). So the database alone yields neither a usable
state nor a verifier: only the browser holding the state can complete it.
Taking a session deletes it atomically, so a replay finds nothing.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from connector_service.platform import wire

SESSION_TTL = timedelta(minutes=10)


def _state_id(state: str) -> str:
    return hashlib.sha256(b"ucf-oauth-state:" + state.encode()).hexdigest()


def _keystream(state: str, length: int) -> bytes:
    return hashlib.shake_256(b"ucf-pkce-seal:" + state.encode()).digest(length)


def seal(state: str, verifier: str) -> str:
    raw = verifier.encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _keystream(state, len(raw)), strict=True))).decode()


def unseal(state: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return bytes(a ^ b for a, b in zip(raw, _keystream(state, len(raw)), strict=True)).decode()


@dataclass(frozen=True)
class OAuthSession:
    tenant_id: str
    connector_id: str
    workspace_id: str
    redirect_uri: str
    scopes: list[str]
    return_url: str
    name: str
    expires_at: datetime
    code_verifier: str | None = field(default=None, repr=False)
    #: A connect session's end_user/tags/id, recorded on the connection (None otherwise).
    labels: dict[str, Any] | None = None
    #: The connector's connect params given at Connect (defaults applied), stored as system metadata.
    connect_params: dict[str, str] = field(default_factory=dict)


class OAuthSessionStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["oauth_sessions"]

    async def create_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)

    async def start(self, state: str, session: OAuthSession) -> None:
        await self._col.insert_one(
            {
                "_id": _state_id(state),
                "tenant_id": session.tenant_id,
                "connector_id": session.connector_id,
                "workspace_id": session.workspace_id,
                "redirect_uri": session.redirect_uri,
                "scopes": session.scopes,
                "return_url": session.return_url,
                "name": session.name,
                "verifier_sealed": seal(state, session.code_verifier) if session.code_verifier else None,
                "expires_at": session.expires_at,
                "created_at": wire.now(),
                "labels": session.labels,
                "connect_params": dict(session.connect_params),
            }
        )

    async def take(self, state: str, **binding: str) -> OAuthSession | None:
        """Consumes the unexpired session for `state` that matches `binding`
        (tenant_id, connector_id, workspace_id when known); None otherwise.
        A session that does not match the binding is left in place."""
        query: dict[str, Any] = {"_id": _state_id(state), "expires_at": {"$gt": wire.now()}}
        query.update({k: v for k, v in binding.items() if v})
        doc = await self._col.find_one_and_delete(query)
        if doc is None:
            return None
        sealed = doc.get("verifier_sealed")
        return OAuthSession(
            tenant_id=doc["tenant_id"],
            connector_id=doc["connector_id"],
            workspace_id=doc["workspace_id"],
            redirect_uri=doc["redirect_uri"],
            scopes=list(doc.get("scopes", [])),
            return_url=doc.get("return_url", ""),
            name=doc.get("name", ""),
            expires_at=wire.as_utc(doc["expires_at"]),
            code_verifier=unseal(state, sealed) if sealed else None,
            labels=doc.get("labels"),
            connect_params=dict(doc.get("connect_params") or {}),
        )

    @staticmethod
    def expiry() -> datetime:
        return wire.now() + SESSION_TTL

"""Tenant-bound, scoped API keys stored as hashes in the `api_keys` collection.

A key reads `ucf_<key id>_<secret>`. The document's `_id` is the key id and it
keeps only the SHA-256 of the secret, so a database dump yields no usable key.

Verified keys are cached in-process for `CACHE_TTL_SECONDS` (30 s), keyed by
the SHA-256 of the whole presented key, so the hot token path does not read
Mongo on every call. Revoking through this process drops the entry at once;
a revocation made by another process takes effect here within the TTL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import ErrorCode, UcfError, invalid

SCOPES = (
    "connectors:read",
    "connectors:write",
    "connections:read",
    "connections:write",
    "tokens:read",
    "jobs:write",
    "webhooks:write",
    "connect:write",
    "proxy",
    "admin",
)
ADMIN_SCOPE = "admin"
CACHE_TTL_SECONDS = 30.0
_KEY_FORMAT = re.compile(r"^ucf_([0-9a-f]{16})_([A-Za-z0-9_\-]{32,128})$")
_KEY_ID_PREFIX = re.compile(r"^ucf_([0-9a-f]{16})_")
_TENANT_FORMAT = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's tenant, the key id (the audit actor) and its scopes."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    #: The connect session (`connector_service.connect.sessions.ConnectSession`) when the
    #: caller presented a session token instead of an API key.
    session: Any = None

    def allows(self, scope: str) -> bool:
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class KeyRefusal:
    """Why a presented key was not accepted: `key_id` when the key names one (never the secret),
    `tenant_id` when that key id is registered, and a `reason` word."""

    reason: str  # malformed | unknown_key | revoked | wrong_secret
    key_id: str = ""
    tenant_id: str = ""


def key_id_of(key: str) -> str:
    """The key id a presented `ucf_<key id>_<secret>` names, '' when it names none."""
    match = _KEY_ID_PREFIX.match(key)
    return match.group(1) if match else ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_scopes(raw: str | list[str]) -> list[str]:
    """Scopes from a comma list; `all` means every scope. Unknown names are refused."""
    names = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else list(raw)
    names = [s for s in names if s]
    if names == ["all"]:
        return list(SCOPES)
    unknown = sorted(set(names) - set(SCOPES))
    if unknown or not names:
        raise invalid(f"unknown or missing scopes {unknown}; allowed: {', '.join(SCOPES)} or all", scopes=unknown)
    return sorted(set(names))


def _check_tenant(tenant_id: str) -> None:
    if not _TENANT_FORMAT.match(tenant_id or ""):
        raise invalid("tenant id must be 1-128 characters of letters, digits and . _ : -", field="tenant")


class ApiKeyStore:
    """Creates, lists, revokes and verifies API keys."""

    def __init__(self, db: AsyncDatabase, cache_ttl: float = CACHE_TTL_SECONDS):
        self._keys = db["api_keys"]
        self._ttl = cache_ttl
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def create_indexes(self) -> None:
        await self._keys.create_index([("tenant_id", 1), ("created_at", 1)])

    async def create(self, tenant_id: str, scopes: list[str], name: str = "") -> tuple[str, dict[str, Any]]:
        """A new key: returns the plaintext key (shown once) and its stored record."""
        _check_tenant(tenant_id)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        doc = await self._insert(key_id, secret, tenant_id, parse_scopes(scopes), name)
        return f"ucf_{key_id}_{secret}", doc

    async def ensure(self, key: str, tenant_id: str, scopes: list[str], name: str = "") -> tuple[dict[str, Any], bool]:
        """Registers an existing plaintext key; a no-op when it is already registered.

        Returns the record and whether it was inserted. A key id that exists with
        another secret or tenant is a conflict, never silently replaced.
        """
        _check_tenant(tenant_id)
        match = _KEY_FORMAT.match(key.strip())
        if not match:
            raise invalid("the key file does not hold a key of the form ucf_<key id>_<secret>")
        key_id, secret = match.groups()
        existing = await self._keys.find_one({"_id": key_id})
        if existing is None:
            return await self._insert(key_id, secret, tenant_id, parse_scopes(scopes), name), True
        if not hmac.compare_digest(existing["secret_hash"], _digest(secret)) or existing["tenant_id"] != tenant_id:
            raise UcfError(ErrorCode.CONFLICT, f"key id {key_id} is registered with another secret or tenant")
        if existing.get("revoked"):
            raise UcfError(ErrorCode.FAILED_PRECONDITION, f"key {key_id} is revoked")
        return existing, False

    async def _insert(self, key_id: str, secret: str, tenant_id: str, scopes: list[str], name: str) -> dict[str, Any]:
        doc = {
            "_id": key_id,
            "tenant_id": tenant_id,
            "scopes": scopes,
            "name": name,
            "secret_hash": _digest(secret),
            "revoked": False,
            "created_at": datetime.now(UTC),
        }
        await self._keys.insert_one(doc)
        return doc

    async def list(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """Key records without their hashes, oldest first."""
        query = {"tenant_id": tenant_id} if tenant_id else {}
        cursor = self._keys.find(query, {"secret_hash": 0}).sort("created_at", 1)
        return [doc async for doc in cursor]

    async def revoke(self, key_id: str) -> dict[str, Any]:
        doc = await self._keys.find_one_and_update(
            {"_id": key_id},
            {"$set": {"revoked": True, "revoked_at": datetime.now(UTC)}},
            projection={"secret_hash": 0},
            return_document=True,
        )
        if doc is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"API key {key_id!r} not found")
        self._cache = {h: entry for h, entry in self._cache.items() if entry[0].key_id != key_id}
        return doc

    async def verify(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None."""
        result = await self.check(key)
        return result if isinstance(result, Principal) else None

    async def check(self, key: str) -> Principal | KeyRefusal:
        """The principal of a valid, unrevoked key, else why not (with the key's tenant when known)."""
        cache_key = _digest(key)
        cached = self._cache.get(cache_key)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        match = _KEY_FORMAT.match(key)
        if not match:
            return KeyRefusal("malformed", key_id_of(key))
        key_id, secret = match.groups()
        doc = await self._keys.find_one({"_id": key_id})
        if doc is None or doc.get("revoked") or not hmac.compare_digest(doc["secret_hash"], _digest(secret)):
            self._cache.pop(cache_key, None)
            if doc is None:
                return KeyRefusal("unknown_key", key_id)
            return KeyRefusal("revoked" if doc.get("revoked") else "wrong_secret", key_id, doc["tenant_id"])
        principal = Principal(doc["tenant_id"], key_id, frozenset(doc.get("scopes", ())))
        self._cache[cache_key] = (principal, now + self._ttl)
        return principal

"""The `token_refresh_leases` collection: one document per (tenant, connection).

Fields: `owner`/`lease_until` (who may refresh now), `in_flight` (a refresh was sent for this
credential and its result is not stored yet), `failure` (the last refresh of this credential
failed), `refreshes` (a counter waiters watch for completion) and `rotates` (whether the
provider issued a new refresh token last time). Markers name the credential they apply to
by vault version plus a short SHA-256 fingerprint of its refresh token, so a version number
reused after delete-and-reconnect does not inherit an old marker. Every write by a holder is
fenced on `owner`, so a holder whose lease was taken over cannot clobber the new holder.
Times are the writers' wall clocks, so hosts must keep them roughly in sync.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

LEASES_COLLECTION = "token_refresh_leases"


def fingerprint(refresh_token: str | None) -> str:
    """Names a refresh token without revealing it (a 64-bit prefix of its SHA-256)."""
    return hashlib.sha256((refresh_token or "").encode()).hexdigest()[:16]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class Failure:
    base_version: int
    base_fingerprint: str
    permanent: bool
    reason: str
    at: datetime
    provider_error: str | None = None
    provider_error_description: str | None = None

    def applies_to(self, version: int, fp: str) -> bool:
        return self.base_version == version and self.base_fingerprint == fp


@dataclass(frozen=True)
class LeaseState:
    owner: str | None
    in_flight_version: int | None
    in_flight_fingerprint: str | None
    failure: Failure | None
    refreshes: int
    rotates: bool | None

    def in_flight_for(self, version: int, fp: str) -> bool:
        return self.in_flight_version == version and self.in_flight_fingerprint == fp

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> LeaseState:
        in_flight = doc.get("in_flight") or {}
        failure = doc.get("failure")
        return cls(
            owner=doc.get("owner"),
            in_flight_version=in_flight.get("base_version"),
            in_flight_fingerprint=in_flight.get("base_fingerprint"),
            failure=Failure(**{**failure, "at": _aware(failure["at"])}) if failure else None,
            refreshes=int(doc.get("refreshes") or 0),
            rotates=doc.get("rotates"),
        )


class LeaseTable:
    """Lease operations for one owner (one process, or one coordinator object in tests)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], owner: str, lease_seconds: float):
        self._col = collection
        self.owner = owner
        self._lease = timedelta(seconds=lease_seconds)

    @staticmethod
    def key(tenant: str, connection_id: str) -> dict[str, str]:
        return {"tenant": tenant, "connection": connection_id}

    async def read(self, key: dict[str, str]) -> LeaseState | None:
        doc = await self._col.find_one({"_id": key})
        return LeaseState.from_document(doc) if doc else None

    async def acquire(self, key: dict[str, str]) -> LeaseState | None:
        """Take the lease when it is free or expired; None when someone else holds it.

        When the document exists but the filter does not match, the upsert's insert collides
        on `_id`, which is how a held lease answers. A server that retries the colliding upsert
        as an update (which then matches nothing) answers None instead: also "held"."""
        now = datetime.now(UTC)
        try:
            doc = await self._col.find_one_and_update(
                {"_id": key, "$or": [{"owner": None}, {"lease_until": {"$lte": now}}]},
                {"$set": {"owner": self.owner, "lease_until": now + self._lease, "acquired_at": now}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return None
        return LeaseState.from_document(doc) if doc is not None else None

    async def begin(self, key: dict[str, str], version: int, fp: str) -> bool:
        """Record that a refresh of this credential is about to be sent; False if the lease was lost."""
        result = await self._col.update_one(
            {"_id": key, "owner": self.owner},
            {
                "$set": {
                    "in_flight": {
                        "base_version": version,
                        "base_fingerprint": fp,
                        "since": datetime.now(UTC),
                        "owner": self.owner,
                    }
                },
                "$unset": {"failure": ""},
            },
        )
        return result.matched_count == 1

    async def finish(self, key: dict[str, str], *, rotates: bool) -> None:
        """The new credential is stored: clear the marker, tell waiters, release."""
        await self._col.update_one(
            {"_id": key, "owner": self.owner},
            {
                "$set": {"owner": None, "lease_until": None, "rotates": rotates, "completed_at": datetime.now(UTC)},
                "$unset": {"in_flight": "", "failure": ""},
                "$inc": {"refreshes": 1},
            },
        )

    async def fail(self, key: dict[str, str], failure: Failure) -> None:
        """Record why the refresh of this credential failed and release."""
        await self._col.update_one(
            {"_id": key, "owner": self.owner},
            {"$set": {"owner": None, "lease_until": None, "failure": asdict(failure)}, "$unset": {"in_flight": ""}},
        )

    async def release(self, key: dict[str, str]) -> None:
        await self._col.update_one({"_id": key, "owner": self.owner}, {"$set": {"owner": None, "lease_until": None}})

    async def forget(self, key: dict[str, str]) -> None:
        await self._col.delete_one({"_id": key})

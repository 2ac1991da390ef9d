"""The `secrets` and `keys` collections.

A `secrets` document is `{tenant_id, owner_id, kind, version, key_id,
ciphertext, created_at, updated_at, expires_at}`, unique on (tenant_id,
owner_id, kind). The ciphertext is a `KeyRing.seal` envelope bound to the
identity and version, so nothing else in the document is trusted on a read.

Writes are compare-and-swap on `version`: a put reads the current version,
seals under version+1 and updates only if the version is unchanged (or inserts,
relying on the unique index, when there was none). With an expected version
the loser of a race gets CONFLICT (gRPC ABORTED); without one the put retries.
Rewrap uses the same guard, so it never overwrites a newer put.

`keys` holds per-key state that must survive restarts: `{_id: key_id, state:
"retired", retired_at}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from bson import ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError

from vault_service.keyring import (
    IntegrityError,
    KeyRing,
    KeyUnavailableError,
    SecretIdentity,
)

_PUT_RETRIES = 5


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: datetime | None) -> datetime | None: ...
def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class SecretRecord:
    """A stored secret's metadata (what GetSecretMetadata returns)."""

    tenant_id: str
    owner_id: str
    kind: str
    version: int
    key_id: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SecretRecord:
        return cls(
            doc["tenant_id"],
            doc["owner_id"],
            doc["kind"],
            int(doc["version"]),
            doc["key_id"],
            _aware(doc["created_at"]),
            _aware(doc["updated_at"]),
            _aware(doc.get("expires_at")),
        )

    @property
    def identity(self) -> SecretIdentity:
        return SecretIdentity(self.tenant_id, self.owner_id, self.kind, self.version)


@dataclass
class RewrapBatch:
    rewrapped: int = 0
    #: Records that failed their integrity check and were left as they are.
    failed: list[SecretRecord] = field(default_factory=list)
    #: `_id` of the last record examined: the next batch starts after it.
    last_id: ObjectId | None = None
    examined: int = 0


class SecretStore:
    def __init__(self, db: AsyncDatabase, keyring: KeyRing):
        self._secrets = db["secrets"]
        self._keys = db["keys"]
        self.keyring = keyring

    async def ensure_indexes(self) -> None:
        await self._secrets.create_index(
            [("tenant_id", ASCENDING), ("owner_id", ASCENDING), ("kind", ASCENDING)], unique=True, name="identity"
        )
        await self._secrets.create_index([("key_id", ASCENDING)], name="key_id")

    async def load_retired(self) -> set[str]:
        return {doc["_id"] async for doc in self._keys.find({"state": "retired"}, projection={"_id": 1})}

    async def put(
        self,
        tenant_id: str,
        owner_id: str,
        kind: str,
        payload: dict[str, Any],
        *,
        expires_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> SecretRecord:
        ident = {"tenant_id": tenant_id, "owner_id": owner_id, "kind": kind}
        for _ in range(1 if expected_version is not None else _PUT_RETRIES):
            current = await self._secrets.find_one(ident, projection={"version": 1, "created_at": 1})
            current_version = int(current["version"]) if current else 0
            if expected_version is not None and expected_version != current_version:
                raise _conflict(expected_version, current_version)
            new_version = current_version + 1
            key_id, ciphertext = self.keyring.seal(SecretIdentity(tenant_id, owner_id, kind, new_version), payload)
            now = _now()
            fields = {
                "version": new_version,
                "key_id": key_id,
                "ciphertext": ciphertext,
                "updated_at": now,
                "expires_at": expires_at,
            }
            if current is None:
                try:
                    await self._secrets.insert_one({**ident, **fields, "created_at": now})
                except DuplicateKeyError:
                    continue
                return SecretRecord(tenant_id, owner_id, kind, new_version, key_id, now, now, expires_at)
            updated = await self._secrets.update_one({**ident, "version": current_version}, {"$set": fields})
            if updated.matched_count == 1:
                return SecretRecord(
                    tenant_id, owner_id, kind, new_version, key_id, _aware(current["created_at"]), now, expires_at
                )
        if expected_version is not None:
            latest = await self._secrets.find_one(ident, projection={"version": 1})
            raise _conflict(expected_version, int(latest["version"]) if latest else 0)
        raise UcfError(ErrorCode.CONFLICT, "the secret kept changing under concurrent writers; retry")

    async def find(self, tenant_id: str, owner_id: str, kind: str) -> tuple[SecretRecord, str]:
        """The record and its ciphertext; NOT_FOUND when absent. Nothing is decrypted."""
        doc = await self._secrets.find_one({"tenant_id": tenant_id, "owner_id": owner_id, "kind": kind})
        if doc is None:
            raise UcfError(ErrorCode.NOT_FOUND, "secret not found")
        return SecretRecord.from_doc(doc), doc["ciphertext"]

    async def get(self, tenant_id: str, owner_id: str, kind: str) -> tuple[dict[str, Any], SecretRecord]:
        """Plaintext payload and metadata; raises IntegrityError / KeyUnavailableError on a bad record."""
        record, ciphertext = await self.find(tenant_id, owner_id, kind)
        return self.keyring.open(record.identity, record.key_id, ciphertext), record

    async def delete(self, tenant_id: str, owner_id: str, kind: str, *, expected_version: int | None = None) -> int:
        ident = {"tenant_id": tenant_id, "owner_id": owner_id, "kind": kind}
        query = ident if expected_version is None else {**ident, "version": expected_version}
        doc = await self._secrets.find_one_and_delete(query, projection={"version": 1})
        if doc is not None:
            return int(doc["version"])
        current = await self._secrets.find_one(ident, projection={"version": 1})
        if current is None:
            raise UcfError(ErrorCode.NOT_FOUND, "secret not found")
        raise _conflict(expected_version or 0, int(current["version"]))

    async def key_counts(self) -> dict[str, int]:
        """How many secrets each key id encrypts (ids not in the ring included)."""
        pipeline = [{"$group": {"_id": "$key_id", "n": {"$sum": 1}}}]
        return {doc["_id"]: int(doc["n"]) async for doc in await self._secrets.aggregate(pipeline)}

    async def remaining(self) -> int:
        """Secrets not yet under the primary key."""
        return await self._secrets.count_documents({"key_id": {"$ne": self.keyring.primary_id}})

    async def rewrap_batch(self, batch_size: int, after: ObjectId | None) -> RewrapBatch:
        """Re-encrypts up to `batch_size` records (by `_id`, after `after`) under the primary key."""
        query: dict[str, Any] = {"key_id": {"$ne": self.keyring.primary_id}}
        if after is not None:
            query["_id"] = {"$gt": after}
        batch, updates = RewrapBatch(last_id=after), []
        async for doc in self._secrets.find(query, sort=[("_id", ASCENDING)], limit=batch_size):
            batch.examined += 1
            batch.last_id = doc["_id"]
            record = SecretRecord.from_doc(doc)
            try:
                key_id, ciphertext = self.keyring.reseal(record.identity, record.key_id, doc["ciphertext"])
            except (IntegrityError, KeyUnavailableError):
                batch.failed.append(record)
                continue
            updates.append(
                UpdateOne(
                    {"_id": doc["_id"], "version": record.version, "key_id": record.key_id},
                    {"$set": {"key_id": key_id, "ciphertext": ciphertext}},
                )
            )
        if updates:
            result = await self._secrets.bulk_write(updates, ordered=False)
            batch.rewrapped = result.modified_count
        return batch

    async def retire(self, key_id: str) -> None:
        """Marks a key retired; FAILED_PRECONDITION when it is the primary or still encrypts secrets."""
        if key_id not in self.keyring.key_ids:
            raise UcfError(ErrorCode.NOT_FOUND, f"key {key_id!r} is not in the key ring")
        if key_id == self.keyring.primary_id:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, f"key {key_id!r} is the primary key", {"keyId": key_id})
        in_use = await self._secrets.count_documents({"key_id": key_id})
        if in_use:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                f"key {key_id!r} still encrypts {in_use} secrets; rewrap first",
                {"keyId": key_id, "secrets": in_use},
            )
        await self._keys.update_one({"_id": key_id}, {"$set": {"state": "retired", "retired_at": _now()}}, upsert=True)
        self.keyring.mark_retired([key_id])


def _conflict(expected: int, current: int) -> UcfError:
    return UcfError(
        ErrorCode.CONFLICT, "the secret's version changed", {"expectedVersion": expected, "currentVersion": current}
    )

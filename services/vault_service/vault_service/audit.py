"""The hash-chained audit log in the `vault_audit` collection.

Every vault call — refused ones included — appends one record: time, request
id, caller, operation, tenant, owner, kind, outcome, key id and a few counts.
Never a secret value, never a credential. Record `n` has `_id = n` and
`hash = sha256(canonical JSON of its fields, prev_hash included)`, where
`prev_hash` is record `n-1`'s hash (64 zeros for record 1). Editing, removing
or reordering a record breaks the chain from that point; `verify_chain`
reports the first break.

Concurrency: appends are serialised inside the process by an asyncio lock (one
head, no wasted work), and the sequence number is the document `_id`, so if a
second writer (another vault replica) appended the same number first, the
insert fails with a duplicate key, the head is reloaded and the append is
retried. The chain therefore never forks, whatever runs concurrently.

Fail-closed: when a record cannot be written, `append` raises `AuditUnavailable`
and the caller must answer UNAVAILABLE without returning anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError
from ucf_common.logging import log_fields
from ucf_common.request_context import current_request_id

from vault_service import metrics

GENESIS_HASH = "0" * 64
_HASHED_FIELDS = (
    "_id",
    "ts",
    "request_id",
    "caller",
    "operation",
    "tenant_id",
    "owner_id",
    "kind",
    "outcome",
    "key_id",
    "detail",
    "prev_hash",
)
_MAX_RACE_RETRIES = 20
log = logging.getLogger("vault.audit")


class AuditUnavailable(Exception):
    """The audit record could not be written; the call must fail closed."""


def _ts_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def record_hash(record: dict[str, Any]) -> str:
    """The chain hash of a record as stored (MongoDB keeps milliseconds, so the hash does too)."""
    body = {name: record.get(name) for name in _HASHED_FIELDS}
    ts = record.get("ts")
    body["ts"] = _ts_text(ts) if isinstance(ts, datetime) else repr(ts)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class AuditLog:
    def __init__(self, collection: AsyncCollection):
        self._collection = collection
        self._lock = asyncio.Lock()
        self._head: tuple[int, str] | None = None
        #: True after an append failed, until one succeeds again (health reads it).
        self.failing = False

    async def ensure_indexes(self) -> None:
        """Creates the collection and the indexes auditors query by (time; tenant and time)."""
        await self._collection.create_index([("ts", 1)], name="ts")
        await self._collection.create_index([("tenant_id", 1), ("ts", 1)], name="tenant_ts")

    async def append(
        self,
        operation: str,
        outcome: str,
        *,
        caller: str,
        tenant_id: str | None = None,
        owner_id: str | None = None,
        kind: str | None = None,
        key_id: str | None = None,
        detail: dict[str, int | str] | None = None,
    ) -> int:
        """Appends one record and returns its sequence number; raises AuditUnavailable."""
        async with self._lock:
            for _ in range(_MAX_RACE_RETRIES):
                try:
                    if self._head is None:
                        self._head = await self._load_head()
                    seq, prev_hash = self._head
                    record: dict[str, Any] = {
                        "_id": seq + 1,
                        "ts": _now_ms(),
                        "request_id": current_request_id(),
                        "caller": caller,
                        "operation": operation,
                        "tenant_id": tenant_id,
                        "owner_id": owner_id,
                        "kind": kind,
                        "outcome": outcome,
                        "key_id": key_id,
                        "detail": detail or {},
                        "prev_hash": prev_hash,
                    }
                    record["hash"] = record_hash(record)
                    with metrics.AUDIT_APPEND_SECONDS.time():
                        await self._collection.insert_one(record)
                except DuplicateKeyError:
                    self._head = None
                    continue
                except PyMongoError as err:
                    self._head = None
                    self.failing = True
                    raise AuditUnavailable(f"audit log not writable ({type(err).__name__})") from None
                self._head = (record["_id"], record["hash"])
                self.failing = False
                # One log line per audited call, so the request id shows up in the vault's logs too.
                log.info(
                    "%s %s",
                    operation,
                    outcome,
                    extra=log_fields(
                        audit_seq=record["_id"], caller=caller, tenant_id=tenant_id, kind=kind, key_id=key_id
                    ),
                )
                return record["_id"]
        self.failing = True
        raise AuditUnavailable("audit log head kept moving; gave up appending")

    async def _load_head(self) -> tuple[int, str]:
        last = await self._collection.find_one({}, sort=[("_id", DESCENDING)], projection={"hash": 1})
        return (0, GENESIS_HASH) if last is None else (int(last["_id"]), str(last["hash"]))

    async def head(self) -> tuple[int, str]:
        """The newest record's sequence number and hash as stored now (0 and the genesis hash when empty)."""
        return await self._load_head()

    async def readable(self) -> bool:
        """True when the head of the chain can be read (used by the health check)."""
        try:
            await self._load_head()
            return True
        except PyMongoError:
            return False


@dataclass(frozen=True)
class ChainReport:
    records: int
    head_hash: str
    #: Sequence number of the first record that breaks the chain, or None when intact.
    first_break: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_break is None


async def verify_chain(collection: AsyncCollection) -> ChainReport:
    """Walks the chain from record 1 and reports the first record that does not fit."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    async for record in collection.find({}, sort=[("_id", 1)]):
        seq = record.get("_id")
        if seq != expected_seq:
            return ChainReport(
                count,
                prev_hash,
                expected_seq if isinstance(seq, int) and seq > expected_seq else seq,
                f"expected record {expected_seq}, found {seq!r} (missing or inserted record)",
            )
        if record.get("prev_hash") != prev_hash:
            return ChainReport(count, prev_hash, seq, "prev_hash does not match the previous record's hash")
        if record.get("hash") != record_hash(record):
            return ChainReport(count, prev_hash, seq, "record content does not match its hash (edited)")
        prev_hash, expected_seq, count = record["hash"], expected_seq + 1, count + 1
    return ChainReport(count, prev_hash)

"""Normalized records (`records`) and their change log (`record_changes`).

`records` holds the latest known state of every source record, keyed by
(tenant, connection, stream, record id) — that tuple is the document `_id` —
with the SHA-256 of its canonical JSON. `commit` compares each incoming record with the stored hash: new ids
are *added*, a different hash is *updated*, the same hash is *unchanged* and
writes no change. Every added/updated/deleted record gets the next sequence
number of its stream (allocated by the stream's lease holder) and one entry
in `record_changes`, the feed, whose `_id` is the stream key plus the
zero-padded sequence, so `_id` order is commit order within a stream and
the feed needs no secondary index.

Crash safety without transactions: records are written first, marked with
the (job, batch) that changed them, then the change entries, then the caller
checkpoints the job. A worker that resumes a job replays the uncommitted
batch: a record already carrying (job, batch) is counted as the change it
was, and its change entry is inserted under its original sequence number if
the crash lost it (the entry id is derived from the sequence, so this is
idempotent). Counts and the feed therefore match what a crash-free run
would have produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from connector_service import wire
from connector_service.jobs.leases import StreamLeases, stream_key
from connector_service.jobs.shapes import canonical, content_hash

ADDED, UPDATED, DELETED, UNCHANGED = "added", "updated", "deleted", "unchanged"
_DUPLICATE_KEY = 11000


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def add(self, action: str, n: int = 1) -> None:
        setattr(self, action, getattr(self, action) + n)

    def merge(self, other: Counts) -> None:
        for name in (ADDED, UPDATED, DELETED, UNCHANGED):
            self.add(name, getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {ADDED: self.added, UPDATED: self.updated, DELETED: self.deleted, UNCHANGED: self.unchanged}

    @classmethod
    def from_dict(cls, value: dict[str, int] | None) -> Counts:
        return cls(**{k: int(v) for k, v in (value or {}).items() if k in (ADDED, UPDATED, DELETED, UNCHANGED)})


@dataclass(frozen=True)
class Entry:
    """One record read from the source. `parent_id` is the item of a comment."""

    record_id: str
    record: dict[str, Any]
    container_id: str = ""
    parent_id: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Batch:
    """Who writes which stream, as which batch of which job."""

    tenant_id: str
    connection_id: str
    stream: str
    job_id: str
    number: int
    worker: str
    #: Full syncs mark every record they see, so the final sweep can find deleted ones.
    mark_seen: bool = False

    @property
    def key(self) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "connection_id": self.connection_id, "stream": self.stream}

    @property
    def stamp(self) -> dict[str, Any]:
        return {"job": self.job_id, "batch": self.number}


def change_id(tenant_id: str, connection_id: str, stream: str, seq: int) -> str:
    return f"{stream_key(tenant_id, connection_id, stream)}|{seq:015d}"


def record_key(batch: Batch, record_id: str) -> str:
    return f"{stream_key(batch.tenant_id, batch.connection_id, batch.stream)}|{record_id}"


@dataclass
class _Pending:
    changes: list[dict[str, Any]] = field(default_factory=list)
    replayed: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)


class RecordStore:
    def __init__(self, db: AsyncDatabase, leases: StreamLeases):
        self._records = db["records"]
        self._changes = db["record_changes"]
        self._leases = leases

    async def create_indexes(self) -> None:
        """None beyond `_id`: every query is a key lookup or a range of one stream's `_id` prefix
        (a secondary index would cost a third of the write throughput of a full sync)."""

    async def commit(self, batch: Batch, entries: Iterable[Entry]) -> Counts:
        """Stores a batch of source records; answers what changed."""
        unique = {e.record_id: e for e in entries}
        existing = {d["record_id"]: d async for d in self._records.find(
            {"_id": {"$in": [record_key(batch, r) for r in unique]}, "tenant_id": batch.tenant_id},
            {"record_id": 1, "hash": 1, "deleted": 1, "action": 1, "changed_in": 1, "seq": 1})}
        counts, pending = Counts(), _Pending()
        for entry in unique.values():
            text = canonical(entry.record)
            digest = content_hash(text)
            old = existing.get(entry.record_id)
            replayed = old is not None and old.get("changed_in") == batch.stamp
            if replayed:
                pending.replayed.append(old)
            if old is not None and not old.get("deleted") and old.get("hash") == digest:
                counts.add(old["action"] if replayed else UNCHANGED)
                if batch.mark_seen:
                    pending.seen.append(old["_id"])
                continue
            action = ADDED if old is None or old.get("deleted") else UPDATED
            counts.add(old["action"] if replayed else action)
            pending.changes.append({"entry": entry, "text": text, "hash": digest, "action": action,
                                    "exists": old is not None})
        await self._restore_changes(batch, pending.replayed)
        if pending.changes:
            await self._write(batch, pending.changes)
        if pending.seen:
            await self._records.update_many({"_id": {"$in": pending.seen}}, {"$set": {"seen": batch.job_id}})
        return counts

    async def _write(self, batch: Batch, changes: list[dict[str, Any]]) -> None:
        first = await self._leases.allocate(batch.tenant_id, batch.connection_id, batch.stream, batch.worker,
                                            len(changes))
        moment = wire.now()
        inserts, updates, log = [], [], []
        for offset, change in enumerate(changes):
            entry: Entry = change["entry"]
            seq = first + offset
            fields = {"container_id": entry.container_id, "parent_id": entry.parent_id, "json": change["text"],
                      "hash": change["hash"], "updated_at": entry.updated_at, "deleted": False, "seq": seq,
                      "action": change["action"], "changed_in": batch.stamp, "committed_at": moment,
                      "seen": batch.job_id}
            key = record_key(batch, entry.record_id)
            if change["exists"]:
                updates.append(UpdateOne({"_id": key}, {"$set": fields}))
            else:
                # The stream lease makes this job the only writer, so "not found" above still holds.
                inserts.append({"_id": key, **batch.key, "record_id": entry.record_id, **fields})
            log.append(self._change(batch, seq, entry.record_id, change["action"], change["text"], moment))
        if inserts:
            await self._records.insert_many(inserts, ordered=False)
        if updates:
            await self._records.bulk_write(updates, ordered=False)
        await self._changes.insert_many(log, ordered=True)

    async def delete_unseen(self, batch: Batch, container_ids: list[str] | None, limit: int) -> tuple[Counts, bool]:
        """Marks up to `limit` records this full sync did not see as deleted; answers (counts, more left)."""
        scope: dict[str, Any] = {"_id": _stream_range(batch.tenant_id, batch.connection_id, batch.stream),
                                 **batch.key}
        if container_ids is not None:
            scope["container_id"] = {"$in": container_ids}
        replayed = [d async for d in self._records.find({**scope, "changed_in": batch.stamp, "action": DELETED})]
        await self._restore_changes(batch, replayed)
        counts = Counts(deleted=len(replayed))
        victims = [d async for d in self._records.find(
            {**scope, "deleted": False, "seen": {"$ne": batch.job_id}}, {"record_id": 1, "json": 1}).limit(limit)]
        if victims:
            first = await self._leases.allocate(batch.tenant_id, batch.connection_id, batch.stream, batch.worker,
                                                len(victims))
            moment = wire.now()
            ops, log = [], []
            for offset, doc in enumerate(victims):
                seq = first + offset
                ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": {
                    "deleted": True, "hash": None, "seq": seq, "action": DELETED, "changed_in": batch.stamp,
                    "committed_at": moment}}))
                log.append(self._change(batch, seq, doc["record_id"], DELETED, doc["json"], moment))
            await self._records.bulk_write(ops, ordered=False)
            await self._changes.insert_many(log, ordered=True)
            counts.add(DELETED, len(victims))
        return counts, len(victims) == limit

    async def _restore_changes(self, batch: Batch, replayed: list[dict[str, Any]]) -> None:
        """Re-inserts change entries a crashed attempt of this batch may have lost."""
        if not replayed:
            return
        ids = [d["_id"] for d in replayed]
        docs = [d async for d in self._records.find({"_id": {"$in": ids}})]
        log = [self._change(batch, d["seq"], d["record_id"], d["action"], d["json"], d["committed_at"])
               for d in sorted(docs, key=lambda d: d["seq"])]
        try:
            await self._changes.insert_many(log, ordered=False)
        except BulkWriteError as err:
            if any(e.get("code") != _DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                raise

    @staticmethod
    def _change(batch: Batch, seq: int, record_id: str, action: str, text: str, moment: datetime) -> dict[str, Any]:
        return {"_id": change_id(batch.tenant_id, batch.connection_id, batch.stream, seq), **batch.key, "seq": seq,
                "record_id": record_id, "action": action, "json": text, "committed_at": moment}

    async def items_changed_since(self, tenant_id: str, connection_id: str, container_id: str,
                                  since: datetime | None, after: str, limit: int) -> list[dict[str, Any]]:
        """Stored, non-deleted items of one container (for the comments stream), by record id after `after`."""
        prefix = f"{stream_key(tenant_id, connection_id, 'items')}|"
        query: dict[str, Any] = {"_id": {"$gt": prefix + after, "$lt": prefix + _PAST_ANY_ID},
                                 "tenant_id": tenant_id, "container_id": container_id, "deleted": False}
        if since is not None:
            query["$or"] = [{"updated_at": {"$gte": since}}, {"updated_at": None}]
        cursor = self._records.find(query, {"record_id": 1}).sort("_id", 1).limit(limit)
        return [d async for d in cursor]


#: Sorts after any record id's first character that ids use (ids are printable, below U+FFFF).
_PAST_ANY_ID = "\uffff"


def _stream_range(tenant_id: str, connection_id: str, stream: str) -> dict[str, str]:
    prefix = f"{stream_key(tenant_id, connection_id, stream)}|"
    return {"$gte": prefix, "$lt": prefix + _PAST_ANY_ID}


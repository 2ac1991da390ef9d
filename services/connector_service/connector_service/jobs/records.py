"""Normalized records and their change feed: one document per change (`record_changes`).

Every added, updated or deleted source record is one document, whose `_id`
is its stream key plus its zero-padded sequence number (see `change_id`), so
`_id` order is commit order within a stream and the feed (feed.py) reads
`_id` ranges. The same document is the record's current state while it is
its latest change: it then carries `key`, the record's identity (tenant,
connection, stream, container, record id — see `record_key`), which the
only secondary index (sparse) covers. A later change of that record is a new
document with the key, and the previous one loses its key (it stays in the
feed as history). A deletion is such a document too, a tombstone
(`deleted`), repeating the record's last state.

`commit` looks the batch's keys up: new ids are *added*, a different
SHA-256 of the canonical JSON is *updated*, the same hash is *unchanged* and
writes nothing (a full sync marks it `seen`). So a synced row costs one
document write; an update also unsets the key on its previous document.

Crash safety without transactions: a batch allocates its sequence range
together with a `pending` claim {job, batch, count} on the stream
(leases.py), inserts its documents in sequence order (a crash leaves a
prefix), then unsets the keys of the documents they supersede, then the
caller checkpoints the job. A crash between the two writes leaves two
documents with one key; the next writer of the stream repairs the claimed
range first (the newest document keeps the key), and every lookup trusts
the newest anyway. The resumed job replays the batch, and a current
document already stamped with (job, batch) is counted as the change it was.
Sequence numbers the lost attempt allocated but never wrote stay unused (the
feed tolerates gaps and never fills one later). Counts and the feed
therefore match what a crash-free run would have produced.

Data written by the earlier two-document layout (`records` pointers beside
the change log, some keyed without their container) is folded in by
`legacy.migrate_pointers`, run at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from connector_service.jobs.leases import StreamLeases, stream_key
from connector_service.jobs.shapes import ITEMS, canonical, content_hash
from connector_service.platform import wire

ADDED, UPDATED, DELETED, UNCHANGED = "added", "updated", "deleted", "unchanged"


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
    #: The record's canonical JSON, when computed ahead (`Entry.of`); else `commit` computes it.
    text: str = ""

    @classmethod
    def of(
        cls,
        record_id: str,
        record: dict[str, Any],
        container_id: str = "",
        parent_id: str = "",
        updated_at: datetime | None = None,
    ) -> Entry:
        """An entry with its canonical text computed now (e.g. while the previous batch is written)."""
        return cls(record_id, record, container_id, parent_id, updated_at, canonical(record))


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


def record_key(batch: Batch, record_id: str, container_id: str = "") -> str:
    return identity(batch.tenant_id, batch.connection_id, batch.stream, record_id, container_id)


def identity(tenant_id: str, connection_id: str, stream: str, record_id: str, container_id: str = "") -> str:
    """A record's `key`. Records of a container carry the container in it: some providers number
    items per container (GitHub issue #1 exists in every repository), so the record id alone collides."""
    base = stream_key(tenant_id, connection_id, stream)
    return f"{base}|{container_id}|{record_id}" if container_id else f"{base}|{record_id}"


class RecordStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], leases: StreamLeases):
        self._changes = db["record_changes"]
        self._leases = leases
        #: (stream key, job, worker) whose stream's last claimed range was already repaired.
        self._recovered: set[tuple[str, str, str]] = set()

    async def create_indexes(self) -> None:
        """The current-state index: `key` exists only on a record's latest change (sparse), so its
        ranges cover current records and no history; the feed reads `_id` ranges."""
        await self._changes.create_index([("key", 1)], sparse=True)

    async def commit(self, batch: Batch, entries: Iterable[Entry]) -> Counts:
        """Stores a batch of source records; answers what changed."""
        await self._recover(batch)
        unique = {record_key(batch, e.record_id, e.container_id): e for e in entries}
        existing = await self._current(batch.tenant_id, list(unique))
        counts, changes, seen = Counts(), [], []
        for key, entry in unique.items():
            text = entry.text or canonical(entry.record)
            digest = content_hash(text)
            old = existing.get(key)
            replayed = old is not None and old.get("changed_in") == batch.stamp
            if old is not None and not old.get("deleted") and old.get("hash") == digest:
                counts.add(old["action"] if replayed else UNCHANGED)
                if batch.mark_seen:
                    seen.append(old["_id"])
                continue
            action = ADDED if old is None or old.get("deleted") else UPDATED
            counts.add(old["action"] if replayed and old is not None else action)
            changes.append(_Change(key, entry, text, digest, action, None if old is None else old["_id"]))
        if changes:
            await self._write(batch, changes)
        if seen:
            await self._changes.update_many({"_id": {"$in": seen}}, {"$set": {"seen": batch.job_id}})
        return counts

    async def _current(self, tenant_id: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The latest change of each key that has one (the newest, should a crash have left two)."""
        found: dict[str, dict[str, Any]] = {}
        async for d in self._changes.find(
            {"key": {"$in": keys}, "tenant_id": tenant_id},
            {"key": 1, "hash": 1, "deleted": 1, "action": 1, "changed_in": 1},
        ):
            if d["key"] not in found or d["_id"] > found[d["key"]]["_id"]:
                found[d["key"]] = d
        return found

    async def _write(self, batch: Batch, changes: list[_Change]) -> None:
        first = await self._allocate(batch, len(changes))
        moment = wire.now()
        docs = []
        for offset, change in enumerate(changes):
            entry = change.entry
            doc = _document(
                batch, first + offset, change.key, entry.record_id, change.action, change.text, moment, entry
            )
            doc.update(hash=change.digest, deleted=False, seen=batch.job_id)
            docs.append(doc)
        await self._changes.insert_many(docs, ordered=True)
        await self._supersede([c.previous for c in changes if c.previous is not None])

    async def _supersede(self, ids: list[str]) -> None:
        """The documents that are no longer their record's latest change lose the key."""
        if ids:
            await self._changes.update_many({"_id": {"$in": ids}}, {"$unset": {"key": ""}})

    async def delete_unseen(self, batch: Batch, container_ids: list[str] | None, limit: int) -> tuple[Counts, bool]:
        """Writes tombstones for up to `limit` records this full sync did not see; answers (counts, more left)."""
        await self._recover(batch)
        scope: dict[str, Any] = {"key": _stream_range(batch), "tenant_id": batch.tenant_id}
        if container_ids is not None:
            scope["container_id"] = {"$in": container_ids}
        counts = Counts(
            deleted=await self._changes.count_documents({**scope, "changed_in": batch.stamp, "action": DELETED})
        )
        victims = [
            d
            async for d in self._changes.find(
                {**scope, "deleted": False, "seen": {"$ne": batch.job_id}},
                {"key": 1, "record_id": 1, "json": 1, "container_id": 1, "parent_id": 1, "updated_at": 1},
            ).limit(limit)
        ]
        if victims:
            first = await self._allocate(batch, len(victims))
            moment = wire.now()
            tombstones = []
            for offset, doc in enumerate(victims):
                entry = Entry(
                    doc["record_id"], {}, doc.get("container_id", ""), doc.get("parent_id", ""), doc.get("updated_at")
                )
                tombstone = _document(
                    batch, first + offset, doc["key"], doc["record_id"], DELETED, doc["json"], moment, entry
                )
                tombstone.update(hash=None, deleted=True)
                tombstones.append(tombstone)
            await self._changes.insert_many(tombstones, ordered=True)
            await self._supersede([d["_id"] for d in victims])
            counts.add(DELETED, len(victims))
        return counts, len(victims) == limit

    async def _allocate(self, batch: Batch, count: int) -> int:
        return await self._leases.allocate(
            batch.tenant_id, batch.connection_id, batch.stream, batch.worker, count, claim=batch.stamp
        )

    async def _recover(self, batch: Batch) -> None:
        """Once per (stream, job, worker): the stream's last claimed range (whichever job wrote it) may
        hold documents whose superseded predecessors kept their key (a crash between the two writes);
        those lose it now, so every key is on exactly one document again."""
        marker = (record_key(batch, ""), batch.job_id, batch.worker)
        if marker in self._recovered:
            return
        stream = await self._leases.holder(batch.tenant_id, batch.connection_id, batch.stream) or {}
        claim = stream.get("pending") or {}
        if claim:
            last = int(stream["seq"])
            first = last - int(claim["count"]) + 1
            bounds = {
                "$gte": change_id(batch.tenant_id, batch.connection_id, batch.stream, first),
                "$lte": change_id(batch.tenant_id, batch.connection_id, batch.stream, last),
            }
            keys = [
                d["key"]
                async for d in self._changes.find(
                    {"_id": bounds, "tenant_id": batch.tenant_id, "key": {"$exists": True}}, {"key": 1}
                )
            ]
            await resolve_duplicates(self._changes, batch.tenant_id, keys)
        self._recovered.add(marker)

    async def items_changed_since(
        self, tenant_id: str, connection_id: str, container_id: str, since: datetime | None, after: str, limit: int
    ) -> list[dict[str, Any]]:
        """Stored, non-deleted items of one container (for the comments stream), by record id after `after`."""
        base = stream_key(tenant_id, connection_id, ITEMS)
        prefix = f"{base}|{container_id}|" if container_id else f"{base}|"
        query: dict[str, Any] = {
            "key": {"$gt": prefix + after, "$lt": prefix + _PAST_ANY_ID},
            "tenant_id": tenant_id,
            "container_id": container_id,
            "deleted": False,
        }
        if since is not None:
            query["$or"] = [{"updated_at": {"$gte": since}}, {"updated_at": None}]
        cursor = self._changes.find(query, {"record_id": 1}).sort("key", 1).limit(limit)
        return [d async for d in cursor]


@dataclass(frozen=True)
class _Change:
    key: str
    entry: Entry
    text: str
    digest: str
    action: str
    #: The `_id` of the record's latest change so far (None for a record never seen).
    previous: str | None


def _document(
    batch: Batch, seq: int, key: str, record_id: str, action: str, text: str, moment: datetime, entry: Entry
) -> dict[str, Any]:
    """A change document, current (it carries `key`); the caller adds hash, deleted and seen."""
    doc = {
        "_id": change_id(batch.tenant_id, batch.connection_id, batch.stream, seq),
        **batch.key,
        "seq": seq,
        "key": key,
        "record_id": record_id,
        "action": action,
        "json": text,
        "committed_at": moment,
        "container_id": entry.container_id,
        "updated_at": entry.updated_at,
        "changed_in": batch.stamp,
    }
    if entry.parent_id:
        doc["parent_id"] = entry.parent_id
    return doc


async def resolve_duplicates(changes: AsyncCollection[dict[str, Any]], tenant_id: str, keys: list[str]) -> None:
    """Of the documents that carry one of `keys`, only the newest (highest sequence) keeps it."""
    newest: dict[str, str] = {}
    older: list[str] = []
    async for d in changes.find({"key": {"$in": keys}, "tenant_id": tenant_id}, {"key": 1}).sort("_id", 1):
        if d["key"] in newest:
            older.append(newest[d["key"]])
        newest[d["key"]] = d["_id"]
    if older:
        await changes.update_many({"_id": {"$in": older}}, {"$unset": {"key": ""}})


#: Sorts after any record id's first character that ids use (ids are printable, below U+FFFF).
_PAST_ANY_ID = "\uffff"


def _stream_range(batch: Batch) -> dict[str, str]:
    prefix = f"{stream_key(batch.tenant_id, batch.connection_id, batch.stream)}|"
    return {"$gte": prefix, "$lt": prefix + _PAST_ANY_ID}

"""Normalized records (`records`) and their change log (`record_changes`).

`records` holds the latest known state of every source record, keyed by
(tenant, connection, stream, container, record id) — that tuple is the
document `_id`; the container is part of it because item ids are only unique
within their container on some providers (GitHub issue numbers) —
as the SHA-256 of its canonical JSON plus the sequence number of its last
change; the canonical JSON itself is stored once, in that change entry.
`commit` compares each incoming record with the stored hash: new ids
are *added*, a different hash is *updated*, the same hash is *unchanged* and
writes no change. Every added/updated/deleted record gets the next sequence
number of its stream (allocated by the stream's lease holder) and one entry
in `record_changes`, the feed, whose `_id` is the stream key plus the
zero-padded sequence, so `_id` order is commit order within a stream and
the feed needs no secondary index. A deletion's entry repeats the record's
last state, read from the entry its `records` document points to.

Crash safety without transactions: a batch allocates its sequence range
together with a `pending` claim {job, batch, count} on the stream
(leases.py), writes its change entries (in sequence order, so a crash leaves
a prefix), then the `records` documents stamped with (job, batch), then the
caller checkpoints the job. A worker that resumes the job first rolls the
claimed range forward: every entry the lost attempt wrote is applied to
`records` (idempotently); then it replays the batch, and a record already
carrying (job, batch) is counted as the change it was. Sequence numbers the
lost attempt allocated but never wrote stay unused (the feed tolerates gaps
and never fills one later). Counts and the feed therefore match what a
crash-free run would have produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from connector_service.jobs.leases import StreamLeases, stream_key
from connector_service.jobs.shapes import canonical, content_hash
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
    """A record's `_id`. Records of a container carry the container in the key: some providers number
    items per container (GitHub issue #1 exists in every repository), so the record id alone collides."""
    base = stream_key(batch.tenant_id, batch.connection_id, batch.stream)
    return f"{base}|{container_id}|{record_id}" if container_id else f"{base}|{record_id}"


@dataclass
class _Pending:
    changes: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)


class RecordStore:
    def __init__(self, db: AsyncDatabase, leases: StreamLeases):
        self._records = db["records"]
        self._changes = db["record_changes"]
        self._leases = leases
        #: (stream key, job, worker) whose crashed predecessor's pending range was already rolled forward.
        self._recovered: set[tuple[str, str, str]] = set()

    async def create_indexes(self) -> None:
        """None beyond `_id`: every query is a key lookup or a range of one stream's `_id` prefix
        (a secondary index would cost a third of the write throughput of a full sync)."""

    async def commit(self, batch: Batch, entries: Iterable[Entry]) -> Counts:
        """Stores a batch of source records; answers what changed."""
        await self._recover(batch)
        unique = {record_key(batch, e.record_id, e.container_id): e for e in entries}
        existing = {
            d["_id"]: d
            async for d in self._records.find(
                {"_id": {"$in": list(unique)}, "tenant_id": batch.tenant_id},
                {"record_id": 1, "hash": 1, "deleted": 1, "action": 1, "changed_in": 1},
            )
        }
        counts, pending = Counts(), _Pending()
        for key, entry in unique.items():
            text = entry.text or canonical(entry.record)
            digest = content_hash(text)
            old = existing.get(key)
            replayed = old is not None and old.get("changed_in") == batch.stamp
            if old is not None and not old.get("deleted") and old.get("hash") == digest:
                counts.add(old["action"] if replayed else UNCHANGED)
                if batch.mark_seen:
                    pending.seen.append(old["_id"])
                continue
            action = ADDED if old is None or old.get("deleted") else UPDATED
            counts.add(old["action"] if replayed else action)
            pending.changes.append(
                {"entry": entry, "text": text, "hash": digest, "action": action, "exists": old is not None}
            )
        if pending.changes:
            await self._write(batch, pending.changes)
        if pending.seen:
            await self._records.update_many({"_id": {"$in": pending.seen}}, {"$set": {"seen": batch.job_id}})
        return counts

    async def _write(self, batch: Batch, changes: list[dict[str, Any]]) -> None:
        first = await self._allocate(batch, len(changes))
        moment = wire.now()
        inserts, updates, log = [], [], []
        for offset, change in enumerate(changes):
            entry: Entry = change["entry"]
            seq = first + offset
            fields = _state(
                batch, seq, change["action"], change["hash"], entry.container_id, entry.parent_id, entry.updated_at
            )
            key = record_key(batch, entry.record_id, entry.container_id)
            if change["exists"]:
                updates.append(UpdateOne({"_id": key}, {"$set": fields}))
            else:
                # The stream lease makes this job the only writer, so "not found" above still holds.
                inserts.append(
                    {
                        "_id": key,
                        "tenant_id": batch.tenant_id,
                        "connection_id": batch.connection_id,
                        "record_id": entry.record_id,
                        **fields,
                    }
                )
            log.append(
                _change(
                    batch,
                    seq,
                    entry.record_id,
                    change["action"],
                    change["text"],
                    moment,
                    entry.container_id,
                    entry.parent_id,
                    entry.updated_at,
                )
            )
        await self._changes.insert_many(log, ordered=True)
        if inserts:
            await self._records.insert_many(inserts, ordered=False)
        if updates:
            await self._records.bulk_write(updates, ordered=False)

    async def delete_unseen(self, batch: Batch, container_ids: list[str] | None, limit: int) -> tuple[Counts, bool]:
        """Marks up to `limit` records this full sync did not see as deleted; answers (counts, more left)."""
        await self._recover(batch)
        scope: dict[str, Any] = {
            "_id": _stream_range(batch.tenant_id, batch.connection_id, batch.stream),
            "tenant_id": batch.tenant_id,
            "connection_id": batch.connection_id,
        }
        if container_ids is not None:
            scope["container_id"] = {"$in": container_ids}
        counts = Counts(
            deleted=await self._records.count_documents({**scope, "changed_in": batch.stamp, "action": DELETED})
        )
        victims = [
            d
            async for d in self._records.find(
                {**scope, "deleted": False, "seen": {"$ne": batch.job_id}},
                {"record_id": 1, "seq": 1, "json": 1, "container_id": 1, "parent_id": 1, "updated_at": 1},
            ).limit(limit)
        ]
        if victims:
            # The last state of each victim: the change entry its record points to (records written
            # before the change log held the full record kept a copy in `json`).
            last = {
                v["seq"]: change_id(batch.tenant_id, batch.connection_id, batch.stream, v["seq"])
                for v in victims
                if "json" not in v
            }
            texts = (
                {
                    d["_id"]: d["json"]
                    async for d in self._changes.find({"_id": {"$in": list(last.values())}}, {"json": 1})
                }
                if last
                else {}
            )
            first = await self._allocate(batch, len(victims))
            moment = wire.now()
            ops, log = [], []
            for offset, doc in enumerate(victims):
                seq = first + offset
                text = doc["json"] if "json" in doc else texts.get(last[doc["seq"]], "null")
                ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": _deleted(batch, seq)}))
                log.append(
                    _change(
                        batch,
                        seq,
                        doc["record_id"],
                        DELETED,
                        text,
                        moment,
                        doc.get("container_id", ""),
                        doc.get("parent_id", ""),
                        doc.get("updated_at"),
                    )
                )
            await self._changes.insert_many(log, ordered=True)
            await self._records.bulk_write(ops, ordered=False)
            counts.add(DELETED, len(victims))
        return counts, len(victims) == limit

    async def _allocate(self, batch: Batch, count: int) -> int:
        return await self._leases.allocate(
            batch.tenant_id, batch.connection_id, batch.stream, batch.worker, count, claim=batch.stamp
        )

    async def _recover(self, batch: Batch) -> None:
        """Once per (stream, job, worker): applies to `records` the change entries that a crashed attempt of
        this very batch wrote (its `pending` claim) before it could write the records themselves."""
        marker = (record_key(batch, ""), batch.job_id, batch.worker)
        if marker in self._recovered:
            return
        stream = await self._leases.holder(batch.tenant_id, batch.connection_id, batch.stream) or {}
        claim = stream.get("pending") or {}
        if claim.get("job") == batch.job_id and claim.get("batch") == batch.number:
            last = int(stream["seq"])
            first = last - int(claim["count"]) + 1
            ops = []
            async for d in self._changes.find(
                {
                    "_id": {
                        "$gte": change_id(batch.tenant_id, batch.connection_id, batch.stream, first),
                        "$lte": change_id(batch.tenant_id, batch.connection_id, batch.stream, last),
                    },
                    "tenant_id": batch.tenant_id,
                }
            ).sort("_id", 1):
                if d["action"] == DELETED:
                    update: dict[str, Any] = {"$set": _deleted(batch, d["seq"])}
                else:
                    update = {
                        "$set": _state(
                            batch,
                            d["seq"],
                            d["action"],
                            content_hash(d["json"]),
                            d.get("container_id", ""),
                            d.get("parent_id", ""),
                            d.get("updated_at"),
                        ),
                        "$setOnInsert": {
                            "tenant_id": batch.tenant_id,
                            "connection_id": batch.connection_id,
                            "record_id": d["record_id"],
                        },
                    }
                key = record_key(batch, d["record_id"], d.get("container_id", ""))
                ops.append(UpdateOne({"_id": key}, update, upsert=True))
            if ops:
                await self._records.bulk_write(ops, ordered=True)
        self._recovered.add(marker)

    async def items_changed_since(
        self, tenant_id: str, connection_id: str, container_id: str, since: datetime | None, after: str, limit: int
    ) -> list[dict[str, Any]]:
        """Stored, non-deleted items of one container (for the comments stream), by record id after `after`."""
        prefix = (
            f"{stream_key(tenant_id, connection_id, 'items')}|{container_id}|"
            if container_id
            else (f"{stream_key(tenant_id, connection_id, 'items')}|")
        )
        query: dict[str, Any] = {
            "_id": {"$gt": prefix + after, "$lt": prefix + _PAST_ANY_ID},
            "tenant_id": tenant_id,
            "container_id": container_id,
            "deleted": False,
        }
        if since is not None:
            query["$or"] = [{"updated_at": {"$gte": since}}, {"updated_at": None}]
        cursor = self._records.find(query, {"record_id": 1}).sort("_id", 1).limit(limit)
        return [d async for d in cursor]


def _state(
    batch: Batch, seq: int, action: str, digest: str, container_id: str, parent_id: str, updated_at: datetime | None
) -> dict[str, Any]:
    """A `records` document's fields after an added/updated change (the record itself is in its change entry)."""
    return {
        "container_id": container_id,
        "parent_id": parent_id,
        "hash": digest,
        "updated_at": updated_at,
        "deleted": False,
        "seq": seq,
        "action": action,
        "changed_in": batch.stamp,
        "seen": batch.job_id,
    }


def _deleted(batch: Batch, seq: int) -> dict[str, Any]:
    return {"deleted": True, "hash": None, "seq": seq, "action": DELETED, "changed_in": batch.stamp}


def _change(
    batch: Batch,
    seq: int,
    record_id: str,
    action: str,
    text: str,
    moment: datetime,
    container_id: str,
    parent_id: str,
    updated_at: datetime | None,
) -> dict[str, Any]:
    doc = {
        "_id": change_id(batch.tenant_id, batch.connection_id, batch.stream, seq),
        **batch.key,
        "seq": seq,
        "record_id": record_id,
        "action": action,
        "json": text,
        "committed_at": moment,
        "container_id": container_id,
        "updated_at": updated_at,
    }
    if parent_id:
        doc["parent_id"] = parent_id
    return doc


#: Sorts after any record id's first character that ids use (ids are printable, below U+FFFF).
_PAST_ANY_ID = "\uffff"


def _stream_range(tenant_id: str, connection_id: str, stream: str) -> dict[str, str]:
    prefix = f"{stream_key(tenant_id, connection_id, stream)}|"
    return {"$gte": prefix, "$lt": prefix + _PAST_ANY_ID}

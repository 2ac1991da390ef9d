"""Normalized records and their change feed: one index-free document per synced change.

Three collections, each read only by `_id`:

- `record_state`: one document per record, `_id` = its key (tenant,
  connection, stream, container, record id — see `identity`). It is the
  record's latest change: sequence number, action, canonical JSON, SHA-256 of
  that JSON, deleted flag (a tombstone repeats the last state), full-sync mark
  and the (job, batch) that wrote it.
- `record_changes`: superseded changes, `_id` = stream key + zero-padded
  sequence (`change_id`). Just before an update or a deletion overwrites a
  record's state, that state is copied here under its own sequence, so the
  feed keeps every change of a record, not only its latest.
- `record_batches`: one manifest per committed batch, `_id` = the `change_id`
  of the batch's last sequence, listing the key of each sequence of its range
  (None where a crash left a number unused). The feed (feed.py) reads
  manifests in `_id` order, then the states they name, then, for a sequence
  whose record has moved on, the superseded copy.

`commit` looks the batch's keys up: new ids are *added*, a different hash is
*updated*, the same hash is *unchanged* and writes nothing (a full sync marks
it `seen`). So a new synced row costs one inserted document; an update or a
deletion also one copy of the state it replaces; a batch one manifest.

Write order: the sequence range is allocated with a `pending` claim {job,
batch, count} on the stream (leases.py); superseded states are copied aside;
states are inserted or replaced; then the manifest is inserted, which makes
the whole batch visible to the feed at once; then the caller checkpoints.
A reader never sees half a batch, and one that reads a state which has moved
on finds the copy, written before the state changed.

Crash safety without transactions: a worker that died inside a batch leaves
states stamped with that batch and no manifest. The next writer of the
stream (whichever job) first repairs the stream's last claim: without its
manifest, it finds the states stamped with the claim and writes the manifest
for them (unused numbers are gaps, which the feed skips), so what was
written is published exactly once. The resumed job replays the batch, and a
state already stamped with (job, batch) counts as the change it was. Counts
and the feed therefore match what a crash-free run would have produced.
Before it publishes, the repairing writer records the range as sealed on the
stream. A state that a stalled (not dead) worker still writes into a sealed
range afterwards is not in its manifest: the next lookup of that record puts
back the state it superseded (or removes it, for a new record), so the late
write never reaches the feed. Replacements match the sequence they read, so
a late write can neither overwrite a newer state nor be overwritten unnoticed
(`ConcurrentWrite`).

Data written by earlier layouts is moved in by `legacy.migrate`, at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from connector_service.jobs.leases import StreamLeases, stream_key
from connector_service.jobs.shapes import ITEMS, canonical, content_hash
from connector_service.platform import by_id, wire
from connector_service.platform.writes import duplicate_indexes

ADDED, UPDATED, DELETED, UNCHANGED = "added", "updated", "deleted", "unchanged"
STATE, HISTORY, BATCHES = "record_state", "record_changes", "record_batches"
#: What a lookup needs of a state to classify a row.
_LOOKUP = {"hash": 1, "deleted": 1, "action": 1, "changed_in": 1, "seq": 1, "prev": 1}
#: The `_id` index, named for `_id` range reads: MongoDB picks it for them anyway; SecantusDB
#: (tests, local default) plans an unhinted range as a scan of the whole collection.
BY_ID = [("_id", 1)]


class ConcurrentWrite(Exception):
    """A record's state changed between this batch's lookup and its write (a writer that had lost
    the stream wrote late); nothing of the batch is published, and the next writer repairs it."""


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

    def change_id(self, seq: int) -> str:
        return change_id(self.tenant_id, self.connection_id, self.stream, seq)

    @property
    def prefix(self) -> str:
        return stream_prefix(self.tenant_id, self.connection_id, self.stream)


def stream_prefix(tenant_id: str, connection_id: str, stream: str) -> str:
    """What every key and change id of a stream starts with."""
    return f"{stream_key(tenant_id, connection_id, stream)}|"


def change_id(tenant_id: str, connection_id: str, stream: str, seq: int) -> str:
    return f"{stream_key(tenant_id, connection_id, stream)}|{seq:015d}"


def record_key(batch: Batch, record_id: str, container_id: str = "") -> str:
    return identity(batch.tenant_id, batch.connection_id, batch.stream, record_id, container_id)


def identity(tenant_id: str, connection_id: str, stream: str, record_id: str, container_id: str = "") -> str:
    """A record's `key`. Records of a container carry the container in it: some providers number
    items per container (GitHub issue #1 exists in every repository), so the record id alone collides."""
    base = stream_key(tenant_id, connection_id, stream)
    return f"{base}|{container_id}|{record_id}" if container_id else f"{base}|{record_id}"


def manifest(tenant_id: str, connection_id: str, stream: str, first: int, keys: list[str | None]) -> dict[str, Any]:
    """The manifest of sequences first … first + len(keys) − 1 (keys without the stream prefix)."""
    prefix = stream_prefix(tenant_id, connection_id, stream)
    return {
        "_id": change_id(tenant_id, connection_id, stream, first + len(keys) - 1),
        "tenant_id": tenant_id,
        "connection_id": connection_id,
        "stream": stream,
        "first": first,
        "keys": [None if k is None else k[len(prefix) :] for k in keys],
    }


def superseded(state: dict[str, Any]) -> dict[str, Any]:
    """The copy of a state kept in `record_changes` once a later change replaces it."""
    tenant_id, connection_id, stream, seq = state["tenant_id"], state["connection_id"], state["stream"], state["seq"]
    copy = {
        "_id": change_id(tenant_id, connection_id, stream, seq),
        "tenant_id": tenant_id,
        "connection_id": connection_id,
        "stream": stream,
        "seq": seq,
        "record_id": state["record_id"],
        "action": state["action"],
        "json": state["json"],
        "committed_at": state["committed_at"],
        "container_id": state.get("container_id", ""),
        "updated_at": state.get("updated_at"),
        "hash": state.get("hash"),
        "deleted": bool(state.get("deleted")),
        "prev": state.get("prev"),
    }
    if state.get("parent_id"):
        copy["parent_id"] = state["parent_id"]
    return copy


async def insert_ignoring_duplicates(collection: AsyncCollection[dict[str, Any]], docs: list[dict[str, Any]]) -> None:
    """Inserts what is not there yet; a document whose `_id` exists is the same one, written before."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as err:
        duplicate_indexes(err)


class RecordStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], leases: StreamLeases):
        self._state = db[STATE]
        self._history = db[HISTORY]
        self._batches = db[BATCHES]
        self._leases = leases
        #: Per (stream key, job, worker) whose stream's last claim was already repaired: the
        #: stream's sealed ranges (see `_recover`).
        self._recovered: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        #: (stream prefix, job) whose last lookup found no record: the next batch is inserted first.
        self._new_only: set[tuple[str, str]] = set()

    async def commit(self, batch: Batch, entries: Iterable[Entry]) -> Counts:
        """Stores a batch of source records; answers what changed."""
        sealed = await self._recover(batch)
        unique = {record_key(batch, e.record_id, e.container_id): e for e in entries}
        counts, changes, seen = Counts(), [], []
        stream = (batch.prefix, batch.job_id)
        if stream in self._new_only:
            unique = await self._insert_new(batch, unique, counts)
        existing = await self._lookup(batch, list(unique), sealed) if unique else {}
        if existing:
            self._new_only.discard(stream)
        elif unique:
            self._new_only.add(stream)
        for key, entry in unique.items():
            text = entry.text or canonical(entry.record)
            digest = content_hash(text)
            old = existing.get(key)
            replayed = old is not None and old.get("changed_in") == batch.stamp
            if old is not None and not old.get("deleted") and old.get("hash") == digest:
                counts.add(old["action"] if replayed else UNCHANGED)
                if batch.mark_seen:
                    seen.append(key)
                continue
            action = ADDED if old is None or old.get("deleted") else UPDATED
            counts.add(old["action"] if replayed and old is not None else action)
            changes.append(_Change(key, entry, text, digest, action, old))
        if changes:
            await self._write(batch, changes)
        if seen:
            await by_id.update(self._state, seen, {"tenant_id": batch.tenant_id}, {"$set": {"seen": batch.job_id}})
        return counts

    async def _insert_new(self, batch: Batch, unique: dict[str, Entry], counts: Counts) -> dict[str, Entry]:
        """Inserts every entry as a new record, without a lookup, and publishes those that were new;
        answers the entries whose record exists (for the lookup). Used while a job's lookups on a
        stream find nothing, as in a first sync, where the lookup is a tenth of the database's work."""
        if not unique:
            return unique
        first = await self._allocate(batch, len(unique))
        moment = wire.now()
        states = []
        for offset, (key, entry) in enumerate(unique.items()):
            text = entry.text or canonical(entry.record)
            states.append(_state(batch, first + offset, key, ADDED, text, moment, entry, content_hash(text), None))
        exists: set[str] = set()
        try:
            await self._state.insert_many(states, ordered=False)
        except BulkWriteError as err:
            exists = {states[i]["_id"] for i in duplicate_indexes(err)}
        keys = [None if s["_id"] in exists else s["_id"] for s in states]
        await self._batches.insert_one(manifest(batch.tenant_id, batch.connection_id, batch.stream, first, keys))
        counts.add(ADDED, len(states) - len(exists))
        return {k: e for k, e in unique.items() if k in exists}

    async def _lookup(self, batch: Batch, keys: list[str], sealed: list[tuple[int, int]]) -> dict[str, dict[str, Any]]:
        """The committed state of each key that has one."""
        found = await by_id.find(self._state, keys, {"tenant_id": batch.tenant_id}, _LOOKUP)
        return {d["_id"]: d for d in await self._committed(batch, found, sealed)}

    async def _committed(
        self, batch: Batch, states: list[dict[str, Any]], sealed: list[tuple[int, int]]
    ) -> list[dict[str, Any]]:
        """`states` as committed. A state written into a sealed range after that range was published
        (by a writer that had stalled past its lease) is not in the range's manifest: the record's
        committed state is the one it superseded (`prev`, copied aside before), which is put back,
        or none, and the late state is removed."""
        suspects = [d for d in states if any(a <= d["seq"] <= b for a, b in sealed)]
        if not suspects:
            return states
        listed: dict[int, list[str | None]] = {}
        for first, last in sealed:
            doc = await self._batches.find_one({"_id": batch.change_id(last), "tenant_id": batch.tenant_id})
            listed[first] = [None if k is None else batch.prefix + k for k in (doc or {}).get("keys", [])]
        late: dict[str, dict[str, Any] | None] = {}
        for d in suspects:
            first = next(a for a, b in sealed if a <= d["seq"] <= b)
            keys, offset = listed[first], d["seq"] - first
            if offset < len(keys) and keys[offset] == d["_id"]:
                continue
            copy = None
            if d.get("prev") is not None:
                copy = await self._history.find_one({"_id": batch.change_id(d["prev"]), "tenant_id": batch.tenant_id})
            only = {"_id": d["_id"], "tenant_id": batch.tenant_id, "seq": d["seq"]}
            restored = None if copy is None else _restored(d["_id"], copy)
            if restored is None:
                await self._state.delete_one(only)
            else:
                await self._state.replace_one(only, restored)
            late[d["_id"]] = restored
        kept = []
        for d in states:
            now = late[d["_id"]] if d["_id"] in late else d
            if now is not None:
                kept.append(now)
        return kept

    async def _write(self, batch: Batch, changes: list[_Change]) -> None:
        first = await self._allocate(batch, len(changes))
        moment = wire.now()
        states = []
        for offset, change in enumerate(changes):
            prev = None if change.old is None else change.old["seq"]
            seq, key, entry = first + offset, change.key, change.entry
            states.append(_state(batch, seq, key, change.action, change.text, moment, entry, change.digest, prev))
        await self._publish(batch, first, states, changes)

    async def _publish(self, batch: Batch, first: int, states: list[dict[str, Any]], changes: list[_Change]) -> None:
        """Copies the replaced states aside, writes the new ones, then the manifest (the batch is
        visible from then on)."""
        replaced = [c.key for c in changes if c.old is not None]
        if replaced:
            old = await by_id.find(self._state, replaced, {"tenant_id": batch.tenant_id})
            await insert_ignoring_duplicates(self._history, [superseded(d) for d in old])
        fresh = [s for s, c in zip(states, changes, strict=True) if c.old is None]
        if fresh:
            await self._state.insert_many(fresh, ordered=False)
        # Each replacement matches the state this batch read: a stalled writer's late write can
        # neither overwrite a newer state nor be overwritten unnoticed.
        overwrite = [
            ReplaceOne({"_id": s["_id"], "tenant_id": batch.tenant_id, "seq": c.old["seq"]}, s)
            for s, c in zip(states, changes, strict=True)
            if c.old is not None
        ]
        if overwrite and (await self._state.bulk_write(overwrite, ordered=False)).matched_count != len(overwrite):
            raise ConcurrentWrite(f"records of stream {batch.stream} changed while this batch wrote them")
        doc = manifest(batch.tenant_id, batch.connection_id, batch.stream, first, [s["_id"] for s in states])
        await self._batches.insert_one(doc)

    async def delete_unseen(self, batch: Batch, container_ids: list[str] | None, limit: int) -> tuple[Counts, bool]:
        """Writes tombstones for up to `limit` records this full sync did not see; answers (counts, more left)."""
        sealed = await self._recover(batch)
        scope: dict[str, Any] = {"_id": _stream_range(batch), "tenant_id": batch.tenant_id}
        if container_ids is not None:
            scope["container_id"] = {"$in": container_ids}
        counts = Counts(
            deleted=await self._state.count_documents(
                {**scope, "changed_in": batch.stamp, "action": DELETED}, hint=BY_ID
            )
        )
        unseen = [
            d
            async for d in self._state.find({**scope, "deleted": False, "seen": {"$ne": batch.job_id}})
            .hint(BY_ID)
            .limit(limit)
        ]
        victims = [d for d in await self._committed(batch, unseen, sealed) if not d.get("deleted")]
        if victims:
            first = await self._allocate(batch, len(victims))
            moment = wire.now()
            tombstones, changes = [], []
            for offset, doc in enumerate(victims):
                entry = Entry(
                    doc["record_id"], {}, doc.get("container_id", ""), doc.get("parent_id", ""), doc.get("updated_at")
                )
                seq = first + offset
                tombstones.append(_state(batch, seq, doc["_id"], DELETED, doc["json"], moment, entry, None, doc["seq"]))
                changes.append(_Change(doc["_id"], entry, doc["json"], "", DELETED, doc))
            await self._publish(batch, first, tombstones, changes)
            counts.add(DELETED, len(victims))
        return counts, len(unseen) == limit

    async def _allocate(self, batch: Batch, count: int) -> int:
        return await self._leases.allocate(
            batch.tenant_id, batch.connection_id, batch.stream, batch.worker, count, claim=batch.stamp
        )

    async def _recover(self, batch: Batch) -> list[tuple[int, int]]:
        """Once per (stream, job, worker): publishes the stream's last claim if a writer died before
        its manifest (whichever job it was); answers the stream's sealed ranges."""
        marker = (batch.prefix, batch.job_id, batch.worker)
        if marker in self._recovered:
            return self._recovered[marker]
        stream = await self._leases.holder(batch.tenant_id, batch.connection_id, batch.stream) or {}
        claim = stream.get("pending") or {}
        sealed = [(int(a), int(b)) for a, b in stream.get("sealed") or []]
        if claim:
            last = int(stream["seq"])
            first = last - int(claim["count"]) + 1
            published = await self._batches.find_one(
                {
                    "_id": batch.change_id(last),
                    "tenant_id": batch.tenant_id,
                },
                {"_id": 1},
            )
            if published is None:
                if (first, last) not in sealed:
                    sealed = await self._leases.seal(batch.tenant_id, batch.connection_id, batch.stream, first, last)
                keys: list[str | None] = [None] * (last - first + 1)
                async for d in self._state.find(
                    {
                        "_id": _stream_range(batch),
                        "tenant_id": batch.tenant_id,
                        "changed_in": {"job": claim["job"], "batch": claim["batch"]},
                        "seq": {"$gte": first, "$lte": last},
                    },
                    {"seq": 1},
                    hint=BY_ID,
                ):
                    keys[int(d["seq"]) - first] = d["_id"]
                try:
                    await self._batches.insert_one(
                        manifest(batch.tenant_id, batch.connection_id, batch.stream, first, keys)
                    )
                except DuplicateKeyError:
                    pass  # another writer published it in the meantime
        self._recovered[marker] = sealed
        return sealed

    async def items_changed_since(
        self, tenant_id: str, connection_id: str, container_id: str, since: datetime | None, after: str, limit: int
    ) -> list[dict[str, Any]]:
        """Stored, non-deleted items of one container (for the comments stream), by record id after `after`."""
        base = stream_key(tenant_id, connection_id, ITEMS)
        prefix = f"{base}|{container_id}|" if container_id else f"{base}|"
        query: dict[str, Any] = {
            "_id": {"$gt": prefix + after, "$lt": prefix + _PAST_ANY_ID},
            "tenant_id": tenant_id,
            "container_id": container_id,
            "deleted": False,
        }
        if since is not None:
            query["$or"] = [{"updated_at": {"$gte": since}}, {"updated_at": None}]
        cursor = self._state.find(query, {"record_id": 1}).sort("_id", 1).hint(BY_ID).limit(limit)
        return [d async for d in cursor]


@dataclass(frozen=True)
class _Change:
    key: str
    entry: Entry
    text: str
    digest: str
    action: str
    #: The record's committed state this change replaces (None for a record never stored).
    old: dict[str, Any] | None


def _restored(key: str, copy: dict[str, Any]) -> dict[str, Any]:
    """A state put back from its superseded copy (`superseded` in reverse)."""
    state = {k: v for k, v in copy.items() if k != "_id"}
    state.update(_id=key, changed_in=None, seen=None)
    return state


def _state(
    batch: Batch,
    seq: int,
    key: str,
    action: str,
    text: str,
    moment: datetime,
    entry: Entry,
    digest: str | None,
    prev: int | None,
) -> dict[str, Any]:
    """A record's state after a change that supersedes `prev`: live with the text's `digest` (and
    seen by this batch's job), or a tombstone (`digest` None) repeating the last state's text."""
    doc: dict[str, Any] = {
        "_id": key,
        **batch.key,
        "seq": seq,
        "record_id": entry.record_id,
        "action": action,
        "json": text,
        "committed_at": moment,
        "container_id": entry.container_id,
        "updated_at": entry.updated_at,
        "changed_in": batch.stamp,
        "hash": digest,
        "deleted": digest is None,
        "prev": prev,
    }
    if digest is not None:
        doc["seen"] = batch.job_id
    if entry.parent_id:
        doc["parent_id"] = entry.parent_id
    return doc


#: Sorts after any record id's first character that ids use (ids are printable, below U+FFFF).
_PAST_ANY_ID = "\uffff"


def _stream_range(batch: Batch) -> dict[str, str]:
    return {"$gte": batch.prefix, "$lt": batch.prefix + _PAST_ANY_ID}

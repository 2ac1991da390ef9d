"""Moving records stored by earlier layouts into the current one (records.py), at start.

`migrate` runs both steps, oldest first; each is idempotent and a no-op once done.

Layout 2 → 3 (`migrate_changes`). Layout 2 kept every change in `record_changes`,
the latest change of each record carrying its `key` (sparse-indexed). Each keyed
change becomes the record's `record_state` document (the newest wins, should a
crash have left two), the changes of each stream get manifests in chunks of
`_BATCH` consecutive changes, and the key index is dropped last: its presence is
what says the step is not finished. The change documents stay where they are:
the feed reads them as superseded copies. Sequence numbers and feed positions are
unchanged, so cursors handed out before stay valid.

Layout 1 → 2 (`migrate_pointers`). Before, each record had a pointer document in `records` (`_id` = its key, with
its hash, deleted flag, full-sync mark, batch stamp and `seq`, the sequence
of its latest entry in `record_changes`, which held the JSON). The earliest
pointers were keyed without their container even when they had one. Here
each pointer's fields move onto the change entry it points to, with the key
recomputed from the pointer's own fields (so old-shape keys come out in the
current shape), and the pointer is deleted. Where an old-shape and a
current-shape pointer share a key, the current-shape one is the record's
state (the old-shape copy may since have been swept as deleted).

Idempotent and safe to run on several replicas at once: each step is a
`$set` of the same values, a delete, or the duplicate rule, so a replica that
dies midway leaves work that the next start finishes. Sequence numbers and
feed positions are unchanged, so cursors handed out before stay valid.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from connector_service.jobs.leases import stream_key
from connector_service.jobs.records import (
    BATCHES,
    BY_ID,
    HISTORY,
    STATE,
    change_id,
    identity,
    insert_ignoring_duplicates,
    manifest,
)
from connector_service.platform import wire
from connector_service.platform.writes import duplicate_indexes

log = logging.getLogger("connector_service.jobs")

_BATCH = 1000
#: Layout 2's current-state index on `record_changes`.
_KEY_INDEX = "key_1"


async def migrate(db: AsyncDatabase[dict[str, Any]]) -> None:
    await migrate_pointers(db)
    await migrate_changes(db)


async def migrate_changes(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Layout 2 → 3; answers how many keyed changes it moved (a crash may have left two for one record)."""
    changes = db[HISTORY]
    if _KEY_INDEX not in await changes.index_information():
        return 0
    moved, after = 0, ""
    chunk: list[dict[str, Any]] = []
    while True:
        # Layout 2's documents only: a superseded copy written by layout 3 carries `prev`.
        page = [
            d
            async for d in changes.find({"_id": {"$gt": after}, "prev": {"$exists": False}})
            .sort("_id", 1)
            .hint(BY_ID)
            .limit(_BATCH)
        ]
        for doc in page:
            if chunk and (_stream(chunk[0]) != _stream(doc) or len(chunk) == _BATCH):
                moved += await _publish_chunk(db, chunk)
                chunk = []
            chunk.append(doc)
        if len(page) < _BATCH:
            break
        after = page[-1]["_id"]
    if chunk:
        moved += await _publish_chunk(db, chunk)
    await changes.drop_index(_KEY_INDEX)
    log.info("records moved to one state document each", extra={"records": moved})
    return moved


def _stream(doc: dict[str, Any]) -> tuple[str, str, str]:
    return doc["tenant_id"], doc["connection_id"], doc["stream"]


async def _publish_chunk(db: AsyncDatabase[dict[str, Any]], chunk: list[dict[str, Any]]) -> int:
    """One stream's consecutive changes: the keyed ones become states, then the chunk's manifest."""
    tenant_id, connection_id, stream = _stream(chunk[0])
    states = []
    for doc in chunk:
        if doc.get("key"):
            state = {k: v for k, v in doc.items() if k != "key"}
            state.update(_id=doc["key"], prev=None)
            states.append(state)
    if states:
        upserts = [
            ReplaceOne({"_id": s["_id"], "tenant_id": tenant_id, "seq": {"$lt": s["seq"]}}, s, upsert=True)
            for s in states
        ]
        try:
            await db[STATE].bulk_write(upserts, ordered=False)
        except BulkWriteError as err:  # a duplicate key: that record's state is already as new or newer
            duplicate_indexes(err)
    first, last = int(chunk[0]["seq"]), int(chunk[-1]["seq"])
    keys: list[str | None] = [None] * (last - first + 1)
    for doc in chunk:
        keys[int(doc["seq"]) - first] = doc.get("key") or identity(
            tenant_id, connection_id, stream, doc["record_id"], doc.get("container_id") or ""
        )
    await insert_ignoring_duplicates(db[BATCHES], [manifest(tenant_id, connection_id, stream, first, keys)])
    return len(states)


async def migrate_pointers(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Layout 1 → 2: moves every `records` pointer onto its change entry (or drops a superseded one);
    answers how many pointers it took out."""
    pointers, changes = db["records"], db[HISTORY]
    if await pointers.find_one({}, {"_id": 1}) is None:
        return 0
    # Layout 2's index: it marks that layout 2 → 3 has work to do once these are folded.
    await changes.create_index([("key", 1)], sparse=True)
    moved = 0
    while batch := [d async for d in pointers.find({}).limit(_BATCH)]:
        keyed = [fold for fold in (_keyed(p) for p in batch) if fold is not None]
        current_shape = [f for f in keyed if f[1] == f[0]["_id"]]
        folds = current_shape + await _unclaimed(db, [f for f in keyed if f[1] != f[0]["_id"]])
        if folds:
            await changes.bulk_write([_fold(p, stream, key) for p, key, stream in folds], ordered=False)
        for tenant_id in {p["tenant_id"] for p, _, _ in folds}:
            await resolve_duplicates(changes, tenant_id, [key for p, key, _ in folds if p["tenant_id"] == tenant_id])
        await pointers.delete_many({"_id": {"$in": [d["_id"] for d in batch]}})
        moved += len(batch)
        if len(batch) < _BATCH:
            break
    if moved:
        log.info("records moved onto their change entries", extra={"records": moved})
    return moved


_Fold = tuple[dict[str, Any], str, str]  # (pointer, key in the current shape, stream)


def _keyed(pointer: dict[str, Any]) -> _Fold | None:
    stream = _stream_of(pointer)
    if stream is None:
        log.warning("legacy record pointer with an unreadable key left alone", extra={"key": pointer["_id"]})
        return None
    key = identity(
        pointer["tenant_id"], pointer["connection_id"], stream, pointer["record_id"], pointer.get("container_id") or ""
    )
    return pointer, key, stream


async def _unclaimed(db: AsyncDatabase[dict[str, Any]], folds: list[_Fold]) -> list[_Fold]:
    """The old-shape pointers (keyed without their container) whose record has no state in the
    current shape: a current-shape pointer, or an entry that carries the key, is newer truth (a
    sync after the key fix added the record again, and a full sync may then have deleted the
    old-shape copy, which says nothing about the record)."""
    if not folds:
        return []
    keys = [key for _, key, _ in folds]
    claimed = {d["_id"] async for d in db["records"].find({"_id": {"$in": keys}}, {"_id": 1})}
    claimed |= {d["key"] async for d in db[HISTORY].find({"key": {"$in": keys}}, {"key": 1})}
    return [f for f in folds if f[1] not in claimed]


def _stream_of(pointer: dict[str, Any]) -> str | None:
    prefix = stream_key(pointer.get("tenant_id", ""), pointer.get("connection_id", ""), "")
    rest = str(pointer["_id"])
    if not rest.startswith(prefix) or "record_id" not in pointer or "seq" not in pointer:
        return None
    stream = rest[len(prefix) :].split("|", 1)[0]
    return stream or None


def _fold(pointer: dict[str, Any], stream: str, key: str) -> UpdateOne:
    """The pointer's state onto its entry. The entry always exists (entries were written first); should
    one be missing, it is made from the pointer (the oldest pointers kept the JSON too)."""
    tenant_id, connection_id, seq = pointer["tenant_id"], pointer["connection_id"], int(pointer["seq"])
    deleted = bool(pointer.get("deleted"))
    state = {
        "key": key,
        "hash": None if deleted else pointer.get("hash"),
        "deleted": deleted,
        "changed_in": pointer.get("changed_in"),
        "container_id": pointer.get("container_id") or "",
    }
    if pointer.get("seen") is not None:
        state["seen"] = pointer["seen"]
    created = {
        "connection_id": connection_id,
        "stream": stream,
        "seq": seq,
        "record_id": pointer["record_id"],
        "action": pointer.get("action") or ("deleted" if deleted else "added"),
        "json": pointer.get("json", "null"),
        "committed_at": wire.now(),
        "updated_at": pointer.get("updated_at"),
    }
    return UpdateOne(
        {"_id": change_id(tenant_id, connection_id, stream, seq), "tenant_id": tenant_id},
        {"$set": state, "$setOnInsert": created},
        upsert=True,
    )


async def resolve_duplicates(changes: AsyncCollection[dict[str, Any]], tenant_id: str, keys: list[str]) -> None:
    """Of the layout-2 documents that carry one of `keys`, only the newest (highest sequence) keeps it."""
    newest: dict[str, str] = {}
    older: list[str] = []
    async for d in changes.find({"key": {"$in": keys}, "tenant_id": tenant_id}, {"key": 1}).sort("_id", 1):
        if d["key"] in newest:
            older.append(newest[d["key"]])
        newest[d["key"]] = d["_id"]
    if older:
        await changes.update_many({"_id": {"$in": older}}, {"$unset": {"key": ""}})

"""Folding the two-document record layout into the one-document one (records.py), at start.

Before, each record had a pointer document in `records` (`_id` = its key, with
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

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from connector_service.jobs.leases import stream_key
from connector_service.jobs.records import change_id, identity, resolve_duplicates
from connector_service.platform import wire

log = logging.getLogger("connector_service.jobs")

_BATCH = 1000


async def migrate_pointers(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Moves every `records` pointer onto its change entry (or drops a superseded one); answers how many
    pointers it took out."""
    pointers, changes = db["records"], db["record_changes"]
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
    claimed |= {d["key"] async for d in db["record_changes"].find({"key": {"$in": keys}}, {"key": 1})}
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

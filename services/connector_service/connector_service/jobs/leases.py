"""Per-stream leases and change sequences (`sync_streams`).

One document per (tenant, connection, stream) says which job may write that
stream's records right now, until when, and holds the stream's change
sequence. A job takes the lease when it starts and renews it with its
heartbeat; a lease left by a dead worker can be taken once it expires, and
the same job (resumed by another worker) takes its own lease back at once.

Sequence numbers are allocated only by the lease holder (`allocate` matches
the holder's worker token), so a worker that lost its lease cannot commit
changes behind its successor's back, and a stream's sequence grows
monotonically with exactly one writer at a time. The last allocation is
kept as `pending` {job, batch, count}: the range (seq - count, seq] is
where that batch's records are, for crash recovery (records.py); `sealed`
lists the recent claims that another writer had to publish after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from connector_service.platform import wire

#: Sealed ranges kept per stream: a stalled writer can only write into the latest ones.
_SEALED = 20


class LeaseLost(Exception):
    """This worker no longer holds the job or stream it was writing."""


def stream_key(tenant_id: str, connection_id: str, stream: str) -> str:
    return f"{tenant_id}|{connection_id}|{stream}"


class StreamLeases:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["sync_streams"]

    async def create_indexes(self) -> None:
        await self._col.create_index([("job_id", 1)])

    async def acquire(
        self, tenant_id: str, connection_id: str, stream: str, *, job_id: str, worker: str, until: datetime
    ) -> bool:
        """Whether `job_id` now holds the stream (free, expired, or already its own)."""
        key = stream_key(tenant_id, connection_id, stream)
        try:
            await self._col.find_one_and_update(
                {
                    "_id": key,
                    "tenant_id": tenant_id,
                    "$or": [{"job_id": job_id}, {"job_id": None}, {"lease_until": {"$lt": wire.now()}}],
                },
                {
                    "$set": {"job_id": job_id, "worker": worker, "lease_until": until},
                    "$setOnInsert": {"connection_id": connection_id, "stream": stream, "seq": 0},
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def holder(self, tenant_id: str, connection_id: str, stream: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": stream_key(tenant_id, connection_id, stream), "tenant_id": tenant_id})

    async def renew(self, job_id: str, worker: str, until: datetime) -> None:
        await self._col.update_many({"job_id": job_id, "worker": worker}, {"$set": {"lease_until": until}})

    async def release(self, job_id: str, worker: str) -> None:
        await self._col.update_many(
            {"job_id": job_id, "worker": worker}, {"$set": {"job_id": None, "worker": None, "lease_until": None}}
        )

    async def allocate(
        self,
        tenant_id: str,
        connection_id: str,
        stream: str,
        worker: str,
        count: int,
        claim: dict[str, Any] | None = None,
    ) -> int:
        """Reserves `count` sequence numbers; returns the first. Raises LeaseLost for a non-holder.

        `claim` (the writing batch's stamp) is stored with the range as `pending`, so a worker that
        resumes the batch after a crash can find the change entries the lost attempt wrote."""
        update: dict[str, Any] = {"$inc": {"seq": count}}
        if claim is not None:
            update["$set"] = {"pending": {**claim, "count": count}}
        doc = await self._col.find_one_and_update(
            {"_id": stream_key(tenant_id, connection_id, stream), "tenant_id": tenant_id, "worker": worker},
            update,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise LeaseLost(f"stream {stream} of {connection_id} is held by another worker")
        seq: int = doc["seq"]
        return seq - count + 1

    async def seal(
        self, tenant_id: str, connection_id: str, stream: str, first: int, last: int
    ) -> list[tuple[int, int]]:
        """Records that the claimed range [first, last] was published by a writer other than the one
        that claimed it (records.py); answers the stream's sealed ranges, the latest `_SEALED`."""
        doc = await self._col.find_one_and_update(
            {"_id": stream_key(tenant_id, connection_id, stream), "tenant_id": tenant_id},
            {"$push": {"sealed": {"$each": [[first, last]], "$slice": -_SEALED}}},
            return_document=ReturnDocument.AFTER,
        )
        return [(int(a), int(b)) for a, b in (doc or {}).get("sealed") or []]

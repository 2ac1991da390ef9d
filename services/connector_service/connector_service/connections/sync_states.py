"""Incremental-sync cursors (`sync_states`), one per connection and stream.

Each state carries a version that starts at 1 and grows by one per write.
A write with an expected version is a compare-and-swap: 0 means "no state
yet"; any mismatch answers `conflict` and changes nothing, so two sync
workers cannot both advance the same cursor from the same starting point.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.platform import wire

DEFAULT_STREAM = "default"


def _stream(stream: str) -> str:
    stream = stream or DEFAULT_STREAM
    if len(stream) > 200 or not stream.isprintable():
        raise invalid("stream must be at most 200 printable characters", field="stream")
    return stream


class SyncStateStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["sync_states"]

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("connection_id", 1), ("stream", 1)], unique=True)

    async def get(self, tenant_id: str, connection_id: str, stream: str) -> dict[str, Any]:
        """The stored state, or an empty version-0 state when none was written yet."""
        stream = _stream(stream)
        doc = await self._col.find_one({"tenant_id": tenant_id, "connection_id": connection_id, "stream": stream})
        return doc or {"connection_id": connection_id, "stream": stream, "cursor": {}, "version": 0, "updated_at": None}

    async def set(
        self, tenant_id: str, connection_id: str, stream: str, cursor: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        stream = _stream(stream)
        key = {"tenant_id": tenant_id, "connection_id": connection_id, "stream": stream}
        moment = wire.now()
        if expected_version is not None and expected_version < 0:
            raise invalid("expectedVersion must not be negative", field="expectedVersion")
        if expected_version == 0:
            doc: dict[str, Any] = {
                **key,
                "_id": wire.new_id("syn"),
                "cursor": cursor,
                "version": 1,
                "updated_at": moment,
            }
            try:
                await self._col.insert_one(doc)
            except DuplicateKeyError:
                raise self._conflict(0) from None
            return doc
        if expected_version is None:
            upserted = await self._col.find_one_and_update(
                key,
                {
                    "$set": {"cursor": cursor, "updated_at": moment},
                    "$inc": {"version": 1},
                    "$setOnInsert": {"_id": wire.new_id("syn")},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            if upserted is None:  # an upsert answering the document after never answers none
                raise UcfError(ErrorCode.INTERNAL, "the sync state was not written")
            return upserted
        updated = await self._col.find_one_and_update(
            {**key, "version": expected_version},
            {"$set": {"cursor": cursor, "updated_at": moment}, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise self._conflict(expected_version)
        return updated

    async def delete_for(self, tenant_id: str, connection_id: str) -> None:
        await self._col.delete_many({"tenant_id": tenant_id, "connection_id": connection_id})

    @staticmethod
    def _conflict(expected: int) -> UcfError:
        return UcfError(
            ErrorCode.CONFLICT,
            "sync state changed since it was read; read it again and retry",
            {"expectedVersion": expected},
        )

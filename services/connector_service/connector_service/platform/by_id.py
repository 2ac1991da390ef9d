"""Reads and writes of many documents by `_id`, in chunks of `CHUNK` ids.

SecantusDB (tests, the local default) checks every document an `$in` finds
against the whole `$in` list, one element at a time, so one query over n
ids that exist costs about n² comparisons: 1,000 ids took 1.4 s of database
CPU to find and 3.6 s to update, against 0.15 s and 0.47 s in chunks of 32
sent together (`benchmarks/README.md`, "`$in` in chunks"). MongoDB looks
each id up in the `_id` index either way, so the chunks cost it only a few
more commands. Chunks go out concurrently; found documents come in no particular order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

CHUNK = 32


def _chunks(ids: Sequence[Any]) -> list[Sequence[Any]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


async def find(
    collection: AsyncCollection[dict[str, Any]],
    ids: Sequence[Any],
    scope: Mapping[str, Any],
    projection: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The documents among `ids` that also match `scope` (e.g. the tenant)."""
    parts = await asyncio.gather(
        *(collection.find({"_id": {"$in": list(part)}, **scope}, projection).to_list() for part in _chunks(ids))
    )
    return [doc for part in parts for doc in part]


async def update(
    collection: AsyncCollection[dict[str, Any]], ids: Sequence[Any], scope: Mapping[str, Any], change: Mapping[str, Any]
) -> int:
    """Applies `change` to the documents among `ids` that match `scope`; answers how many matched."""
    results = await asyncio.gather(
        *(collection.update_many({"_id": {"$in": list(part)}, **scope}, change) for part in _chunks(ids))
    )
    return sum(r.matched_count for r in results)


async def delete(collection: AsyncCollection[dict[str, Any]], ids: Sequence[Any], scope: Mapping[str, Any]) -> int:
    """Deletes the documents among `ids` that match `scope`; answers how many went."""
    results = await asyncio.gather(
        *(collection.delete_many({"_id": {"$in": list(part)}, **scope}) for part in _chunks(ids))
    )
    return sum(r.deleted_count for r in results)

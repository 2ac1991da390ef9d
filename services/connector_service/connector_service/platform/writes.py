"""Telling "already written" apart from a failed write in an unordered bulk insert."""

from __future__ import annotations

from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


def duplicate_indexes(err: BulkWriteError) -> list[int]:
    """The positions of the documents an unordered bulk write refused as duplicate keys (their `_id`
    exists: written before). Raises `err` itself when anything else failed — another write error or
    a write-concern error — since that is not an "already written"."""
    errors = err.details.get("writeErrors", [])
    if err.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise err
    return [int(e["index"]) for e in errors]

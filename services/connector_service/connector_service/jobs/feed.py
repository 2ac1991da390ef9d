"""The records feed: committed changes of a connection in commit order.

Each stream numbers its changes with its own gap-tolerant, strictly
increasing sequence (see leases.py), so a feed position is one sequence
number per stream and the cursor handed to clients is that map. A page
takes, per requested stream, the next changes after its position in
sequence order and merges them by commit time; whatever the page holds of
a stream is a prefix of that stream's remaining changes, so following
`next` never skips or repeats a change even while syncs are writing.

`next` is always returned: an empty page means "caught up", and the same
cursor asked again later answers the changes committed since.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import invalid

from connector_service.jobs.records import change_id
from connector_service.jobs.shapes import STREAMS

_LAST_SEQ = 10**15 - 1
_FIELDS = {"record_id": 1, "action": 1, "json": 1, "committed_at": 1, "seq": 1}


@dataclass(frozen=True)
class Change:
    record_id: str
    stream: str
    action: str
    #: The record's canonical JSON as stored (handed to clients as is, never parsed on the way).
    text: str
    committed_at: datetime
    seq: int

    @property
    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self.text)
        return record


def encode_position(position: dict[str, int]) -> str:
    raw = json.dumps({"p": position}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str, streams: tuple[str, ...]) -> dict[str, int]:
    """Sequence reached per stream; `invalid_request` for a cursor this service did not issue."""
    position = {s: 0 for s in streams}
    if not cursor:
        return position
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        given = state["p"]
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, KeyError):
        given = None
    if not isinstance(given, dict) or not all(
        k in STREAMS and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in given.items()
    ):
        raise invalid("cursor is not one this service issued", field="cursor")
    if set(given) != set(streams):
        raise invalid("cursor belongs to a different stream selection", field="cursor")
    return {s: given[s] for s in streams}


class RecordFeed:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._changes = db["record_changes"]

    async def page(
        self, tenant_id: str, connection_id: str, streams: tuple[str, ...], cursor: str, limit: int
    ) -> tuple[list[Change], str]:
        position = decode_position(cursor, streams)
        runs: list[list[Change]] = []
        for stream in streams:
            bounds = {
                "$gt": change_id(tenant_id, connection_id, stream, position[stream]),
                "$lte": change_id(tenant_id, connection_id, stream, _LAST_SEQ),
            }
            found = self._changes.find({"_id": bounds, "tenant_id": tenant_id}, _FIELDS).sort("_id", 1).limit(limit)
            runs.append(
                [
                    Change(d["record_id"], stream, d["action"], d["json"], d["committed_at"], d["seq"])
                    async for d in found
                ]
            )
        merged = list(heapq.merge(*runs, key=lambda c: (c.committed_at, STREAMS.index(c.stream), c.seq)))[:limit]
        for change in merged:
            position[change.stream] = change.seq
        return merged, encode_position(position)

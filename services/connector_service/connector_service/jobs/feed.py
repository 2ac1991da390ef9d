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

from connector_service.jobs.leases import stream_key
from connector_service.jobs.records import BATCHES, BY_ID, HISTORY, STATE, change_id, stream_prefix
from connector_service.jobs.shapes import STREAMS
from connector_service.platform import by_id

_LAST_SEQ = 10**15 - 1
#: Sequence numbers per manifest read (at least; four times the page otherwise).
_WINDOW = 4096
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
    """Reads the manifests after each stream's position (records.py), then the states they name;
    a sequence whose record has changed since is read from its superseded copy. States are read
    before copies, and a copy is written before its state changes, so no change is missed."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._streams = db["sync_streams"]
        self._state = db[STATE]
        self._history = db[HISTORY]
        self._batches = db[BATCHES]

    async def page(
        self, tenant_id: str, connection_id: str, streams: tuple[str, ...], cursor: str, limit: int
    ) -> tuple[list[Change], str]:
        position = decode_position(cursor, streams)
        runs = [await self._run(tenant_id, connection_id, stream, position[stream], limit) for stream in streams]
        merged = list(heapq.merge(*runs, key=lambda c: (c.committed_at, STREAMS.index(c.stream), c.seq)))[:limit]
        for change in merged:
            position[change.stream] = change.seq
        return merged, encode_position(position)

    async def _newest(self, tenant_id: str, connection_id: str, stream: str) -> int:
        """The stream's last allocated sequence number (0 for a stream never written)."""
        doc = await self._streams.find_one(
            {"_id": stream_key(tenant_id, connection_id, stream), "tenant_id": tenant_id}, {"seq": 1}
        )
        return int((doc or {}).get("seq") or 0)

    async def _run(self, tenant_id: str, connection_id: str, stream: str, after: int, limit: int) -> list[Change]:
        """The next `limit` changes of one stream after sequence `after`, in sequence order."""
        prefix = stream_prefix(tenant_id, connection_id, stream)
        wanted: list[tuple[int, str]] = []
        newest = await self._newest(tenant_id, connection_id, stream)
        low = after
        # Manifests are read by windows of sequence numbers (their `_id` holds their last one), so
        # a page reads the few manifests it needs however long the stream is; a batch spans at
        # most a few thousand numbers.
        while len(wanted) < limit and low < newest:
            high = min(low + max(4 * limit, _WINDOW), _LAST_SEQ)
            manifests = self._batches.find(
                {
                    "_id": {
                        "$gt": change_id(tenant_id, connection_id, stream, low),
                        "$lte": change_id(tenant_id, connection_id, stream, high),
                    },
                    "tenant_id": tenant_id,
                }
            )
            async for doc in manifests.sort("_id", 1).hint(BY_ID):
                keys = enumerate(doc["keys"], start=int(doc["first"]))
                wanted.extend((seq, prefix + k) for seq, k in keys if k is not None and seq > after)
            low = high
        wanted = wanted[:limit]
        if not wanted:
            return []
        scope = {"tenant_id": tenant_id}
        states = {d["_id"]: d for d in await by_id.find(self._state, list({k for _, k in wanted}), scope, _FIELDS)}
        moved = [seq for seq, key in wanted if states.get(key, {}).get("seq") != seq]
        copies: dict[int, dict[str, Any]] = {}
        if moved:
            ids = [change_id(tenant_id, connection_id, stream, seq) for seq in moved]
            copies = {d["seq"]: d for d in await by_id.find(self._history, ids, scope, _FIELDS)}
        run = []
        for seq, key in wanted:
            state = states.get(key)
            d = state if state is not None and state.get("seq") == seq else copies.get(seq)
            if d is not None:
                run.append(Change(d["record_id"], stream, d["action"], d["json"], d["committed_at"], seq))
        return run

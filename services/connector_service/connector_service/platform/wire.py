"""Conversions between Mongo documents and protobuf messages, plus the opaque
page cursors and time-ordered ids every collection here uses.

Ids are `<prefix>_<12 hex ms timestamp><10 hex random>`, so sorting by `_id`
is creation order and a page cursor is simply the last `_id` it returned.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any, overload

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from ucf_common.errors import invalid

_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_ID = re.compile(r"^[a-z]{3}_[0-9a-f]{22}$")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


_SUFFIX_SPACE = 16**10  # the 10 hex digits after an id's millisecond


def new_id(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"


def consecutive_ids(prefix: str, count: int, after: str = "") -> list[str]:
    """`count` ids of this millisecond with consecutive random suffixes: they sort in the order given.
    With `after` (an id of the same prefix minted earlier by the caller) they also sort after it: an id
    of the same millisecond (or a later one, should the clock step back) is continued from, so two
    batches of one millisecond keep their order."""
    millisecond = f"{int(time.time() * 1000):012x}"
    first = secrets.randbelow(_SUFFIX_SPACE - count)
    if after and f"{prefix}_{millisecond}{first:010x}" <= after:
        start = len(prefix) + 1
        last_ms, last_suffix = int(after[start : start + 12], 16), int(after[start + 12 :], 16)
        if last_suffix + count < _SUFFIX_SPACE:
            millisecond, first = f"{last_ms:012x}", last_suffix + 1
        else:  # that millisecond's suffixes are spent: the next one
            millisecond, first = f"{last_ms + 1:012x}", 0
    return [f"{prefix}_{millisecond}{first + offset:010x}" for offset in range(count)]


def id_millisecond(value: str) -> str:
    """The millisecond part of an id (12 hex digits after `<prefix>_`)."""
    return value[4:16]


def now() -> datetime:
    """Current UTC time at millisecond precision (what Mongo stores)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """Mongo hands back naive UTC datetimes; make them aware."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(as_utc(value))
    return ts


def from_timestamp(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if present else None


def struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if value:
        message.update(_jsonable(value))
    return message


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def from_struct(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def page_size(limit: int) -> int:
    if limit < 0:
        raise invalid("limit must not be negative", field="limit")
    return min(limit or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The id a cursor names; `invalid_request` for anything this service did not issue."""
    if not cursor:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode() if _CURSOR.match(cursor) else ""
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not _ID.match(decoded):
        raise invalid("cursor is not one this service issued", field="cursor")
    return decoded


async def find_page(
    collection: Any, query: dict[str, Any], cursor: str, limit: int, *, newest_first: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """One page of `query` in `_id` (creation) order and the cursor of the next page ('' at the end).

    `query` must already carry the tenant scope; the cursor only narrows it by `_id`.
    """
    after = decode_cursor(cursor)
    if after:
        query = {**query, "_id": {"$lt" if newest_first else "$gt": after}}
    size = page_size(limit)
    docs = [d async for d in collection.find(query).sort("_id", -1 if newest_first else 1).limit(size + 1)]
    return docs[:size], encode_cursor(docs[size - 1]["_id"]) if len(docs) > size else ""

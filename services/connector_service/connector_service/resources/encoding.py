"""Items as JSON that keeps each value's type: the one encoding of items on the wire
(`items_json`/`item_json` over gRPC, REST answers, the NDJSON stream) and in the records feed.

Chosen by measurement over protobuf `Struct` and a typed `Value` oneof (benchmarks/README.md,
"Encoding A/B"): orjson writes a row's dict in C, and the gateway splices the bytes into its
envelope without parsing them again.

JSON types of values, the same everywhere:
- integers stay integers up to ±(2^53 - 1) (exact in every JSON reader); beyond that they are strings;
- `numeric`/`decimal` values are strings (exact; `"NaN"` included), floats are numbers;
- timestamps are RFC 3339 in UTC with `Z` (a timestamp without a zone is taken as UTC), dates
  `YYYY-MM-DD`; UUIDs strings; bytes base64; arrays lists; `json`/`jsonb` as the JSON they hold;
- SQL NULL is `null`. Members of the item itself that the source has no value for (`author`,
  `createdAt`, `updatedAt`, `raw`) are absent, not null.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import orjson

from connector_service.connectors.models import Item, Person

#: The largest integer magnitude every JSON reader holds exactly (JavaScript's MAX_SAFE_INTEGER).
MAX_EXACT_INT = 2**53 - 1
#: orjson's options for the types above; with `default` and the fallback of `dumps` on
#: `orjson.JSONEncodeError` they are what `dumps` writes (for loops that call orjson directly).
OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_STRICT_INTEGER
CANONICAL_OPTIONS = OPTIONS | orjson.OPT_SORT_KEYS


def default(value: Any) -> Any:
    """What orjson cannot write itself."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)  # timedelta, ranges, IP addresses...


def _exact(value: Any) -> Any:
    """`value` with integers beyond ±2^53 as strings and times of day with a zone (which orjson
    refuses) as ISO text, at any depth (the slow path, rarely taken)."""
    if type(value) is int:
        return value if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else str(value)
    if isinstance(value, dt.time) and value.tzinfo is not None:
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_exact(v) for v in value]
    return value


def dumps(value: Any, options: int = OPTIONS) -> bytes:
    """JSON bytes of `value` with the types above."""
    try:
        return orjson.dumps(value, default=default, option=options)
    except orjson.JSONEncodeError:  # an integer beyond ±2^53 (or 64 bits), or a zoned time, somewhere
        return orjson.dumps(_exact(value), default=default, option=options)


def _person(p: Person) -> dict[str, str]:
    return {"id": p.id, "name": p.name, "email": p.email}


def item_dict(i: Item) -> dict[str, Any]:
    """The REST/feed shape of an item (values not yet made JSON; `dumps` does that)."""
    out: dict[str, Any] = {
        "id": i.id,
        "containerId": i.container_id,
        "title": i.title,
        "body": {"text": i.body.text, "format": i.body.format},
        "status": i.status,
        "assignees": [_person(a) for a in i.assignees],
        "url": i.url,
        "fields": i.fields,
    }
    if i.author is not None:
        out["author"] = _person(i.author)
    if i.created_at is not None:
        out["createdAt"] = as_utc(i.created_at)
    if i.updated_at is not None:
        out["updatedAt"] = as_utc(i.updated_at)
    if i.raw is not None:
        out["raw"] = i.raw
    return out


def as_utc(value: dt.datetime) -> dt.datetime:
    """`value` in UTC (a naive one taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def item_json(i: Item) -> bytes:
    return dumps(item_dict(i))

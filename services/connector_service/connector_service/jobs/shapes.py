"""The normalized record each stream stores, and its canonical text.

A record is the connector model as plain JSON (lowerCamelCase, the same
fields the ResourceService answers). `canonical` serialises it with sorted
keys so that equal content always gives the same text, and `content_hash`
of that text is how a sync tells an unchanged record from an updated one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    Person,
    json_safe,
)
from connector_service.resources.encoding import CANONICAL_OPTIONS, dumps, item_dict

CONTAINERS, ITEMS, COMMENTS = "containers", "items", "comments"
#: Streams in the order a job syncs them (items need containers, comments need items).
STREAMS = (CONTAINERS, ITEMS, COMMENTS)


def _time(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z`, as the items API writes timestamps."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _person(value: Person | None) -> dict[str, str] | None:
    return {"id": value.id, "name": value.name, "email": value.email} if value else None


def _body(value: Body) -> dict[str, str]:
    return {"text": value.text, "format": value.format}


def container_record(c: Container) -> dict[str, Any]:
    record = {"id": c.id, "name": c.name, "key": c.key, "type": c.type, "url": c.url, "parentId": c.parent_id}
    if c.raw is not None:
        record["raw"] = json_safe(c.raw)
    return record


def item_record(i: Item) -> dict[str, Any]:
    """The item exactly as the items API answers it (`resources.encoding`): same members, same
    absences, same value types once `canonical` has written it."""
    return item_dict(i)


def comment_record(c: Comment, container_id: str) -> dict[str, Any]:
    record = {
        "id": c.id,
        "itemId": c.item_id,
        "containerId": container_id,
        "body": _body(c.body),
        "author": _person(c.author),
        "createdAt": _time(c.created_at),
        "updatedAt": _time(c.updated_at),
    }
    if c.raw is not None:
        record["raw"] = json_safe(c.raw)
    return record


def canonical(record: dict[str, Any]) -> str:
    """Sorted-key compact JSON typed as the items API types values (`resources.encoding`)."""
    return dumps(record, CANONICAL_OPTIONS).decode()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

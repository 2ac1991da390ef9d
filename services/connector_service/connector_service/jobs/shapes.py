"""The normalized record each stream stores, and its canonical text.

A record is the connector model as plain JSON (lowerCamelCase, the same
fields the ResourceService answers). `canonical` serialises it with sorted
keys so that equal content always gives the same text, and `content_hash`
of that text is how a sync tells an unchanged record from an updated one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    Person,
    json_safe,
)

CONTAINERS, ITEMS, COMMENTS = "containers", "items", "comments"
#: Streams in the order a job syncs them (items need containers, comments need items).
STREAMS = (CONTAINERS, ITEMS, COMMENTS)


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


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
    record = {
        "id": i.id,
        "containerId": i.container_id,
        "title": i.title,
        "body": _body(i.body),
        "status": i.status,
        "author": _person(i.author),
        "assignees": [_person(a) for a in i.assignees],
        "createdAt": _time(i.created_at),
        "updatedAt": _time(i.updated_at),
        "url": i.url,
        "fields": json_safe(i.fields),
    }
    if i.raw is not None:
        record["raw"] = json_safe(i.raw)
    return record


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
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()

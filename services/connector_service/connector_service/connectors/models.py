"""The normalized shapes every connector returns, and their protobuf form.

Same fields for every provider: Container `{id, name, key, type, url,
parentId}`, Item `{id, containerId, title, body, status, author, assignees,
createdAt, updatedAt, url, fields}`, Comment `{id, itemId, author, body,
createdAt, updatedAt}`. Empty strings mean "the provider has no such
value"; `raw` (the provider's original document) is set only when the
connector's extraDetails setting is on.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2
from ucf.connector.v1 import resources_pb2


@dataclass(frozen=True)
class Body:
    """Readable `text` converted from the provider's `format` (plain, markdown, adf, storage, html)."""

    text: str = ""
    format: str = "plain"


@dataclass(frozen=True)
class Person:
    id: str = ""
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    key: str = ""
    type: str = ""
    url: str = ""
    parent_id: str = ""
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Item:
    id: str
    container_id: str
    title: str = ""
    body: Body = field(default_factory=Body)
    status: str = ""
    author: Person | None = None
    assignees: tuple[Person, ...] = ()
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    url: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Comment:
    id: str
    item_id: str
    body: Body = field(default_factory=Body)
    author: Person | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ItemDraft:
    """What a client sends to create an item; `fields` carries provider extras (issueType, labels...)."""

    title: str
    body: Body = field(default_factory=Body)
    fields: Mapping[str, Any] = field(default_factory=dict)


def parse_time(value: Any) -> dt.datetime | None:
    """A provider timestamp (ISO 8601 with `Z`, `+00:00` or `+0000`) as an aware datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def json_safe(value: Any) -> Any:
    """A value protobuf's Struct can hold (database rows carry decimals, dates, bytes, UUIDs)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    """Set a Struct `Value` in place to what `Struct.update(json_safe(...))` would store.

    The common scalar types are dispatched on their exact type (rows are mostly
    str, int, float, None and datetimes); everything else goes through
    `json_safe` and protobuf's own rules, so the result is the same message.
    """
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is int or kind is float:
        target.number_value = value
    elif value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif kind is bool:
        target.bool_value = value
    elif kind is dt.datetime:
        target.string_value = value.isoformat()
    else:
        safe = json_safe(value)
        if isinstance(safe, Mapping):
            target.struct_value.Clear()
            _fill_struct(target.struct_value, safe)
        elif isinstance(safe, list):
            target.list_value.Clear()
            target.list_value.extend(safe)
        elif safe is None:
            target.null_value = struct_pb2.NULL_VALUE
        elif isinstance(safe, bool):
            target.bool_value = safe
        elif isinstance(safe, str):
            target.string_value = safe
        else:
            target.number_value = safe


def _fill_struct(target: struct_pb2.Struct, value: Mapping[str, Any]) -> None:
    fields = target.fields
    for key, item in value.items():
        _set_value(fields[key if type(key) is str else str(key)], item)


def _struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    out = struct_pb2.Struct()
    _fill_struct(out, value)
    return out


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _set_timestamp(target: timestamp_pb2.Timestamp, value: dt.datetime) -> None:
    """`target.FromDatetime(value.astimezone(UTC))` without the time-tuple round trip."""
    if value.tzinfo is None:
        value = value.astimezone(dt.UTC)
    delta = value - _EPOCH
    target.seconds = delta.days * 86400 + delta.seconds
    target.nanos = delta.microseconds * 1000


def _timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    _set_timestamp(out, value)
    return out


def _person(value: Person | None) -> resources_pb2.Person | None:
    return resources_pb2.Person(id=value.id, name=value.name, email=value.email) if value else None


def _body(value: Body) -> resources_pb2.Body:
    return resources_pb2.Body(text=value.text, format=value.format)


def container_to_proto(c: Container) -> resources_pb2.Container:
    return resources_pb2.Container(
        id=c.id, name=c.name, key=c.key, type=c.type, url=c.url, parent_id=c.parent_id, raw=_struct(c.raw)
    )


def fill_item(out: resources_pb2.Item, i: Item) -> resources_pb2.Item:
    """Write `i` into an empty `Item` message in place (e.g. one from `response.items.add()`)."""
    out.id = i.id
    out.container_id = i.container_id
    out.title = i.title
    body = out.body
    body.text = i.body.text
    body.format = i.body.format
    out.status = i.status
    if i.author:
        person = out.author
        person.SetInParent()
        person.id, person.name, person.email = i.author.id, i.author.name, i.author.email
    for a in i.assignees:
        person = out.assignees.add()
        if a:
            person.id, person.name, person.email = a.id, a.name, a.email
    if i.created_at is not None:
        _set_timestamp(out.created_at, i.created_at)
    if i.updated_at is not None:
        _set_timestamp(out.updated_at, i.updated_at)
    out.url = i.url
    if i.fields:
        _fill_struct(out.fields, i.fields)
    if i.raw is not None:
        out.raw.SetInParent()
        _fill_struct(out.raw, i.raw)
    return out


def item_to_proto(i: Item) -> resources_pb2.Item:
    return fill_item(resources_pb2.Item(), i)


def comment_to_proto(c: Comment) -> resources_pb2.Comment:
    return resources_pb2.Comment(
        id=c.id,
        item_id=c.item_id,
        author=_person(c.author),
        body=_body(c.body),
        created_at=_timestamp(c.created_at),
        updated_at=_timestamp(c.updated_at),
        raw=_struct(c.raw),
    )

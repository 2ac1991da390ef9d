"""How a PostgreSQL row becomes an item: as an `Item` (paged reads, the sync engine) and straight
as the item's JSON bytes (the bulk read), the two giving the same JSON.

A row is the relation's columns in catalog order followed by the key columns as text. The
item's id is the key text (a JSON array of the texts for a key of several columns, "" for a
relation without a key); its title is the first non-NULL of `title`, `name`, `subject`,
`summary` (else the id), its body the first text value of `body`, `description`; `createdAt`
comes from `created_at` and `updatedAt` from the connection's cursor column.

The JSON path skips the `Item` and the item dict's second pass: it builds the item dict of
`resources.encoding.item_dict` directly from the row and writes it with the same `dumps`. That
costs a few microseconds a row where the `Item` path costs about fourteen; letting PostgreSQL
write the JSON instead (per-type expressions, PostgREST's way) was measured slower still:
PostgreSQL spent more per row concatenating text than orjson does (benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import sql

from connector_service.connectors.models import Body, Item, parse_time
from connector_service.connectors.pg_catalog import Relation
from connector_service.resources.encoding import OPTIONS, as_utc, default, dumps

TITLE_COLUMNS = ("title", "name", "subject", "summary")
BODY_COLUMNS = ("body", "description")
KEY_ALIAS = "__ucf_key_"
#: Types whose binary form psycopg loads into the very values it loads from their text form (so
#: the JSON is the same either way); a relation of only these is read in binary, which parses
#: faster. Not float4 (its text is the shortest decimal, its binary the exact float), nor types
#: psycopg has no binary loader for (enums, extensions), nor domains (named by their own type).
BINARY_SAFE_TYPES = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "text",
        "varchar",
        "bool",
        "float8",
        "numeric",
        "timestamptz",
        "timestamp",
        "date",
        "uuid",
        "bytea",
        "json",
        "jsonb",
    }
)
_BODY_FORMAT = "plain"


def _item_id(keys: Sequence[Any]) -> str:
    return keys[0] if len(keys) == 1 else json.dumps(list(keys)) if keys else ""


@dataclass(frozen=True)
class Plan:
    """A resolved relation and how its rows (columns, then key texts) become items."""

    relation: Relation
    select: sql.Composable
    names: tuple[str, ...]
    index: dict[str, int]
    title: tuple[int, ...]
    body: tuple[int, ...]
    created: int | None
    binary: bool

    @classmethod
    def of(cls, relation: Relation, select: Callable[[Relation], sql.Composable]) -> Plan:
        names = tuple(c.name for c in relation.columns)
        index = {n: i for i, n in enumerate(names)}
        return cls(
            relation,
            select(relation),
            names,
            index,
            tuple(index[c] for c in TITLE_COLUMNS if c in index),
            tuple(index[c] for c in BODY_COLUMNS if c in index),
            index.get("created_at"),
            all(c.type_schema == "pg_catalog" and c.type_name in BINARY_SAFE_TYPES for c in relation.columns),
        )

    def updated_index(self, cursor_column: Any) -> int | None:
        return self.index.get(cursor_column) if cursor_column else None

    def _title(self, row: Sequence[Any], item_id: str) -> str:
        for i in self.title:
            if row[i] is not None:
                return str(row[i])
        return item_id

    def _body(self, row: Sequence[Any]) -> str:
        for i in self.body:
            value = row[i]
            if isinstance(value, str):
                return value
        return ""

    def item(self, row: Sequence[Any], updated: int | None) -> Item:
        item_id = _item_id(row[len(self.names) :])
        created = self.created
        return Item(
            id=item_id,
            container_id=self.relation.id,
            title=self._title(row, item_id),
            body=Body(self._body(row), _BODY_FORMAT),
            created_at=parse_time(row[created]) if created is not None else None,
            updated_at=parse_time(row[updated]) if updated is not None else None,
            fields=dict(zip(self.names, row, strict=False)),
        )

    def items_json(self, rows: Sequence[Sequence[Any]], updated: int | None) -> list[bytes]:
        """Each row's item as the JSON `item_json(self.item(row, updated))` writes.

        This loop is the bulk read's whole per-row cost, so it inlines `item`, `item_dict` and
        `dumps` (same members, same order, same orjson call and fallback)."""
        names, width, container_id = self.names, len(self.names), self.relation.id
        single_key = len(self.relation.key) == 1
        titles, bodies = self.title, self.body
        stamps = [(name, i) for name, i in (("createdAt", self.created), ("updatedAt", updated)) if i is not None]
        encode, fallback, options, utc = orjson.dumps, default, OPTIONS, dt.UTC
        out: list[bytes] = []
        append = out.append
        for row in rows:
            item_id = row[width] if single_key else _item_id(row[width:])
            title = item_id
            for i in titles:
                value = row[i]
                if value is not None:
                    title = value if type(value) is str else str(value)
                    break
            text = ""
            for i in bodies:
                value = row[i]
                if isinstance(value, str):
                    text = value
                    break
            item: dict[str, Any] = {
                "id": item_id,
                "containerId": container_id,
                "title": title,
                "body": {"text": text, "format": _BODY_FORMAT},
                "status": "",
                "assignees": [],
                "url": "",
                # zip stops at the last column (the key texts follow); `strict=False` spelled out
                # costs a keyword call, a third of this dict's price.
                "fields": dict(zip(names, row)),  # noqa: B905
            }
            for name, i in stamps:
                stamp = row[i]
                if type(stamp) is not dt.datetime or stamp.tzinfo is not utc:  # the session's zone is UTC
                    stamp = parse_time(stamp)
                    if stamp is None:
                        continue
                    stamp = as_utc(stamp)
                item[name] = stamp
            try:
                append(encode(item, default=fallback, option=options))
            except orjson.JSONEncodeError:  # an integer beyond ±2^53, or a zoned time: `dumps` knows
                append(dumps(item))
        return out

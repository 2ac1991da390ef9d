"""Tables, views and their keys as PostgreSQL's catalog describes them.

Container ids come from clients, so they are never spliced into SQL: an id
is split into schema and relation name, looked up with bound parameters in
`pg_class`/`pg_namespace` (restricted to the allowed schemas and to
relations the user may SELECT), and only the catalog's own names are later
quoted with `psycopg.sql.Identifier`. An id that matches nothing is
not_found.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from ucf_common.errors import ErrorCode, UcfError

KINDS = {"r": "table", "p": "partitioned_table", "v": "view", "m": "materialized_view", "f": "foreign_table"}

_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = ANY(%(kinds)s) AND n.nspname = ANY(%(schemas)s)
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT') {filter}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
LIMIT %(limit)s
"""
_COLUMNS = """
SELECT a.attname, tn.nspname, t.typname
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
# The primary key, else a unique non-partial index on plain NOT NULL columns.
_KEY = """
SELECT array_agg(a.attname ORDER BY k.ord)
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND (i.indisprimary OR i.indisunique) AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indisprimary
HAVING bool_and(a.attnotnull)
ORDER BY i.indisprimary DESC, count(*)
LIMIT 1
"""


@dataclass(frozen=True)
class Column:
    name: str
    type_schema: str
    type_name: str

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    @property
    def type(self) -> sql.Identifier:
        return sql.Identifier(self.type_schema, self.type_name)


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str
    columns: tuple[Column, ...] = ()
    key: tuple[Column, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


async def list_relations(
    conn: psycopg.AsyncConnection,
    schemas: list[str],
    *,
    after: tuple[str, str] | None,
    limit: int,
    schema: str | None = None,
) -> list[Relation]:
    """Relations of the allowed schemas in (schema, name) order, strictly after `after`."""
    filters, params = [], {"kinds": list(KINDS), "schemas": schemas, "limit": limit}
    if after is not None:
        filters.append('AND (n.nspname COLLATE "C", c.relname COLLATE "C") > (%(s)s, %(r)s)')
        params.update(s=after[0], r=after[1])
    if schema is not None:
        filters.append("AND n.nspname = %(only)s")
        params["only"] = schema
    cur = await conn.execute(_RELATIONS.format(filter=" ".join(filters)), params)
    return [Relation(nsp, rel, KINDS[kind]) for _, nsp, rel, kind in await cur.fetchall()]


async def resolve(conn: psycopg.AsyncConnection, container_id: str, schemas: list[str]) -> Relation:
    """The relation a `schema.table` id names, with its columns and key; not_found otherwise."""
    schema, dot, name = (container_id or "").partition(".")
    if not dot or not schema or not name:
        raise UcfError(ErrorCode.NOT_FOUND, f"table {container_id!r} not found")
    params = {"kinds": list(KINDS), "schemas": schemas, "limit": 1, "s": schema, "r": name}
    cur = await conn.execute(_RELATIONS.format(filter="AND n.nspname = %(s)s AND c.relname = %(r)s"), params)
    row = await cur.fetchone()
    if row is None:
        raise UcfError(ErrorCode.NOT_FOUND, f"table {container_id!r} not found")
    oid, nsp, rel, kind = row
    cur = await conn.execute(_COLUMNS, [oid])
    columns = tuple(Column(*r) for r in await cur.fetchall())
    cur = await conn.execute(_KEY, [oid])
    key_row = await cur.fetchone()
    by_name = {c.name: c for c in columns}
    key = tuple(by_name[n] for n in key_row[0]) if key_row else ()
    return Relation(nsp, rel, KINDS[kind], columns, key)

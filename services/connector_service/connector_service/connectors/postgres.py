"""PostgreSQL: tables and views as containers, rows as items.

Credentials form: `{host, port, database, user, password, sslmode?, schemas?,
cursorColumn?}`; `schemas` defaults to ["public"]. Rows are paged by keyset on
the primary key (or a unique NOT NULL index): each page asks for rows whose
key is strictly greater than the last one handed out, so rows inserted while
a client pages never shift, duplicate or hide others. Relations without such
a key (most views) fall back to offset paging in a deterministic order, which
is stable only while the data does not change. `updatedSince` filters on the
connection's `cursorColumn`. Comments and writes are not supported: the
sessions are read-only.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.base import Capability, Connector, ProbeResult
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.models import Body, Container, Item, parse_time
from connector_service.connectors.paging import Page, decode_cursor, encode_cursor
from connector_service.connectors.pg_catalog import Relation, list_relations, resolve
from connector_service.connectors.pg_sessions import PgSessions

_TITLE_COLUMNS = ("title", "name", "subject", "summary")
_KEY_ALIAS = "__ucf_key_"


def _schemas(ctx: ConnectorContext) -> list[str]:
    schemas = ctx.credential.get("schemas") or ["public"]
    if isinstance(schemas, str):
        schemas = [s.strip() for s in schemas.split(",")]
    return [str(s) for s in schemas if s]


def _invalid_cursor() -> UcfError:
    return UcfError(ErrorCode.INVALID_REQUEST, "cursor is not valid", {"field": "cursor"})


def _key_values(relation: Relation, item_id: str) -> list[str]:
    """Key column texts of an item id: the value itself for one key column, a JSON array for several."""
    if len(relation.key) == 1:
        return [item_id]
    try:
        values = json.loads(item_id)
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(relation.key) or not all(isinstance(v, str) for v in values):
        raise UcfError(ErrorCode.NOT_FOUND, f"row {item_id!r} not found")
    return values


def _key_match(relation: Relation, op: str) -> sql.Composable:
    """`(k1, k2) <op> (CAST(%s AS type1), CAST(%s AS type2))` with catalog-quoted names."""
    cols = sql.SQL(", ").join(c.ident for c in relation.key)
    vals = sql.SQL(", ").join(sql.SQL("CAST(%s AS {})").format(c.type) for c in relation.key)
    return sql.SQL("({}) {} ({})").format(cols, sql.SQL(op), vals)


class PostgresConnector(Connector):
    id = "postgres"
    display_name = "PostgreSQL"
    capabilities = frozenset({Capability.VALIDATE, Capability.PROBE, Capability.CONTAINERS, Capability.ITEMS})

    def __init__(self, sessions: PgSessions | None = None):
        self.sessions = sessions or PgSessions()

    async def aclose(self) -> None:
        await self.sessions.aclose()

    async def validate(self, ctx: ConnectorContext) -> None:
        async with self.sessions.transaction(ctx) as conn:
            await conn.execute("SELECT 1")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        async with self.sessions.transaction(ctx) as conn:
            cur = await conn.execute("SELECT current_setting('server_version'), current_database(), current_user,"
                                     " current_setting('transaction_read_only')")
            version, database, user, read_only = await cur.fetchone()
        instance = {"host": str(ctx.credential.get("host", "")), "version": version, "database": database,
                    "user": user, "schemas": _schemas(ctx), "readOnly": read_only == "on"}
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)))

    async def list_containers(self, ctx, *, cursor, limit, parent_id=None) -> Page[Container]:
        state = decode_cursor(cursor)
        after = tuple(state["a"]) if state and isinstance(state.get("a"), list) and len(state["a"]) == 2 else None
        if state is not None and after is None:
            raise _invalid_cursor()
        async with self.sessions.transaction(ctx) as conn:
            found = await list_relations(conn, _schemas(ctx), after=after, limit=limit + 1, schema=parent_id)
        page, more = found[:limit], len(found) > limit
        return Page([Container(id=r.id, name=r.name, key=r.id, type=r.kind, parent_id=r.schema) for r in page],
                    encode_cursor({"a": [page[-1].schema, page[-1].name]}) if more else None)

    def _item(self, ctx: ConnectorContext, relation: Relation, row: dict[str, Any]) -> Item:
        keys = [row.pop(f"{_KEY_ALIAS}{n}") for n in range(len(relation.key))]
        item_id = keys[0] if len(keys) == 1 else json.dumps(keys) if keys else ""
        cursor_column = ctx.setting("cursorColumn", "cursor_column")
        title = next((str(row[c]) for c in _TITLE_COLUMNS if row.get(c) is not None), item_id)
        body = next((str(row[c]) for c in ("body", "description") if isinstance(row.get(c), str)), "")
        return Item(
            id=item_id,
            container_id=relation.id,
            title=title,
            body=Body(body, "plain"),
            created_at=parse_time(row.get("created_at")),
            updated_at=parse_time(row.get(cursor_column)) if cursor_column else None,
            fields=row,
        )

    def _select(self, relation: Relation) -> sql.Composable:
        keys = [sql.SQL("{}::text AS {}").format(c.ident, sql.Identifier(f"{_KEY_ALIAS}{n}"))
                for n, c in enumerate(relation.key)]
        return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join([*(c.ident for c in relation.columns), *keys]),
                                                   relation.ident)

    def _since(self, ctx: ConnectorContext, relation: Relation, since: dt.datetime | None) -> tuple[list, list]:
        if since is None:
            return [], []
        name = ctx.setting("cursorColumn", "cursor_column")
        if not name:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, "updatedSince needs the connection's cursorColumn")
        column = relation.column(str(name))
        if column is None:
            raise UcfError(ErrorCode.INVALID_REQUEST, f"{relation.id} has no column {name!r}", {"field": "updatedSince"})
        return [sql.SQL("{} >= %s").format(column.ident)], [since]

    async def list_items(self, ctx, container_id, *, updated_since, cursor, limit) -> Page[Item]:
        state = decode_cursor(cursor) or {}
        async with self.sessions.transaction(ctx) as conn:
            relation = await resolve(conn, container_id, _schemas(ctx))
            where, params = self._since(ctx, relation, updated_since)
            if relation.key:
                after = state.get("k")
                if after is not None:
                    if not isinstance(after, list) or len(after) != len(relation.key):
                        raise _invalid_cursor()
                    where.append(_key_match(relation, ">"))
                    params.extend(after)
                order = sql.SQL(", ").join(c.ident for c in relation.key)
                offset = 0
            else:
                offset = state.get("o", 0)
                if not isinstance(offset, int) or offset < 0:
                    raise _invalid_cursor()
                order = sql.SQL(", ").join(sql.SQL("{}::text").format(c.ident) for c in relation.columns)
            query = sql.SQL("{} {} ORDER BY {} LIMIT %s OFFSET %s").format(
                self._select(relation),
                sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
                order,
            )
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, [*params, limit + 1, offset])
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            nxt = None
        elif relation.key:
            nxt = encode_cursor({"k": [rows[-1][f"{_KEY_ALIAS}{n}"] for n in range(len(relation.key))]})
        else:
            nxt = encode_cursor({"o": offset + limit})
        return Page([self._item(ctx, relation, row) for row in rows], nxt)

    async def get_item(self, ctx, container_id, item_id) -> Item:
        async with self.sessions.transaction(ctx) as conn:
            relation = await resolve(conn, container_id, _schemas(ctx))
            if not relation.key:
                raise UcfError(ErrorCode.FAILED_PRECONDITION, f"{relation.id} has no primary key to address a row by")
            query = sql.SQL("{} WHERE {}").format(self._select(relation), _key_match(relation, "="))
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, _key_values(relation, item_id))
            row = await cur.fetchone()
        if row is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"row {item_id!r} not found in {relation.id}")
        return self._item(ctx, relation, row)

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

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from psycopg import sql
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.base import Capability, Connector, ProbeResult
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.models import Container, Item
from connector_service.connectors.paging import Page, decode_cursor, encode_cursor
from connector_service.connectors.pg_catalog import Relation, list_relations, resolve
from connector_service.connectors.pg_rows import KEY_ALIAS, Plan
from connector_service.connectors.pg_sessions import PgSessions, database_settings

# Resolved relations are reused for this long per (credential, schemas, container id), so a
# page costs one statement instead of BEGIN + three catalog queries + SELECT + COMMIT. A
# statement that fails on a cached relation whose table, columns or privileges changed
# (SQLSTATE class 42, or a cached plan whose result type changed) is retried once on a
# fresh resolution, which answers not_found/forbidden exactly as before; an added column
# shows up within this many seconds.
RELATION_CACHE_SECONDS = 10.0
RELATION_CACHE_SIZE = 1024
_STALE_SQLSTATES = ("42", "0A000")
#: A cached plan's key: the session key, the schemas searched and the container id.
_PlanKey = tuple[str, tuple[str, ...], str]


def _schemas(ctx: ConnectorContext) -> list[str]:
    return list(database_settings(ctx.credential).schemas)


def _cursor_column(ctx: ConnectorContext) -> Any:
    """The connection's `cursorColumn` (the column that says when a row changed), if it has one."""
    return ctx.setting("cursorColumn", "cursor_column")


def _updated_index(ctx: ConnectorContext, plan: Plan) -> int | None:
    """Where the cursor column sits in `plan`'s rows (None: no cursor column)."""
    return plan.updated_index(_cursor_column(ctx))


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
        self._plans: OrderedDict[_PlanKey, tuple[Plan, float]] = OrderedDict()

    async def aclose(self) -> None:
        await self.sessions.aclose()

    async def validate(self, ctx: ConnectorContext) -> None:
        async with self.sessions.transaction(ctx) as conn:
            await conn.execute("SELECT 1")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        async with self.sessions.transaction(ctx) as conn:
            cur = await conn.execute(
                "SELECT current_setting('server_version'), current_database(), current_user,"
                " current_setting('transaction_read_only')"
            )
            row = await cur.fetchone()
            if row is None:
                raise UcfError(ErrorCode.UPSTREAM_ERROR, "the database answered no row to a probe")
            version, database, user, read_only = row
        instance = {
            "host": database_settings(ctx.credential).host,
            "version": version,
            "database": database,
            "user": user,
            "schemas": _schemas(ctx),
            "readOnly": read_only == "on",
        }
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)))

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        state = decode_cursor(cursor)
        after = tuple(state["a"]) if state and isinstance(state.get("a"), list) and len(state["a"]) == 2 else None
        if state is not None and after is None:
            raise _invalid_cursor()
        async with self.sessions.transaction(ctx) as conn:
            found = await list_relations(conn, _schemas(ctx), after=after, limit=limit + 1, schema=parent_id)
        page, more = found[:limit], len(found) > limit
        return Page(
            [Container(id=r.id, name=r.name, key=r.id, type=r.kind, parent_id=r.schema) for r in page],
            encode_cursor({"a": [page[-1].schema, page[-1].name]}) if more else None,
        )

    def _item(self, ctx: ConnectorContext, plan: Plan, row: Sequence[Any]) -> Item:
        return plan.item(row, _updated_index(ctx, plan))

    def _select(self, relation: Relation) -> sql.Composable:
        keys = [
            sql.SQL("{}::text AS {}").format(c.ident, sql.Identifier(f"{KEY_ALIAS}{n}"))
            for n, c in enumerate(relation.key)
        ]
        return sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join([*(c.ident for c in relation.columns), *keys]), relation.ident
        )

    def _since(
        self, ctx: ConnectorContext, relation: Relation, since: dt.datetime | None
    ) -> tuple[list[sql.Composable], list[Any]]:
        if since is None:
            return [], []
        name = _cursor_column(ctx)
        if not name:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, "updatedSince needs the connection's cursorColumn")
        column = relation.column(str(name))
        if column is None:
            raise UcfError(
                ErrorCode.INVALID_REQUEST, f"{relation.id} has no column {name!r}", {"field": "updatedSince"}
            )
        return [sql.SQL("{} >= %s").format(column.ident)], [since]

    def _cache_key(self, ctx: ConnectorContext, container_id: str) -> _PlanKey:
        return (self.sessions.key(ctx), tuple(_schemas(ctx)), container_id)

    def _cached(self, key: _PlanKey) -> Plan | None:
        entry = self._plans.get(key)
        if entry is None:
            return None
        plan, until = entry
        if until < time.monotonic():
            del self._plans[key]
            return None
        return plan

    def _remember(self, key: _PlanKey, plan: Plan) -> None:
        self._plans.pop(key, None)
        self._plans[key] = (plan, time.monotonic() + RELATION_CACHE_SECONDS)
        while len(self._plans) > RELATION_CACHE_SIZE:
            self._plans.popitem(last=False)

    def _page_query(
        self,
        ctx: ConnectorContext,
        plan: Plan,
        state: dict[str, Any],
        updated_since: dt.datetime | None,
        limit: int | None,
    ) -> tuple[sql.Composed, list[Any], int]:
        """The page's SELECT, its parameters and its offset; `limit` None reads to the end."""
        relation = plan.relation
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
            plan.select,
            sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
            order,
        )
        return query, [*params, None if limit is None else limit + 1, offset], offset

    async def list_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Item]:
        state = decode_cursor(cursor) or {}
        key = self._cache_key(ctx, container_id)
        plan = self._cached(key)
        rows = None
        if plan is not None:
            query, params, offset = self._page_query(ctx, plan, state, updated_since, limit)
            try:
                async with self.sessions.statement(ctx) as conn:
                    cur = await conn.execute(query, params)
                    rows = await cur.fetchall()
            except UcfError as exc:
                if not str(exc.details.get("sqlstate", "")).startswith(_STALE_SQLSTATES):
                    raise
                self._plans.pop(key, None)
        if rows is None or plan is None:  # (no plan means no rows yet)
            async with self.sessions.transaction(ctx) as conn:
                plan = Plan.of(await resolve(conn, container_id, _schemas(ctx)), self._select)
                query, params, offset = self._page_query(ctx, plan, state, updated_since, limit)
                cur = await conn.execute(query, params)
                rows = await cur.fetchall()
            self._remember(key, plan)
        relation = plan.relation
        more = len(rows) > limit
        rows = rows[:limit]
        if not more:
            nxt = None
        elif relation.key:
            width = len(relation.columns)
            nxt = encode_cursor({"k": list(rows[-1][width:])})
        else:
            nxt = encode_cursor({"o": offset + limit})
        make, updated = plan.item, _updated_index(ctx, plan)
        return Page([make(row, updated) for row in rows], nxt)

    async def _stream_rows(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        batch: int,
    ) -> AsyncGenerator[tuple[Plan, list[Any], str | None], None]:
        """One read-only transaction and one server-side (named) cursor over the whole relation, in
        key order, as (plan, rows, next) `batch` rows at a time. The next batch is fetched while the
        caller handles this one, so PostgreSQL and the connector work at the same time; the
        connector holds at most two batches, PostgreSQL the rest. `next` is the keyset (or offset)
        cursor after the batch's last row, the same cursor `list_items` hands out; None on the
        last batch. The credential's session is busy until the stream ends."""
        state = decode_cursor(cursor) or {}
        async with self.sessions.transaction(ctx) as conn:
            plan = Plan.of(await resolve(conn, container_id, _schemas(ctx)), self._select)
            query, params, offset = self._page_query(ctx, plan, state, updated_since, None)
            width, keyed = len(plan.relation.columns), bool(plan.relation.key)
            async with conn.cursor(name="ucf_stream_items", binary=plan.binary) as cur:
                await cur.execute(query, params)
                rows = await cur.fetchmany(batch)
                while rows:
                    ahead = asyncio.ensure_future(cur.fetchmany(batch))
                    await asyncio.sleep(0)  # let it send the FETCH before the caller takes this batch
                    try:
                        offset += len(rows)
                        if len(rows) < batch:
                            nxt = None  # a short batch is the last one
                        elif keyed:
                            nxt = encode_cursor({"k": list(rows[-1][width:])})
                        else:
                            nxt = encode_cursor({"o": offset})
                        yield plan, rows, nxt
                    finally:
                        # Never cancel a fetch midway (it would leave the session mid-protocol): a
                        # closed stream waits for the one batch in flight, then closes the cursor.
                        rows = await ahead
                    if nxt is not None and not rows:  # a full last batch: its end said after it
                        yield plan, [], None

    async def stream_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        batch: int,
    ) -> AsyncGenerator[Page[Item], None]:
        async with contextlib.aclosing(
            self._stream_rows(ctx, container_id, updated_since=updated_since, cursor=cursor, batch=batch)
        ) as batches:
            async for plan, rows, nxt in batches:
                index = _updated_index(ctx, plan)
                yield Page([plan.item(row, index) for row in rows], nxt)

    async def stream_items_json(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        batch: int,
        encode: Callable[[Item], bytes],
    ) -> AsyncGenerator[Page[bytes], None]:
        """`stream_items` with each item written as its JSON straight from the row (`Plan.items_json`,
        the same bytes `encode` would write of the `Item`)."""
        async with contextlib.aclosing(
            self._stream_rows(ctx, container_id, updated_since=updated_since, cursor=cursor, batch=batch)
        ) as batches:
            async for plan, rows, nxt in batches:
                yield Page(plan.items_json(rows, _updated_index(ctx, plan)), nxt)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        async with self.sessions.transaction(ctx) as conn:
            relation = await resolve(conn, container_id, _schemas(ctx))
            if not relation.key:
                raise UcfError(ErrorCode.FAILED_PRECONDITION, f"{relation.id} has no primary key to address a row by")
            query = sql.SQL("{} WHERE {}").format(self._select(relation), _key_match(relation, "="))
            cur = await conn.execute(query, _key_values(relation, item_id))
            row = await cur.fetchone()
        if row is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"row {item_id!r} not found in {relation.id}")
        return self._item(ctx, Plan.of(relation, self._select), row)

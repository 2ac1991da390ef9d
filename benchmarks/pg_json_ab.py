"""Who writes the item JSON of the bulk read (issue 17): the connector, or PostgreSQL?

In one process, over the generated `tickets` table (`--rows`, local PostgreSQL as in
pg_read_bench.py), reads the whole table through one server-side cursor in batches of 1000 and
reports, per row, the CPU of this process (the connector's side) and of its PostgreSQL backend:

    rows         rows only, no JSON (the floor)
    connector    `PostgresConnector.stream_items_json`: rows → item dicts → orjson (what ships)
    postgres     PostgreSQL writes each item's JSON with per-type expressions (int8 beyond ±2^53
                 as a string, timestamptz as RFC 3339 `Z` via to_char…), fetched as one text
                 column, the connector only passes the bytes on

The "postgres" query covers only the tickets table's types (int8, text, timestamptz); it is a
measurement, not a product path. Not a `*_bench.py`: `.venv/bin/python benchmarks/pg_json_ab.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import harness
import orjson
import pg_tickets
from connector_service.connectors.auth import FormCredential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.postgres import PostgresConnector
from connector_service.resources.encoding import item_json
from psycopg import AsyncConnection, sql

from tests.support.postgres import connection_form

BATCH = 1000


def _stamp(column: str) -> str:
    return (
        f"""'"' || replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),"""
        """ '.000000Z', 'Z') || '"'"""
    )


def _nullable(expression: str) -> str:
    return f"COALESCE({expression}, 'null')"


def item_sql(container: str) -> str:
    """The item JSON of a tickets row, as text concatenation (the cheapest form measured; nested
    json_build_object and row_to_json cost more)."""
    exact_id = (
        "CASE WHEN id BETWEEN -9007199254740991 AND 9007199254740991 THEN id::text ELSE '\"' || id::text || '\"' END"
    )
    parts = [
        "'{\"id\":' || to_json(id::text)::text",
        f"',\"containerId\":' || {sql.quote(orjson.dumps(container).decode())}",
        "',\"title\":' || to_json(coalesce(title, id::text))::text",
        '\',"body":{"text":\' || to_json(coalesce(body, \'\'))::text || \',"format":"plain"}\'',
        '\',"status":"","assignees":[],"url":"","fields":{"id":\' || ' + exact_id,
        "',\"title\":' || " + _nullable("to_json(title)::text"),
        "',\"body\":' || " + _nullable("to_json(body)::text"),
        "',\"status\":' || " + _nullable("to_json(status)::text"),
        "',\"created_at\":' || " + _nullable(_stamp("created_at")),
        "',\"updated_at\":' || " + _nullable(_stamp("updated_at")) + " || '}'",
        "',\"createdAt\":' || " + _stamp("created_at"),
        "',\"updatedAt\":' || " + _stamp("updated_at") + " || '}'",
    ]
    return " || ".join(parts)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    schema = f"ucf_ab_{uuid.uuid4().hex[:8]}"
    container = f"{schema}.tickets"
    pg_tickets.create(schema, args.rows)
    connector = PostgresConnector()
    ctx = ConnectorContext(
        connector_id="postgres",
        credential=FormCredential(connection_form(schema)),
        http=None,  # type: ignore[arg-type]  # a database connector makes no HTTP calls
    )
    direct = await AsyncConnection.connect(pg_tickets.DSN + " options='-c TimeZone=UTC'")
    query = f'SELECT {item_sql(container)}, id::text FROM "{schema}".tickets ORDER BY id'  # a generated name

    async def rows_only() -> int:
        count = 0
        async for _, rows, _ in connector._stream_rows(ctx, container, updated_since=None, cursor=None, batch=BATCH):
            count += len(rows)
        return count

    async def by_connector() -> int:
        count = 0
        pages = connector.stream_items_json(
            ctx, container, updated_since=None, cursor=None, batch=BATCH, encode=item_json
        )
        async for page in pages:
            count += len(page.items)
        return count

    async def by_postgres() -> int:
        count = 0
        async with direct.transaction(), direct.cursor(name="ab") as cur:
            await cur.execute(query)
            while rows := await cur.fetchmany(BATCH):
                count += len([row[0].encode() for row in rows])
        return count

    async with connector.sessions.statement(ctx) as conn:
        session_pid = conn.info.backend_pid
    modes: dict[str, tuple[Callable[[], Awaitable[int]], int]] = {
        "rows": (rows_only, session_pid),
        "connector": (by_connector, session_pid),
        "postgres": (by_postgres, direct.info.backend_pid),
    }
    sample = (await (await direct.execute(query + " LIMIT 1")).fetchone())[0]
    shipped = [
        p
        async for p in connector.stream_items_json(
            ctx, container, updated_since=None, cursor=None, batch=1, encode=item_json
        )
    ][0].items[0]
    assert orjson.loads(sample) == orjson.loads(shipped), (sample, shipped)
    figures: dict[str, list[tuple[float, float, float]]] = {m: [] for m in modes}
    try:
        for _, mode in harness.alternate(list(modes), args.rounds):
            read, backend = modes[mode]
            ours, theirs, started = time.process_time(), cpu_seconds(backend), time.perf_counter()
            count = await read()
            assert count == args.rows, (mode, count)
            figures[mode].append(
                (
                    1e6 * (time.process_time() - ours) / count,
                    1e6 * (cpu_seconds(backend) - theirs) / count,
                    count / (time.perf_counter() - started),
                )
            )
    finally:
        await direct.close()
        await connector.aclose()
        pg_tickets.drop(schema)
    table = [
        {
            "mode": mode,
            "ours": round(statistics.median(f[0] for f in runs), 2),
            "pg": round(statistics.median(f[1] for f in runs), 2),
            "total": round(statistics.median(f[0] + f[1] for f in runs), 2),
            "rows_per_s": round(statistics.median(f[2] for f in runs)),
        }
        for mode, runs in figures.items()
    ]
    print(
        harness.table(
            table,
            [
                ("mode", "mode"),
                ("ours", "connector CPU µs/row"),
                ("pg", "PostgreSQL CPU µs/row"),
                ("total", "total µs/row"),
                ("rows_per_s", "rows/s"),
            ],
        )
    )
    harness.write_result(
        "pg_json_ab", {"benchmark": "pg_json_ab", "rows": args.rows, "rounds": args.rounds, "results": table}
    )


if __name__ == "__main__":
    asyncio.run(main())

"""The generated PostgreSQL table both PostgreSQL benchmarks read: `<schema>.tickets` in the local
server (127.0.0.1:5432, trust auth, database `test`), created before a run and dropped after it."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tests.support.postgres import DSN


def create(schema: str, rows: int, *, distinct_updates: bool = False) -> None:
    """`rows` tickets; with `distinct_updates` every row gets its own `updated_at` (a sync cursor
    needs an order), otherwise they all share `now()`."""
    updated_at = "now() - g * interval '1 second'" if distinct_updates else "now()"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.tickets (id bigint PRIMARY KEY, title text NOT NULL, body text, status text,"
                " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
            ).format(sql.Identifier(schema))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.tickets SELECT g, 'Ticket ' || g, repeat('lorem ipsum ', 1 + g %% 8),"
                " (ARRAY['open','closed','pending'])[1 + g %% 3], now() - g * interval '1 minute', "
                + updated_at
                + " FROM generate_series(1, %s) AS g"
            ).format(sql.Identifier(schema)),
            [rows],
        )
        conn.execute(sql.SQL("ANALYZE {}.tickets").format(sql.Identifier(schema)))


def drop(schema: str) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

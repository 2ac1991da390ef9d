"""The local PostgreSQL every machine runs (127.0.0.1:5432, trust auth, database `test`), as the
tests and benchmarks reach it."""

from __future__ import annotations

from typing import Any

DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def connection_form(schema: str, **extra: Any) -> dict[str, Any]:
    """The postgres connector's credentials form for that server, reading `schema` with
    `updated_at` as the cursor column; `extra` adds or replaces fields."""
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "database": "test",
        "user": "postgres",
        "password": "",
        "schemas": [schema],
        "cursorColumn": "updated_at",
        **extra,
    }

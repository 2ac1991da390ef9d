"""A connector service in-process with the real PostgreSQL connector, a real
table in the machine's PostgreSQL (its own schema, dropped afterwards) and a
PostgreSQL connection onboarded through ConnectCallback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf import struct_pb2
from ucf.connector.v1 import connectors_pb2 as cpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.support.postgres import DSN

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = f"ucf_jobs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        conn.execute(
            f'CREATE TABLE "{name}".tickets (id int PRIMARY KEY, title text NOT NULL, updated_at timestamptz NOT NULL)'
        )
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def pg_execute(sql: str, params: Any = None) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql, params)


def insert_rows(schema: str, ids: range, updated_at: dt.datetime = T0, title: str = "ticket") -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            f'INSERT INTO "{schema}".tickets SELECT g, %s || g, %s FROM generate_series(%s::int, %s::int) g',
            [title + " ", updated_at, ids.start, ids.stop - 1],
        )


@dataclass
class PgJobs:
    stack: Stack
    schema: str
    key: str
    connection_id: str

    @property
    def table(self) -> str:
        return f"{self.schema}.tickets"

    def auth(self) -> list[tuple[str, str]]:
        return auth(self.key)


async def onboard_postgres(stack: Stack, key: str, schema: str, workspace: str = "pg") -> str:
    credentials = struct_pb2.Struct()
    credentials.update(
        {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "user": "postgres",
            "password": "unused-with-trust-auth",
            "schemas": [schema],
            "cursor_column": "updated_at",
        }
    )
    done = await stack.connectors.ConnectCallback(
        cpb.ConnectCallbackRequest(connector_id="postgres", workspace_id=workspace, credentials=credentials),
        metadata=auth(key),
    )
    return done.connection_id


@pytest.fixture
def job_settings() -> dict[str, Any]:
    """Overridden per module for page size, lookback and concurrency."""
    return {}


@pytest.fixture
async def pg_jobs(
    mongo_url: str, db_suffix: str, pg_schema: str, job_settings: dict[str, Any]
) -> AsyncIterator[PgJobs]:
    settings = {"ucf_job_poll_seconds": 0.1, "ucf_sync_page_size": 50, "ucf_job_lease_seconds": 5.0, **job_settings}
    registry = ConnectorRegistry([PostgresConnector])
    try:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, registry=registry, **settings) as stack,
        ):
            key = await stack.key()
            connection_id = await onboard_postgres(stack, key, pg_schema)
            yield PgJobs(stack, pg_schema, key, connection_id)
    finally:
        await registry.aclose()

"""PostgreSQL values keep their JSON types end to end: one typed table read through REST items,
the REST NDJSON stream (both spellings), gRPC StreamItems and the records feed of a sync."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from ucf.connector.v1 import resources_pb2, resources_pb2_grpc

from tests.support.postgres import DSN
from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

BIG = 2**53 + 7  # not exact as a double: must travel as a string

# Each column's value and the JSON value (with its Python type, so 1 and 1.0 differ) it must become.
EXPECTED: dict[str, Any] = {
    "id": 1,
    "small": 42,
    "big": str(BIG),
    "fits": -(2**53 - 1),
    "price": "12.50",
    "done": True,
    "doc": {"n": 3, "tags": ["a"], "ratio": 0.5},
    "seen_at": "2024-03-01T12:00:00Z",
    "labels": ["x", "y"],
    "nothing": None,
}


@pytest.fixture(scope="module")
def table() -> Iterator[str]:
    schema = f"ucf_typed_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".typed (id int4 PRIMARY KEY, small int4, big int8, fits int8,'
            " price numeric(10,2), done bool, doc jsonb, seen_at timestamptz, labels text[], nothing int4)"
        )
        conn.execute(
            f'INSERT INTO "{schema}".typed VALUES (1, 42, %s, %s, 12.50, true, %s, %s, %s, NULL)',
            [
                BIG,
                -(2**53 - 1),
                json.dumps({"n": 3, "tags": ["a"], "ratio": 0.5}),
                dt.datetime(2024, 3, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                ["x", "y"],
            ],
        )
    yield schema
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("typed"), mongo_url) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def connection(api: httpx.Client, table: str) -> str:
    answer = api.post(
        "/api/connectors/postgres/connect/callback",
        json={
            "workspaceId": f"ws-{table}",
            "method": "credentials",
            "credentials": {
                "host": "127.0.0.1",
                "port": 5432,
                "database": "test",
                "user": "postgres",
                "password": "unused-with-trust-auth",
                "schemas": [table],
            },
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["connectionId"]


def typed(value: Any) -> Any:
    """`value` with each scalar paired with its type, so an int and an equal float differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def assert_typed(item: dict[str, Any]) -> None:
    assert typed(item["fields"]) == typed(EXPECTED)
    assert item["id"] == "1" and "createdAt" not in item and "author" not in item


def items_path(table: str, connection: str) -> str:
    return f"/api/connectors/postgres/items?connectionId={connection}&containerId={table}.typed"


def test_rest_items_keep_each_value_type(api: httpx.Client, table: str, connection: str) -> None:
    answer = api.get(items_path(table, connection))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True and body["data"]["next"] == ""
    [item] = body["data"]["items"]
    assert_typed(item)
    single = api.get(f"/api/connectors/postgres/items/1?connectionId={connection}&containerId={table}.typed")
    assert single.status_code == 200, single.text
    assert_typed(single.json()["data"])


@pytest.mark.parametrize("how", ["query", "accept"])
def test_rest_ndjson_stream_keeps_each_value_type(api: httpx.Client, table: str, connection: str, how: str) -> None:
    path = items_path(table, connection)
    if how == "query":
        answer = api.get(path + "&stream=true")
    else:
        answer = api.get(path, headers={"Accept": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert len(lines) == 2
    assert_typed(lines[0])
    assert lines[-1] == {"ok": True, "next": "", "count": 1}


def test_rest_stream_of_an_unknown_table_is_a_404_envelope(api: httpx.Client, table: str, connection: str) -> None:
    answer = api.get(items_path(table, connection).replace(".typed", ".missing") + "&stream=true")
    assert answer.status_code == 404, answer.text
    assert answer.json()["ok"] is False


def test_grpc_stream_items_keeps_each_value_type(stack: LocalStack, table: str, connection: str) -> None:
    with grpc.insecure_channel(stack.connector_address) as channel:
        stub = resources_pb2_grpc.ResourceServiceStub(channel)
        request = resources_pb2.ListItemsRequest(
            connector_id="postgres", connection_id=connection, container_id=f"{table}.typed"
        )
        messages = list(stub.StreamItems(request, metadata=[("authorization", f"Bearer {stack.api_key}")]))
    assert [m.next for m in messages] == [""]
    [raw] = messages[0].items_json
    assert_typed(json.loads(raw))


def test_records_feed_keeps_each_value_type(api: httpx.Client, table: str, connection: str) -> None:
    created = api.post(
        "/api/connectors/postgres/jobs",
        json={"type": "sync", "connectionId": connection, "params": {"containers": [f"{table}.typed"]}},
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["data"]["id"]
    deadline = time.monotonic() + 60  # only turns a hang into a failure
    while True:
        job = api.get(f"/api/jobs/{job_id}").json()["data"]
        if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    records = api.get(f"/api/connections/{connection}/records?stream=items")
    assert records.status_code == 200, records.text
    [change] = records.json()["data"]["items"]
    assert change["action"] == "added"
    assert_typed(change["record"])
    rest = api.get(items_path(table, connection)).json()["data"]["items"][0]
    assert change["record"] == rest  # absent means absent the same way in both

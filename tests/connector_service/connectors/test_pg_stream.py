"""The PostgreSQL bulk read: `stream_items_json` writes each row's item JSON straight from the row,
and must write what the `Item` path (`item_json(item)`, what paged ListItems answers) writes, for
every column type, NULLs and arrays included; the stream's batches and cursors cover every row once.
"""

from __future__ import annotations

import uuid

import orjson
import psycopg
import pytest
from connector_service.connectors.auth import FormCredential
from connector_service.resources.encoding import item_json

from tests.connector_service.connectors._support import collect
from tests.support.postgres import DSN, connection_form

# (SQL type, a literal of an ordinary value, a literal of an edge value); every column also gets a NULL row.
TYPES = [
    ("int2", "-7", "32767"),
    ("int4", "42", "-2147483648"),
    ("int8", "9007199254740991", "-9223372036854775808"),
    ("numeric(12,2)", "12.50", "-0.01"),
    ("numeric", "'NaN'", "0.0000001"),
    ("float4", "0.1", "'Infinity'"),
    ("float8", "1", "'NaN'"),
    ("bool", "true", "false"),
    ("text", "'plain'", "E'line\\nbreak \"quoted\" \\u00e9 \\\\'"),
    ("varchar(20)", "'short'", "''"),
    ("char(5)", "'ab'", "'abcde'"),
    ("name", "'a_name'", "'x'"),
    ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"),
    ("json", """'{"n": 12345678901234567890, "f": 1.0}'""", "'[]'"),
    ("jsonb", """'{"a": [1, {"b": null}], "big": 9007199254740993}'""", "'\"text\"'"),
    ("date", "'2024-02-29'", "'0001-01-01'"),
    ("time", "'12:00:00.5'", "'00:00'"),
    ("timetz", "'12:00:00+02'", "'23:59:59.999999-05'"),
    ("timestamp", "'2024-03-01 12:00:00'", "'2024-03-01 12:00:00.000001'"),
    ("timestamptz", "'2024-03-01 14:00:00+02'", "'1999-12-31 23:59:59.123456-08'"),
    ("interval", "'1 day 02:03:04'", "'-3 months'"),
    ("bytea", "'\\x00ff10'", "''"),
    ("inet", "'192.168.0.1/24'", "'::1'"),
    ("cidr", "'10.0.0.0/8'", "'2001:db8::/32'"),
    ("macaddr", "'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'"),
    ("money", "'12.34'", "'-1.00'"),
    ("int4[]", "'{{1,2},{3,4}}'", "'{}'"),
    ("text[]", "'{a,NULL,\"b c\"}'", "'{\"\"}'"),
    ("int8[]", "'{1,9007199254740993}'", "'{NULL}'"),
    ("numeric[]", "'{1.50,NaN}'", "'{}'"),
    ("timestamptz[]", "'{\"2024-01-01 00:00:00+00\"}'", "'{}'"),
    ("mood", "'happy'", "'sad'"),
    ("positive", "1", "2147483647"),
    ("int4range", "'[1,5)'", "'empty'"),
    ("point", "'(1,2)'", "'(-1.5,0)'"),
    ("tsvector", "'a fat cat'", "''"),
    ("bit(3)", "B'101'", "B'000'"),
    ("xml", "'<a>1</a>'", "'<b/>'"),
]


def column(n: int) -> str:
    return f"c{n}"


@pytest.fixture(scope="module")
def schema():
    name = f"ucf_pgs_{uuid.uuid4().hex[:10]}"
    columns = ", ".join(f"{column(n)} {sql_type}" for n, (sql_type, _, _) in enumerate(TYPES))
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        conn.execute(f'SET search_path TO "{name}"')
        conn.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')")
        conn.execute("CREATE DOMAIN positive AS int4 CHECK (VALUE > 0)")
        # Title and body are looked up by name; a non-text title and a NULL body exercise the fallbacks.
        conn.execute(
            f"CREATE TABLE typed (id int8 PRIMARY KEY, title int4, body text, description text,"
            f" created_at timestamptz, updated_at timestamp, {columns})"
        )
        ordinary = ", ".join(value for _, value, _ in TYPES)
        edge = ", ".join(value for _, _, value in TYPES)
        nulls = ", ".join("NULL" for _ in TYPES)
        conn.execute(f"INSERT INTO typed VALUES (1, 7, 'the body', 'a description', now(), now(), {ordinary})")
        conn.execute(f"INSERT INTO typed VALUES (9007199254740993, NULL, NULL, 'described', NULL, NULL, {edge})")
        conn.execute(f"INSERT INTO typed VALUES (3, NULL, NULL, NULL, NULL, NULL, {nulls})")
        conn.execute("CREATE TABLE pairs (a text, b int, note text, PRIMARY KEY (a, b))")
        conn.execute("INSERT INTO pairs VALUES ('x', 1, 'one'), ('é', 2, 'two'), ('y', 1, NULL)")
        conn.execute("CREATE VIEW keyless AS SELECT b, note AS name FROM pairs")
        # Only types read in binary (`pg_rows.BINARY_SAFE_TYPES`); paged reads use text.
        conn.execute(
            "CREATE TABLE plain (id int8 PRIMARY KEY, n2 int2, n4 int4, title varchar(9), body text, ok bool,"
            " f float8, price numeric, created_at timestamptz, at timestamp, day date, u uuid, raw bytea,"
            " doc json, docb jsonb)"
        )
        conn.execute(
            "INSERT INTO plain VALUES"
            " (1, -1, 7, 'one', 'b', true, 1, 12.50, '2024-03-01 12:00:00.5+02', '2024-03-01 00:00:00',"
            "  '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '{\"a\": 1.0}', '[1, 2.5]'),"
            " (9007199254740993, 32767, -2147483648, NULL, NULL, false, 'NaN', 'NaN', '0001-01-01 00:00:00+00',"
            "  '9999-12-31 23:59:59.999999', '0001-01-01', '00000000-0000-0000-0000-000000000000', '',"
            "  '{\"big\": 12345678901234567890}', '{\"k\": null}'),"
            " (2, NULL, NULL, NULL, NULL, NULL, -0.0, 0.0000001, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
            " (3, NULL, NULL, NULL, NULL, NULL, 1e300, -123456789012345678901234567890.123, NULL, NULL, NULL,"
            "  NULL, NULL, 'null', '\"x\"')"
        )
        conn.execute("CREATE TABLE seq (id int PRIMARY KEY, subject text)")
        conn.execute("INSERT INTO seq SELECT g, 'row ' || g FROM generate_series(1, 25) g")
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def ctx(schema, make_ctx):
    return make_ctx("postgres", FormCredential(connection_form(schema)))


async def stream_json(pg, ctx, container, *, batch=1000, cursor=None):
    pages = [
        page
        async for page in pg.stream_items_json(
            ctx, container, updated_since=None, cursor=cursor, batch=batch, encode=item_json
        )
    ]
    return [raw for page in pages for raw in page.items], [page.next for page in pages]


async def stream_items(pg, ctx, container, *, batch=1000):
    pages = [page async for page in pg.stream_items(ctx, container, updated_since=None, cursor=None, batch=batch)]
    return [item for page in pages for item in page.items]


@pytest.mark.parametrize("table", ["typed", "plain", "pairs", "keyless", "seq"])
async def test_streamed_json_is_what_the_item_path_writes(schema, pg, ctx, table):
    container = f"{schema}.{table}"
    streamed, _ = await stream_json(pg, ctx, container)
    items = await stream_items(pg, ctx, container)
    paged, _ = await collect(lambda **kw: pg.list_items(ctx, container, updated_since=None, **kw), limit=10)
    assert len(streamed) == len(items) == len(paged) > 0
    assert streamed == [item_json(i) for i in items]
    assert streamed == [item_json(i) for i in paged]


async def test_streamed_items_keep_the_documented_types(schema, pg, ctx):
    streamed, _ = await stream_json(pg, ctx, f"{schema}.typed")
    first, empty, edge = (orjson.loads(raw) for raw in streamed)  # in key order
    assert [first["id"], empty["id"], edge["id"]] == ["1", "3", "9007199254740993"]
    assert first["title"] == "7" and edge["title"] == "9007199254740993"  # non-text title; none: the id
    assert first["body"] == {"text": "the body", "format": "plain"}
    assert edge["body"]["text"] == "described" and empty["body"]["text"] == ""
    assert first["createdAt"].endswith("Z") and "createdAt" not in edge and "updatedAt" not in empty
    fields = first["fields"]
    assert fields["c2"] == 9007199254740991 and edge["fields"]["c2"] == "-9223372036854775808"
    assert fields["c3"] == "12.50" and fields["c4"] == "NaN"
    assert fields["c6"] == 1.0 and isinstance(fields["c6"], float)
    assert fields["c19"] == "2024-03-01T12:00:00Z"
    assert fields["c28"] == [1, "9007199254740993"]
    assert all(value is None for name, value in empty["fields"].items() if name.startswith("c"))


async def test_batches_resume_where_they_end_and_cover_every_row_once(schema, pg, ctx):
    container = f"{schema}.seq"
    for batch in (5, 7, 25, 30):  # an exact multiple, a remainder, the whole table, more than it
        streamed, nexts = await stream_json(pg, ctx, container, batch=batch)
        assert [orjson.loads(raw)["id"] for raw in streamed] == [str(n) for n in range(1, 26)]
        assert nexts[-1] is None and all(nexts[:-1])
    _, nexts = await stream_json(pg, ctx, container, batch=7)
    rest, _ = await stream_json(pg, ctx, container, batch=100, cursor=nexts[1])
    assert [orjson.loads(raw)["id"] for raw in rest] == [str(n) for n in range(15, 26)]


async def test_a_stream_closed_midway_leaves_the_session_usable(schema, pg, ctx):
    pages = pg.stream_items_json(ctx, f"{schema}.seq", updated_since=None, cursor=None, batch=5, encode=item_json)
    first = await anext(pages)
    assert len(first.items) == 5
    await pages.aclose()
    page = await pg.list_items(ctx, f"{schema}.seq", updated_since=None, cursor=None, limit=3)
    assert [i.id for i in page.items] == ["1", "2", "3"]
    again, _ = await stream_json(pg, ctx, f"{schema}.seq")
    assert len(again) == 25

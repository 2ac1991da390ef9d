"""PostgreSQL connector against the machine's real PostgreSQL (database `test`).

Each run creates its own schema and drops it afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest
from connector_service.connectors.auth import FormCredential
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.connectors._support import collect
from tests.support.postgres import DSN, connection_form

ROWS = 10_000
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def schema():
    name = f"ucf_pg_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        conn.execute(f'SET search_path TO "{name}"')
        conn.execute(
            "CREATE TABLE tickets (id bigint PRIMARY KEY, title text NOT NULL, body text,"
            " updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO tickets SELECT 2 * g, 'ticket ' || g, 'body ' || g, %s + g * interval '1 minute'"
            " FROM generate_series(1, %s) g",
            [START, ROWS],
        )
        conn.execute("CREATE TABLE victim (id int PRIMARY KEY)")
        conn.execute("INSERT INTO victim SELECT generate_series(1, 5)")
        conn.execute("CREATE TABLE pairs (a text, b int, note text, PRIMARY KEY (a, b))")
        conn.execute("INSERT INTO pairs VALUES ('x', 1, 'one'), ('x', 2, 'two'), ('y', 1, 'three')")
        conn.execute("CREATE VIEW recent AS SELECT id, title FROM tickets WHERE id <= 20")
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def ctx(schema, make_ctx):
    def build(**extra):
        return make_ctx("postgres", FormCredential(connection_form(schema, **extra)))

    return build


async def test_ten_thousand_rows_paged_exactly_once_while_rows_are_inserted(schema, pg, ctx):
    seen: list[int] = []
    cursor, pages = None, 0
    with psycopg.connect(DSN, autocommit=True) as writer:
        while True:
            page = await pg.list_items(ctx(), f"{schema}.tickets", updated_since=None, cursor=cursor, limit=200)
            seen.extend(int(i.id) for i in page.items)
            pages += 1
            # Odd ids land both behind and ahead of the reader's position.
            writer.execute(
                f'INSERT INTO "{schema}".tickets VALUES (%s, %s, NULL, now()), (%s, %s, NULL, now())',
                [2 * pages * 100 - 1, "behind", 2 * pages * 100 + 4001, "ahead"],
            )
            if page.next is None:
                break
            cursor = page.next
    originals = set(range(2, 2 * ROWS + 1, 2))
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert originals <= set(seen), f"{len(originals - set(seen))} rows were missed"
    assert pages >= ROWS // 200


async def test_rows_carry_columns_title_and_cursor_time(schema, pg, ctx):
    item = await pg.get_item(ctx(), f"{schema}.tickets", "4")
    assert item.title == "ticket 2" and item.body.text == "body 2"
    assert item.updated_at == START + dt.timedelta(minutes=2)
    assert item.fields["id"] == 4 and item.container_id == f"{schema}.tickets"


async def test_updated_since_filters_on_the_cursor_column(schema, pg, ctx):
    since = START + dt.timedelta(minutes=ROWS - 25)
    items, _ = await collect(
        lambda **kw: pg.list_items(ctx(), f"{schema}.tickets", updated_since=since, **kw), limit=10
    )
    originals = [int(i.id) for i in items if i.title.startswith("ticket")]
    assert originals == [2 * g for g in range(ROWS - 25, ROWS + 1)]
    with pytest.raises(UcfError) as err:
        await pg.list_items(ctx(cursorColumn=None), f"{schema}.tickets", updated_since=since, cursor=None, limit=10)
    assert err.value.code is ErrorCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "container",
    [
        pytest.param("{s}.victim; DROP TABLE {s}.victim; --", id="statement-injection"),
        pytest.param('{s}.victim" ; DELETE FROM "{s}".victim; --', id="quote-breakout"),
        pytest.param("{s}.victim WHERE 1=0 UNION SELECT 1 --", id="union"),
        pytest.param("pg_catalog.pg_authid", id="schema-not-allowed"),
        pytest.param("victim", id="no-schema"),
    ],
)
async def test_injection_through_container_id_is_not_found_and_harmless(schema, pg, ctx, container):
    with pytest.raises(UcfError) as err:
        await pg.list_items(ctx(), container.format(s=schema), updated_since=None, cursor=None, limit=10)
    assert err.value.code is ErrorCode.NOT_FOUND
    with psycopg.connect(DSN) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{schema}".victim').fetchone()[0] == 5


async def test_containers_are_tables_and_views_of_allowed_schemas(schema, pg, ctx):
    containers, pages = await collect(lambda **kw: pg.list_containers(ctx(), **kw), limit=2)
    assert [(c.id, c.type) for c in containers] == [
        (f"{schema}.pairs", "table"),
        (f"{schema}.recent", "view"),
        (f"{schema}.tickets", "table"),
        (f"{schema}.victim", "table"),
    ]
    assert pages == 2 and all(c.parent_id == schema for c in containers)


async def test_views_page_by_offset_and_composite_keys_by_tuple(schema, pg, ctx):
    rows, pages = await collect(
        lambda **kw: pg.list_items(ctx(), f"{schema}.recent", updated_since=None, **kw), limit=4
    )
    assert sorted(int(r.fields["id"]) for r in rows) == list(range(2, 21, 2)) and pages == 3
    pairs, _ = await collect(lambda **kw: pg.list_items(ctx(), f"{schema}.pairs", updated_since=None, **kw), limit=1)
    assert [json.loads(p.id) for p in pairs] == [["x", "1"], ["x", "2"], ["y", "1"]]
    item = await pg.get_item(ctx(), f"{schema}.pairs", json.dumps(["y", "1"]))
    assert item.fields["note"] == "three"


async def test_comments_unsupported_and_bad_inputs_refused(schema, pg, ctx):
    with pytest.raises(UcfError) as err:
        await pg.list_comments(ctx(), f"{schema}.tickets", "2", cursor=None, limit=10)
    assert err.value.code is ErrorCode.FAILED_PRECONDITION and err.value.message == "postgres does not support comments"
    with pytest.raises(UcfError) as err:
        await pg.get_item(ctx(), f"{schema}.tickets", "not-a-number")
    assert err.value.code is ErrorCode.INVALID_REQUEST
    with pytest.raises(UcfError) as err:
        await pg.get_item(ctx(), f"{schema}.tickets", "3")
    assert err.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(UcfError) as err:
        await pg.list_items(ctx(), f"{schema}.tickets", updated_since=None, cursor="eyJrIjpbIngnIl19", limit=5)
    assert err.value.code is ErrorCode.INVALID_REQUEST


async def test_validate_and_probe_report_a_read_only_session(pg, ctx):
    await pg.validate(ctx())
    probe = await pg.probe(ctx())
    assert probe.instance["database"] == "test" and probe.instance["readOnly"] is True
    assert probe.instance["version"].split(".")[0].isdigit()


async def test_unreachable_server_is_an_upstream_error(pg, ctx):
    with pytest.raises(UcfError) as err:
        await pg.validate(ctx(port=1))
    assert err.value.code is ErrorCode.UPSTREAM_ERROR


async def test_cached_relation_follows_dropped_columns_revoked_tables_and_drops(schema, pg, ctx):
    """A page read through a cached relation re-resolves when the table changed under it."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".shifting (id int PRIMARY KEY, gone text, kept text)')
        conn.execute(f"INSERT INTO \"{schema}\".shifting VALUES (1, 'g', 'k')")
    container = f"{schema}.shifting"
    page = await pg.list_items(ctx(), container, updated_since=None, cursor=None, limit=10)
    assert page.items[0].fields == {"id": 1, "gone": "g", "kept": "k"}
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE "{schema}".shifting DROP COLUMN gone')
    page = await pg.list_items(ctx(), container, updated_since=None, cursor=None, limit=10)
    assert page.items[0].fields == {"id": 1, "kept": "k"}
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{schema}".shifting')
    with pytest.raises(UcfError) as caught:
        await pg.list_items(ctx(), container, updated_since=None, cursor=None, limit=10)
    assert caught.value.code is ErrorCode.NOT_FOUND

"""The audit trail on a real database: records written in concurrent batches (one segment
document per tenant and batch) list newest first, page by page, each exactly once,
filtered by connection and action, and never across tenants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import UcfError


@pytest.fixture
async def db(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        yield client[f"audit_{db_suffix}"]
    finally:
        await client.drop_database(f"audit_{db_suffix}")
        await client.close()


async def _write(log: AuditLog) -> None:
    """Six concurrent waves of 17 records over two tenants, then five lone records in t0."""
    for wave in range(6):
        await asyncio.gather(
            *(
                log.record(
                    f"t{i % 2}",
                    audit.CREDENTIAL_USED if i % 3 else audit.CREDENTIAL_STORED,
                    "success",
                    connection_id=f"c{(i + wave) % 3}",
                    wave=wave,
                    n=i,
                )
                for i in range(17)
            )
        )
    for i in range(5):
        await log.record("t0", audit.CONNECTION_DELETED, "success", connection_id="c1", wave=6, n=i)


async def _all_pages(log: AuditLog, tenant: str, limit: int, **filters: str) -> list[dict]:
    entries, cursor = [], ""
    while True:
        page, cursor = await log.list(tenant, cursor=cursor, limit=limit, **filters)
        assert len(page) <= limit
        entries += page
        if not cursor:
            return entries


async def test_pages_list_every_record_once_newest_first(db: AsyncDatabase) -> None:
    log = AuditLog(db)
    await log.create_indexes()
    await _write(log)
    segments = await db[audit.SEGMENTS].count_documents({})
    stored = [entry async for segment in db[audit.SEGMENTS].find({"tenant_id": "t0"}) for entry in segment["entries"]]
    assert segments < 6 * 17 + 5  # batches share documents
    newest_first = sorted(stored, key=lambda entry: entry["id"], reverse=True)
    for limit in (1, 4, 7, 50, 200):
        listed = await _all_pages(log, "t0", limit)
        assert [entry["_id"] for entry in listed] == [entry["id"] for entry in newest_first]
        assert all(entry["tenant_id"] == "t0" for entry in listed)
    assert [e["details"]["n"] for e in listed[:5]] == [4, 3, 2, 1, 0]  # the lone records, last written first
    assert [e["action"] for e in listed[:5]] == [audit.CONNECTION_DELETED] * 5


@pytest.mark.parametrize(
    "filters",
    [
        {"connection_id": "c1"},
        {"action": audit.CREDENTIAL_STORED},
        {"connection_id": "c2", "action": audit.CREDENTIAL_USED},
    ],
)
async def test_filters_narrow_every_page(db: AsyncDatabase, filters: dict[str, str]) -> None:
    log = AuditLog(db)
    await log.create_indexes()
    await _write(log)
    everything = await _all_pages(log, "t1", 200)
    expected = [e["_id"] for e in everything if all(e[name] == value for name, value in filters.items())]
    assert expected
    for limit in (1, 3, 10):
        assert [e["_id"] for e in await _all_pages(log, "t1", limit, **filters)] == expected


async def test_tenants_never_see_each_others_records(db: AsyncDatabase) -> None:
    log = AuditLog(db)
    await log.create_indexes()
    await _write(log)
    zero, one = await _all_pages(log, "t0", 10), await _all_pages(log, "t1", 10)
    assert {e["tenant_id"] for e in zero} == {"t0"} and {e["tenant_id"] for e in one} == {"t1"}
    assert not {e["_id"] for e in zero} & {e["_id"] for e in one}
    assert await log.list("t2") == ([], "")
    page, cursor = await log.list("t0", limit=2)
    assert cursor
    older, _ = await log.list("t1", cursor=cursor, limit=200)  # a cursor is a position, not a grant
    assert older and {e["tenant_id"] for e in older} == {"t1"}
    with pytest.raises(UcfError):
        await log.list("t0", cursor="not-a-cursor")


async def test_batches_of_one_millisecond_from_two_processes_list_in_id_order(
    db: AsyncDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' batches minted in the same millisecond (a big one and a small one whose
    suffixes sort above it), and an earlier one: pages follow the ids across all three."""
    log = AuditLog(db)
    await log.create_indexes()
    starts = iter([50, 300, 7])
    monkeypatch.setattr(audit.wire.secrets, "randbelow", lambda _: next(starts))

    def entry(n: int) -> dict:
        return {
            "tenant_id": "t0",
            "action": audit.CREDENTIAL_USED,
            "outcome": "success",
            "actor": "k",
            "request_id": f"r{n}",
            "connection_id": "c1",
            "connector_id": "github",
            "details": {"n": n},
        }

    monkeypatch.setattr(audit.wire.time, "time", lambda: 1_700_000_000.123)
    big, small = audit._segments([entry(n) for n in range(150)]), audit._segments([entry(n) for n in range(10)])
    monkeypatch.setattr(audit.wire.time, "time", lambda: 1_700_000_000.122)  # one millisecond earlier
    earlier = audit._segments([entry(n) for n in range(3)])
    await db[audit.SEGMENTS].insert_many([*earlier, *small, *big])
    expected = sorted((e["id"] for s in (*big, *small, *earlier) for e in s["entries"]), reverse=True)
    first, cursor = await log.list("t0", limit=5)
    assert [e["_id"] for e in first] == expected[:5] and cursor
    for limit in (1, 5, 60, 200):
        assert [e["_id"] for e in await _all_pages(log, "t0", limit)] == expected

"""Many documents by `_id`, in chunks: every id is found, updated or deleted exactly once
whatever the count (none, one, a chunk, a chunk and one, many chunks), ids of another
tenant are never touched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from connector_service.platform import by_id
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

COUNTS = (0, 1, by_id.CHUNK, by_id.CHUNK + 1, 5 * by_id.CHUNK + 7)


@pytest.fixture
async def docs(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncCollection]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    collection = client[f"byid_{db_suffix}"]["docs"]
    await collection.insert_many(
        [{"_id": f"{tenant}|{n:04d}", "tenant_id": tenant, "n": n} for tenant in ("acme", "other") for n in range(300)]
    )
    yield collection
    await client.drop_database(f"byid_{db_suffix}")
    await client.close()


@pytest.mark.parametrize("count", COUNTS)
async def test_find_update_and_delete_see_each_id_once(docs: AsyncCollection, count: int) -> None:
    wanted = [f"acme|{n:04d}" for n in range(count)]
    foreign = [f"other|{n:04d}" for n in range(3)]
    found = await by_id.find(docs, wanted + foreign, {"tenant_id": "acme"}, {"n": 1})
    assert sorted(d["_id"] for d in found) == sorted(wanted)
    assert await by_id.update(docs, wanted + foreign, {"tenant_id": "acme"}, {"$set": {"seen": True}}) == count
    assert await docs.count_documents({"seen": True}) == count
    assert await by_id.delete(docs, wanted + foreign, {"tenant_id": "acme"}) == count
    assert await docs.count_documents({"tenant_id": "acme"}) == 300 - count
    assert await docs.count_documents({"tenant_id": "other"}) == 300

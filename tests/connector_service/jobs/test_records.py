"""RecordStore crash replay: a batch whose change documents a worker wrote (all or a
prefix) before it died (superseded documents and checkpoint not updated) is replayed
by the next worker with the same counts, one current document per record, and
without repeating or losing a change in the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from connector_service.jobs.feed import RecordFeed
from connector_service.jobs.leases import LeaseLost, StreamLeases
from connector_service.jobs.records import Batch, Entry, RecordStore
from connector_service.platform import wire
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

STREAM = ("acme", "con_1", "items")


@pytest.fixture
async def db(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[f"rec_{db_suffix}"]
    await client.drop_database(f"rec_{db_suffix}")
    await client.close()


async def _hold(leases: StreamLeases, worker: str) -> None:
    assert await leases.acquire(*STREAM, job_id="job_1", worker=worker, until=wire.now().replace(year=2100))


def _entries(*pairs: tuple[str, str]) -> list[Entry]:
    return [Entry(rid, {"id": rid, "title": title}, "c1") for rid, title in pairs]


async def _feed(db: AsyncDatabase) -> list[tuple[str, str, str]]:
    changes, _ = await RecordFeed(db).page("acme", "con_1", ("items",), "", 200)
    return [(c.record_id, c.action, c.record["title"]) for c in changes]


async def _current(db: AsyncDatabase) -> list[tuple[str, str]]:
    docs = db["record_changes"].find({"key": {"$exists": True}}).sort("record_id", 1)
    return [(d["record_id"], d["action"]) async for d in docs]


async def test_a_replayed_batch_counts_what_the_lost_attempt_did_and_repeats_no_change(db) -> None:
    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    await _hold(leases, "w1")
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # Batch 1's change documents are written, then the worker dies before the documents they
    # supersede lose their key (and before its checkpoint).
    crashing = RecordStore(db, leases)
    crashing._changes = _Crashing(db["record_changes"])
    with pytest.raises(_Crash):
        await crashing.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("2", "b2"), ("3", "c"), ("1", "a")))
    assert sorted(await _feed(db)) == [
        ("1", "added", "a"),
        ("2", "added", "b"),
        ("2", "updated", "b2"),
        ("3", "added", "c"),
    ]

    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("2", "b2"), ("3", "c"), ("1", "a")))
    assert replay.as_dict() == {"added": 1, "updated": 1, "deleted": 0, "unchanged": 1}
    assert sorted(await _feed(db)) == [
        ("1", "added", "a"),
        ("2", "added", "b"),
        ("2", "updated", "b2"),
        ("3", "added", "c"),
    ]
    assert await _current(db) == [("1", "added"), ("2", "updated"), ("3", "added")]
    assert await db["record_changes"].count_documents({}) == 4  # one document per change, none per record

    # A later full sync no longer sees record 1: its tombstone repeats the last state.
    later = await store.commit(Batch(*STREAM, "job_2", 0, "w2", True), _entries(("2", "b2"), ("3", "c")))
    assert later.as_dict() == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 2}
    swept, more = await store.delete_unseen(Batch(*STREAM, "job_2", 1, "w2", True), None, 10)
    assert (swept.as_dict()["deleted"], more) == (1, False)
    assert (await _feed(db))[-1] == ("1", "deleted", "a")
    assert await _current(db) == [("1", "deleted"), ("2", "updated"), ("3", "added")]


async def test_a_batch_cut_short_inside_its_insert_is_finished_by_the_replay(db) -> None:
    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    await _hold(leases, "w1")
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a")))
    crashing = RecordStore(db, leases)
    crashing._changes = _Crashing(db["record_changes"], inserts=1)  # only the first document lands
    with pytest.raises(_Crash):
        await crashing.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("1", "a2"), ("2", "b")))

    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("1", "a2"), ("2", "b")))
    assert replay.as_dict() == {"added": 1, "updated": 1, "deleted": 0, "unchanged": 0}
    assert await _feed(db) == [("1", "added", "a"), ("1", "updated", "a2"), ("2", "added", "b")]
    assert await _current(db) == [("1", "updated"), ("2", "added")]


class _Crash(Exception):
    pass


class _Crashing:
    """A change collection that reads, inserts the first `inserts` documents of the next insert (all
    by default), and dies there or on the first update."""

    def __init__(self, collection, inserts: int | None = None) -> None:
        self._collection = collection
        self._inserts = inserts

    def find(self, *args, **kwargs):
        return self._collection.find(*args, **kwargs)

    async def insert_many(self, docs, **kwargs):
        kept = docs if self._inserts is None else docs[: self._inserts]
        await self._collection.insert_many(kept, **kwargs)
        if len(kept) < len(docs):
            raise _Crash

    async def update_many(self, *args, **kwargs):
        raise _Crash


async def test_a_worker_that_lost_the_stream_cannot_commit_changes(db) -> None:
    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    await _hold(leases, "w1")
    await _hold(leases, "w2")  # the same job resumed elsewhere takes the stream over
    with pytest.raises(LeaseLost):
        await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "zombie")))
    assert await _feed(db) == []

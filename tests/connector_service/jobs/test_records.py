"""RecordStore crash replay: a batch whose change entries a worker wrote before it
died (records and checkpoint not written) is replayed by the next worker with the
same counts and without repeating or losing a change in the feed."""

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


async def test_a_replayed_batch_counts_what_the_lost_attempt_did_and_repeats_no_change(db) -> None:
    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    await _hold(leases, "w1")
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # Batch 1's change entries are written, then the worker dies before the records themselves
    # were written (and before its checkpoint).
    crashing = RecordStore(db, leases)
    crashing._records = _Dead(db["records"])
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
    assert await db["records"].count_documents({}) == 3

    # A later full sync no longer sees record 1: its deletion entry repeats the last state.
    later = await store.commit(Batch(*STREAM, "job_2", 0, "w2", True), _entries(("2", "b2"), ("3", "c")))
    assert later.as_dict() == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 2}
    swept, more = await store.delete_unseen(Batch(*STREAM, "job_2", 1, "w2", True), None, 10)
    assert (swept.as_dict()["deleted"], more) == (1, False)
    assert (await _feed(db))[-1] == ("1", "deleted", "a")


class _Crash(Exception):
    pass


class _Dead:
    """A `records` collection that reads but dies on the first write."""

    def __init__(self, collection) -> None:
        self._collection = collection

    def find(self, *args, **kwargs):
        return self._collection.find(*args, **kwargs)

    async def _die(self, *args, **kwargs):
        raise _Crash

    insert_many = bulk_write = update_many = _die


async def test_a_worker_that_lost_the_stream_cannot_commit_changes(db) -> None:
    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    await _hold(leases, "w1")
    await _hold(leases, "w2")  # the same job resumed elsewhere takes the stream over
    with pytest.raises(LeaseLost):
        await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "zombie")))
    assert await _feed(db) == []

"""RecordStore crash replay: a batch whose records a worker wrote (all or some) before
it died (its manifest and checkpoint not written) is published by the next writer of
the stream and replayed with the same counts, one state document per record, and
without repeating or losing a change in the feed. A writer that stalled past its
lease and writes late cannot change what the feed says."""

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


async def _writer(db: AsyncDatabase) -> tuple[StreamLeases, RecordStore]:
    """A record store whose worker w1 holds the stream for job_1."""
    leases = StreamLeases(db)
    await _hold(leases, "w1")
    return leases, RecordStore(db, leases)


async def _hold(leases: StreamLeases, worker: str) -> None:
    assert await leases.acquire(*STREAM, job_id="job_1", worker=worker, until=wire.now().replace(year=2100))


def _entries(*pairs: tuple[str, str]) -> list[Entry]:
    return [Entry(rid, {"id": rid, "title": title}, "c1") for rid, title in pairs]


async def _feed(db: AsyncDatabase) -> list[tuple[str, str, str]]:
    changes, _ = await RecordFeed(db).page("acme", "con_1", ("items",), "", 200)
    return [(c.record_id, c.action, c.record["title"]) for c in changes]


async def _current(db: AsyncDatabase) -> list[tuple[str, str]]:
    docs = db["record_state"].find({}).sort("record_id", 1)
    return [(d["record_id"], d["action"]) async for d in docs]


async def test_a_replayed_batch_counts_what_the_lost_attempt_did_and_repeats_no_change(db) -> None:
    leases, store = await _writer(db)
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # Batch 1's records are written, then the worker dies before its manifest (and checkpoint):
    # the feed does not show the batch yet, and still shows record 2 as it was.
    crashing = RecordStore(db, leases)
    crashing._batches = _Crashing(db["record_batches"])
    with pytest.raises(_Crash):
        await crashing.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("2", "b2"), ("3", "c"), ("1", "a")))
    assert await _feed(db) == [("1", "added", "a"), ("2", "added", "b")]

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
    # One state per record, and one copy for the one change that was superseded (record 2's add).
    assert await db["record_state"].count_documents({}) == 3
    assert await db["record_changes"].count_documents({}) == 1

    # A later full sync no longer sees record 1: its tombstone repeats the last state.
    later = await store.commit(Batch(*STREAM, "job_2", 0, "w2", True), _entries(("2", "b2"), ("3", "c")))
    assert later.as_dict() == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 2}
    swept, more = await store.delete_unseen(Batch(*STREAM, "job_2", 1, "w2", True), None, 10)
    assert (swept.as_dict()["deleted"], more) == (1, False)
    assert (await _feed(db))[-1] == ("1", "deleted", "a")
    assert await _current(db) == [("1", "deleted"), ("2", "updated"), ("3", "added")]


async def test_a_batch_cut_short_inside_its_writes_is_finished_by_the_replay(db) -> None:
    leases, store = await _writer(db)
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a")))
    crashing = RecordStore(db, leases)
    crashing._state = _Crashing(db["record_state"])  # the new record lands, the update does not
    with pytest.raises(_Crash):
        await crashing.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("1", "a2"), ("2", "b")))

    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("1", "a2"), ("2", "b")))
    assert replay.as_dict() == {"added": 1, "updated": 1, "deleted": 0, "unchanged": 0}
    assert await _feed(db) == [("1", "added", "a"), ("2", "added", "b"), ("1", "updated", "a2")]
    assert await _current(db) == [("1", "updated"), ("2", "added")]


async def test_a_stalled_writer_that_writes_after_its_batch_was_published_changes_nothing(db) -> None:
    leases, store = await _writer(db)
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # w1 writes record 3 of its batch 1 and stalls before updating record 1 (the write is kept
    # for later); meanwhile the job moves to w2, whose replay no longer reads record 1.
    stalled = RecordStore(db, leases)
    stalled._state = _Stalling(db["record_state"])
    with pytest.raises(_Crash):
        await stalled.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("1", "a-late"), ("3", "c")))
    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("3", "c")))
    assert replay.as_dict() == {"added": 1, "updated": 0, "deleted": 0, "unchanged": 0}
    await stalled._state.write_late()  # record 1's update lands now, into the published batch

    assert await _feed(db) == [("1", "added", "a"), ("2", "added", "b"), ("3", "added", "c")]
    # The next batch finds record 1 as last committed ("a"), and its late version is gone.
    again = await store.commit(Batch(*STREAM, "job_1", 2, "w2"), _entries(("1", "a"), ("3", "c")))
    assert again.as_dict() == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 2}
    assert (await db["record_state"].find_one({"record_id": "1"}))["json"] == '{"id":"1","title":"a"}'
    later = await store.commit(Batch(*STREAM, "job_1", 3, "w2"), _entries(("1", "a3")))
    assert later.as_dict() == {"added": 0, "updated": 1, "deleted": 0, "unchanged": 0}
    assert [c for c in await _feed(db) if c[0] == "1"] == [("1", "added", "a"), ("1", "updated", "a3")]


async def test_a_late_write_cannot_overwrite_a_newer_state(db) -> None:
    leases, store = await _writer(db)
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a")))
    stalled = RecordStore(db, leases)
    stalled._state = _Stalling(db["record_state"])
    with pytest.raises(_Crash):
        await stalled.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("1", "a-late")))
    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("1", "a2")))
    assert replay.as_dict() == {"added": 0, "updated": 1, "deleted": 0, "unchanged": 0}
    result = await stalled._state.write_late()
    assert result.matched_count == 0  # it read seq 1; the record is at a later one now

    assert await _feed(db) == [("1", "added", "a"), ("1", "updated", "a2")]


async def test_a_first_sync_inserts_without_lookups_and_still_sees_a_record_read_twice(db) -> None:
    leases, store = await _writer(db)
    first = await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # Nothing existed: the next batch is inserted straight away; one of its rows was read before
    # (unchanged) and one changed since it was read.
    second = await store.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("3", "c"), ("1", "a"), ("2", "b2")))
    third = await store.commit(Batch(*STREAM, "job_1", 2, "w1"), _entries(("4", "d"), ("2", "b2")))
    assert [first.as_dict(), second.as_dict(), third.as_dict()] == [
        {"added": 2, "updated": 0, "deleted": 0, "unchanged": 0},
        {"added": 1, "updated": 1, "deleted": 0, "unchanged": 1},
        {"added": 1, "updated": 0, "deleted": 0, "unchanged": 1},
    ]
    assert await _feed(db) == [
        ("1", "added", "a"),
        ("2", "added", "b"),
        ("3", "added", "c"),
        ("2", "updated", "b2"),
        ("4", "added", "d"),
    ]


async def test_a_batch_inserted_without_lookups_and_cut_short_is_published_once(db) -> None:
    leases, store = await _writer(db)
    crashing = RecordStore(db, leases)
    await crashing.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a")))
    crashing._batches = _Crashing(db["record_batches"])  # batch 1 is inserted, its manifest is not
    with pytest.raises(_Crash):
        await crashing.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("2", "b"), ("3", "c")))
    assert await _feed(db) == [("1", "added", "a")]

    await _hold(leases, "w2")
    replay = await store.commit(Batch(*STREAM, "job_1", 1, "w2"), _entries(("2", "b"), ("3", "c")))
    assert replay.as_dict() == {"added": 2, "updated": 0, "deleted": 0, "unchanged": 0}
    assert await _feed(db) == [("1", "added", "a"), ("2", "added", "b"), ("3", "added", "c")]


async def test_the_feed_reads_past_a_long_run_of_unused_numbers(db) -> None:
    leases, store = await _writer(db)
    await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "a"), ("2", "b")))
    # Numbers a crashed writer allocated and never used (the feed reads manifests by windows).
    await db["sync_streams"].update_one({"_id": "acme|con_1|items"}, {"$inc": {"seq": 50_000}})
    await store.commit(Batch(*STREAM, "job_1", 1, "w1"), _entries(("3", "c")))
    assert await _feed(db) == [("1", "added", "a"), ("2", "added", "b"), ("3", "added", "c")]
    first, cursor = await RecordFeed(db).page("acme", "con_1", ("items",), "", 2)
    rest, end = await RecordFeed(db).page("acme", "con_1", ("items",), cursor, 2)
    assert [c.record_id for c in first] == ["1", "2"] and [c.record_id for c in rest] == ["3"]
    assert (await RecordFeed(db).page("acme", "con_1", ("items",), end, 2))[0] == []


class _Crash(Exception):
    pass


class _Crashing:
    """A collection that reads and inserts, and dies on its first other write (a manifest's
    `insert_one`, a state's replacement)."""

    def __init__(self, collection) -> None:
        self._collection = collection

    def find(self, *args, **kwargs):
        return self._collection.find(*args, **kwargs)

    async def find_one(self, *args, **kwargs):
        return await self._collection.find_one(*args, **kwargs)

    async def insert_many(self, docs, **kwargs):
        await self._collection.insert_many(docs, **kwargs)

    async def insert_one(self, *args, **kwargs):
        raise _Crash

    async def bulk_write(self, *args, **kwargs):
        raise _Crash


class _Stalling(_Crashing):
    """Like `_Crashing`, but keeps the replacement it did not do, for `write_late`."""

    async def bulk_write(self, requests, **kwargs):
        self._late = (requests, kwargs)
        raise _Crash

    async def write_late(self):
        requests, kwargs = self._late
        return await self._collection.bulk_write(requests, **kwargs)


async def test_a_worker_that_lost_the_stream_cannot_commit_changes(db) -> None:
    leases, store = await _writer(db)
    await _hold(leases, "w2")  # the same job resumed elsewhere takes the stream over
    with pytest.raises(LeaseLost):
        await store.commit(Batch(*STREAM, "job_1", 0, "w1"), _entries(("1", "zombie")))
    assert await _feed(db) == []

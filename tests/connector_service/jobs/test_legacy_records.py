"""Records stored by earlier layouts are moved into the current one at start: the
two-document layout (a `records` pointer beside each change entry, the oldest keyed
without their container) and the one-document layout (every change in
`record_changes`, the latest of each record carrying its key). The feed reads the
same, old cursors still work, and the next syncs count those records as they were
(unchanged, updated, deleted)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from connector_service.jobs.feed import RecordFeed, encode_position
from connector_service.jobs.leases import StreamLeases
from connector_service.jobs.legacy import migrate, migrate_changes, migrate_pointers
from connector_service.jobs.records import Batch, Entry, RecordStore, change_id
from connector_service.jobs.shapes import canonical, content_hash
from connector_service.platform import wire
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

TENANT, CONNECTION = "acme", "con_1"
BASE = f"{TENANT}|{CONNECTION}|items"


@pytest.fixture
async def db(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[f"legacy_{db_suffix}"]
    await client.drop_database(f"legacy_{db_suffix}")
    await client.close()


def _record(rid: str, title: str) -> dict:
    return {"id": rid, "title": title}


_ENTRIES = [
    (1, "1", "added", _record("1", "a")),
    (2, "2", "added", _record("2", "b")),
    (3, "1", "updated", _record("1", "a2")),
    (4, "7", "added", _record("7", "g")),
    (5, "7", "deleted", _record("7", "g")),
    (6, "9", "added", _record("9", "i")),
    (7, "9", "added", _record("9", "i")),
    (8, "9", "deleted", _record("9", "i")),
]


def _change(seq: int, rid: str, action: str, record: dict, **state: object) -> dict:
    """A change document of the earlier layouts (layout 2 adds the record's state to the latest)."""
    return {
        "_id": change_id(TENANT, CONNECTION, "items", seq),
        "tenant_id": TENANT,
        "connection_id": CONNECTION,
        "stream": "items",
        "seq": seq,
        "record_id": rid,
        "action": action,
        "json": canonical(record),
        "committed_at": wire.now(),
        "container_id": "r1",
        "updated_at": None,
        **state,
    }


async def _old_layout(db: AsyncDatabase) -> None:
    """Seq 1: #1 of repo r1 added (pointer keyed the old way, without its container); seq 2: #2 of r1
    added; seq 3: #1 of r1 updated after the container-in-key fix (a second, new-shape pointer);
    seq 4: #7 of r1 added then seq 5 deleted; #9 of r1 added at seq 6 before the fix, added again at
    seq 7 after it, and its old-shape copy swept as deleted at seq 8 (the record itself lives on)."""
    entries = _ENTRIES
    # The stream's sequence counter, as the old layout left it.
    await db["sync_streams"].insert_one({"_id": BASE, "tenant_id": TENANT, "connection_id": CONNECTION, "seq": 8})
    await db["record_changes"].insert_many([_change(seq, rid, action, record) for seq, rid, action, record in entries])

    def pointer(key: str, rid: str, seq: int, record: dict, deleted: bool = False) -> dict:
        return {
            "_id": key,
            "tenant_id": TENANT,
            "connection_id": CONNECTION,
            "record_id": rid,
            "container_id": "r1",
            "parent_id": "",
            "hash": None if deleted else content_hash(canonical(record)),
            "updated_at": None,
            "deleted": deleted,
            "seq": seq,
            "action": "deleted" if deleted else ("updated" if seq == 3 else "added"),
            "changed_in": {"job": "old", "batch": 0},
            "seen": "old",
        }

    await db["records"].insert_many(
        [
            pointer(f"{BASE}|1", "1", 1, _record("1", "a")),  # the old key shape
            pointer(f"{BASE}|r1|2", "2", 2, _record("2", "b")),
            pointer(f"{BASE}|r1|1", "1", 3, _record("1", "a2")),
            pointer(f"{BASE}|r1|7", "7", 5, _record("7", "g"), deleted=True),
            pointer(f"{BASE}|9", "9", 8, _record("9", "i"), deleted=True),  # the swept old-shape copy
            pointer(f"{BASE}|r1|9", "9", 7, _record("9", "i")),
        ]
    )


async def _feed(db: AsyncDatabase, cursor: str = "") -> tuple[list[tuple[str, str, str]], str]:
    changes, end = await RecordFeed(db).page(TENANT, CONNECTION, ("items",), cursor, 200)
    return [(c.record_id, c.action, c.record["title"]) for c in changes], end


async def test_old_records_are_folded_in_once_and_sync_on_as_they_were(db) -> None:
    await _old_layout(db)
    # What the feed said before: every entry in sequence order (and a cursor handed out after two).
    before = [(rid, action, record["title"]) for _, rid, action, record in _ENTRIES]
    after_two = encode_position({"items": 2})

    assert await migrate_pointers(db) == 6
    assert await migrate_pointers(db) == 0  # a second start (or replica) finds nothing left
    assert await migrate_changes(db) == 4
    await migrate(db)  # and nothing is left for either step
    assert await db["records"].count_documents({}) == 0
    assert "key_1" not in await db["record_changes"].index_information()
    assert (await _feed(db))[0] == before
    current = db["record_state"].find({}, {"seq": 1}).sort("seq", 1)
    assert [(d["_id"], d["seq"]) async for d in current] == [
        (f"{BASE}|r1|2", 2),
        (f"{BASE}|r1|1", 3),
        (f"{BASE}|r1|7", 5),
        (f"{BASE}|r1|9", 7),
    ]

    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    assert await leases.acquire(
        TENANT, CONNECTION, "items", job_id="job_1", worker="w", until=wire.now().replace(year=2100)
    )
    batch = Batch(TENANT, CONNECTION, "items", "job_1", 0, "w", True)
    entries = [
        Entry("1", _record("1", "a2"), "r1"),
        Entry("2", _record("2", "b2"), "r1"),
        Entry("7", _record("7", "g"), "r1"),
        Entry("9", _record("9", "i"), "r1"),
    ]
    counts = await store.commit(batch, entries)
    assert counts.as_dict() == {"added": 1, "updated": 1, "deleted": 0, "unchanged": 2}
    swept, _ = await store.delete_unseen(Batch(TENANT, CONNECTION, "items", "job_1", 1, "w", True), ["r1"], 10)
    assert swept.deleted == 0

    newer, _ = await _feed(db, after_two)  # a cursor handed out before the migration
    assert newer == [
        ("1", "updated", "a2"),
        ("7", "added", "g"),
        ("7", "deleted", "g"),
        ("9", "added", "i"),
        ("9", "added", "i"),
        ("9", "deleted", "i"),
        ("2", "updated", "b2"),
        ("7", "added", "g"),
    ]


async def test_one_document_layout_moves_to_state_documents_and_manifests(db) -> None:
    """Layout 2: seq 1 #1 added, 2 #2 added, 3 #1 updated (carries the key), 4 #3 added, 5 #3
    updated by a batch whose worker died before seq 4 lost the key (two documents with one key),
    then a gap (6 unused), 7 #2 deleted."""
    rows = [
        (1, "1", "added", "a", False, False),
        (2, "2", "added", "b", False, False),
        (3, "1", "updated", "a2", True, False),
        (4, "3", "added", "c", True, False),
        (5, "3", "updated", "c2", True, False),
        (7, "2", "deleted", "b", True, True),
    ]
    await db["record_changes"].create_index([("key", 1)], sparse=True)
    await db["sync_streams"].insert_one({"_id": BASE, "tenant_id": TENANT, "connection_id": CONNECTION, "seq": 7})
    await db["record_changes"].insert_many(
        [
            _change(
                seq,
                rid,
                action,
                _record(rid, title),
                changed_in={"job": "old", "batch": seq},
                hash=None if deleted else content_hash(canonical(_record(rid, title))),
                deleted=deleted,
                seen="old",
                **({"key": f"{BASE}|r1|{rid}"} if keyed else {}),
            )
            for seq, rid, action, title, keyed, deleted in rows
        ]
    )
    before = [(rid, action, title) for _, rid, action, title, _, _ in rows]
    after_three = encode_position({"items": 3})  # after #1 was updated

    assert await migrate_changes(db) == 4
    assert await migrate_changes(db) == 0
    assert "key_1" not in await db["record_changes"].index_information()
    assert (await _feed(db))[0] == before
    states = db["record_state"].find({}, {"seq": 1, "action": 1}).sort("_id", 1)
    assert [(d["_id"], d["seq"], d["action"]) async for d in states] == [
        (f"{BASE}|r1|1", 3, "updated"),
        (f"{BASE}|r1|2", 7, "deleted"),
        (f"{BASE}|r1|3", 5, "updated"),  # the newer of the two
    ]

    leases = StreamLeases(db)
    store = RecordStore(db, leases)
    assert await leases.acquire(
        TENANT, CONNECTION, "items", job_id="job_1", worker="w", until=wire.now().replace(year=2100)
    )
    counts = await store.commit(
        Batch(TENANT, CONNECTION, "items", "job_1", 0, "w"),
        [
            Entry("1", _record("1", "a2"), "r1"),
            Entry("2", _record("2", "b"), "r1"),
            Entry("3", _record("3", "c3"), "r1"),
        ],
    )
    assert counts.as_dict() == {"added": 1, "updated": 1, "deleted": 0, "unchanged": 1}
    newer, _ = await _feed(db, after_three)
    assert newer == [
        ("3", "added", "c"),
        ("3", "updated", "c2"),
        ("2", "deleted", "b"),
        ("2", "added", "b"),
        ("3", "updated", "c3"),
    ]

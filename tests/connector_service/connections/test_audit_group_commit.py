"""The audit log's group commit: every record is written before its caller goes on,
concurrent records share inserts, and a failed insert fails every caller whose record
it carried (so no credential is handed out without its audit record)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, PyMongoError, WriteError


class _Collection:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.batches: list[list[dict[str, Any]]] = []

    async def insert_many(self, documents: list[dict[str, Any]], ordered: bool = True) -> None:
        await asyncio.sleep(0)  # a round trip: others may queue meanwhile
        if self.fail:
            raise PyMongoError("insert refused")
        assert ordered is False
        self.batches.append(list(documents))

    async def insert_one(self, document: dict[str, Any]) -> None:
        await self.insert_many([document], ordered=False)


class _Db:
    def __init__(self, collection: _Collection):
        self.collection = collection

    def __getitem__(self, name: str) -> _Collection:
        assert name == audit.SEGMENTS
        return self.collection


def _entries(collection: _Collection) -> list[dict[str, Any]]:
    """The records written, in write order, each with its segment's tenant."""
    return [
        {"tenant_id": segment["tenant_id"], **entry}
        for batch in collection.batches
        for segment in batch
        for entry in segment["entries"]
    ]


async def test_concurrent_records_are_all_written_in_shared_inserts() -> None:
    collection = _Collection()
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    await asyncio.gather(
        *(log.record("t1", audit.CREDENTIAL_USED, "success", connection_id=f"c{i}", refreshed=False) for i in range(50))
    )
    written = [entry["connection_id"] for entry in _entries(collection)]
    assert sorted(written) == sorted(f"c{i}" for i in range(50))
    assert len(collection.batches) < 50
    assert all(entry["tenant_id"] == "t1" and entry["action"] == "credential.use" for entry in _entries(collection))
    ids = [entry["id"] for entry in _entries(collection)]
    assert ids == sorted(ids) and len(set(ids)) == 50  # minted in commit order


async def test_a_lone_caller_is_written_before_it_returns() -> None:
    collection = _Collection()
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    for i in range(3):
        await log.record("t1", audit.CREDENTIAL_USED, "success", connection_id=f"c{i}")
        assert [entry["connection_id"] for segment in collection.batches[-1] for entry in segment["entries"]] == [
            f"c{i}"
        ]


async def test_a_failed_insert_fails_every_caller_of_its_batch() -> None:
    collection = _Collection(fail=True)
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(log.record("t1", audit.CREDENTIAL_USED, "success", connection_id=f"c{i}") for i in range(20)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, PyMongoError) for outcome in outcomes)


async def test_a_cancelled_writer_fails_the_records_it_had_not_written() -> None:
    collection = _Collection()
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    await asyncio.gather(*(log.record("t1", audit.CREDENTIAL_USED, "success") for _ in range(4)))
    callers = [asyncio.create_task(log.record("t1", audit.CREDENTIAL_USED, "success")) for _ in range(3)]
    while log._writer is None or log._writer.done() or not log._pending:
        await asyncio.sleep(0)
    log._writer.cancel()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(outcome, Exception) for outcome in outcomes)


async def test_a_batch_is_one_segment_per_tenant() -> None:
    collection = _Collection()
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    await log.record("t0", audit.CREDENTIAL_USED, "success")  # a lone first write
    await asyncio.gather(
        *(
            log.record(
                f"t{i % 2}",
                audit.CREDENTIAL_USED if i % 3 else audit.CREDENTIAL_STORED,
                "success",
                connection_id=f"c{i % 4}",
            )
            for i in range(12)
        )
    )
    segments = collection.batches[1]
    assert sorted(s["tenant_id"] for s in segments) == ["t0", "t1"]
    for segment in segments:
        ids = [entry["id"] for entry in segment["entries"]]
        assert segment["oldest"] == ids[0] == min(ids) and segment["newest"] == ids[-1] == segment["_id"]
        assert segment["connection_ids"] == sorted({entry["connection_id"] for entry in segment["entries"]})
        assert segment["actions"] == sorted({entry["action"] for entry in segment["entries"]})
        assert len({entry_id[:16] for entry_id in ids}) == 1  # one millisecond per segment
        assert all("tenant_id" not in entry for entry in segment["entries"])


def test_credential_named_details_are_refused() -> None:
    with pytest.raises(ValueError, match="credential"):
        audit._check_details({"access_token": "x"})
    assert audit._check_details({"refreshed": True}) == {"refreshed": True}


class _LosingCollection(_Collection):
    """Writes every batch, then loses the answer of the first `lose` inserts (a dropped
    connection after the server had written); a repeated `_id` is a duplicate key."""

    def __init__(self, lose: int = 1, other_error: bool = False):
        super().__init__()
        self.lose = lose
        self.other_error = other_error
        self.ids: set[str] = set()
        self.attempts = 0

    async def insert_many(self, documents: list[dict[str, Any]], ordered: bool = True) -> None:
        self.attempts += 1
        fresh = [doc for doc in documents if doc["_id"] not in self.ids]
        errors = [
            {"index": i, "code": 11000, "errmsg": "duplicate key"}
            for i, doc in enumerate(documents)
            if doc["_id"] in self.ids
        ]
        if self.other_error and errors:
            errors[0] = {**errors[0], "code": 121, "errmsg": "document failed validation"}
        self.ids.update(doc["_id"] for doc in fresh)
        if fresh:
            self.batches.append(fresh)
        if self.lose:
            self.lose -= 1
            raise AutoReconnect("connection closed")
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(fresh)})

    async def insert_one(self, document: dict[str, Any]) -> None:
        """As the driver answers one insert: a repeated `_id` is a DuplicateKeyError, another
        refusal a WriteError, not a BulkWriteError."""
        try:
            await self.insert_many([document], ordered=False)
        except BulkWriteError as err:
            error = err.details["writeErrors"][0]
            kind = DuplicateKeyError if error["code"] == 11000 else WriteError
            raise kind(error["errmsg"], error["code"], error) from None


async def test_a_lost_answer_is_retried_once_and_a_duplicate_key_counts_as_written() -> None:
    collection = _LosingCollection(lose=1)
    log = AuditLog(_Db(_Collection()), append_db=_Db(collection))  # type: ignore[arg-type]
    await log.record("t1", audit.CREDENTIAL_USED, "success", connection_id="c1")
    assert collection.attempts == 2
    assert [entry["connection_id"] for entry in _entries(collection)] == ["c1"]


async def test_a_retry_that_fails_otherwise_fails_the_caller() -> None:
    for collection in (_LosingCollection(lose=2), _LosingCollection(lose=1, other_error=True)):
        log = AuditLog(_Db(_Collection()), append_db=_Db(collection))  # type: ignore[arg-type]
        with pytest.raises(PyMongoError):
            await log.record("t1", audit.CREDENTIAL_USED, "success", connection_id="c1")
        assert collection.attempts == 2


async def _two_tenants(log: AuditLog) -> None:
    """Two records taken in one batch: one segment per tenant, one `insert_many`."""
    await asyncio.gather(
        log.record("t1", audit.CREDENTIAL_USED, "success", connection_id="c1"),
        log.record("t2", audit.CREDENTIAL_USED, "success", connection_id="c2"),
    )


async def test_a_lost_answer_of_several_segments_is_retried_and_duplicates_count_as_written() -> None:
    collection = _LosingCollection(lose=1)
    log = AuditLog(_Db(_Collection()), append_db=_Db(collection))  # type: ignore[arg-type]
    await _two_tenants(log)
    assert collection.attempts == 2 and len(collection.batches[0]) == 2  # both segments in one insert
    assert sorted((e["tenant_id"], e["connection_id"]) for e in _entries(collection)) == [("t1", "c1"), ("t2", "c2")]


async def test_a_retry_of_several_segments_that_fails_otherwise_fails_every_caller() -> None:
    for collection in (_LosingCollection(lose=2), _LosingCollection(lose=1, other_error=True)):
        log = AuditLog(_Db(_Collection()), append_db=_Db(collection))  # type: ignore[arg-type]
        with pytest.raises(PyMongoError):
            await _two_tenants(log)
        assert collection.attempts == 2


async def test_lone_records_of_one_millisecond_keep_their_commit_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit.wire, "time", types.SimpleNamespace(time=lambda: 1_767_000_000.0))  # a stopped clock
    collection = _Collection()
    log = AuditLog(_Db(collection))  # type: ignore[arg-type]
    for i in range(20):  # one batch each, all minted in the same millisecond
        await log.record("t1", audit.CREDENTIAL_USED, "success", connection_id=f"c{i}")
    ids = [entry["id"] for entry in _entries(collection)]
    assert len(collection.batches) == 20 and len(set(ids)) == 20
    assert ids == sorted(ids)
    assert len({audit.wire.id_millisecond(entry_id) for entry_id in ids}) == 1


def test_ids_continue_after_a_spent_millisecond() -> None:
    last = "aud_" + "0" * 11 + "1" + "f" * 10  # the last suffix of its millisecond
    [after] = audit.wire.consecutive_ids("aud", 1, after=last)
    assert after > last

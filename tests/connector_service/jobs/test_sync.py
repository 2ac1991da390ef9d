"""Sync jobs against a real PostgreSQL table: exact counts, cursor boundaries,
deletions, the records feed and tenant isolation."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pytest
from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.harness import auth
from tests.connector_service.jobs._flow import counts, read_feed, run_job
from tests.connector_service.jobs.conftest import T0, PgJobs, insert_rows, pg_execute


@pytest.fixture
def job_settings() -> dict:
    # No lookback: rows sharing the high-water mark must be found by the inclusive bound alone.
    return {"ucf_sync_page_size": 7, "ucf_sync_lookback_seconds": 0}


async def test_rows_inserted_and_updated_between_two_syncs_are_counted_exactly(pg_jobs: PgJobs) -> None:
    insert_rows(pg_jobs.schema, range(1, 101), T0)
    first = await run_job(pg_jobs)
    assert first.status == "succeeded", first.error
    assert counts(first) == {"added": 100, "updated": 0, "deleted": 0, "unchanged": 0}

    later = T0 + dt.timedelta(hours=1)
    insert_rows(pg_jobs.schema, range(101, 113), later, "new")
    pg_execute(
        f"UPDATE \"{pg_jobs.schema}\".tickets SET title = title || ' edited', updated_at = %s "
        "WHERE id IN (3, 50, 99, 100, 7)",
        [later],
    )
    second = await run_job(pg_jobs)
    assert second.status == "succeeded", second.error
    assert (second.counts.added, second.counts.updated, second.counts.deleted) == (12, 5, 0)

    third = await run_job(pg_jobs)
    assert (third.counts.added, third.counts.updated) == (0, 0)


async def test_an_empty_table_syncs_to_nothing_and_its_first_rows_arrive_next_time(pg_jobs: PgJobs) -> None:
    empty = await run_job(pg_jobs)
    assert empty.status == "succeeded", empty.error
    assert counts(empty) == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    insert_rows(pg_jobs.schema, range(1, 4), T0)
    later = await run_job(pg_jobs)
    assert later.status == "succeeded", later.error
    assert later.counts.added == 3


async def test_rows_sharing_the_cursor_value_across_page_boundaries_are_all_synced(pg_jobs: PgJobs) -> None:
    # 20 rows with one timestamp span three pages of 7; then more rows arrive with that same timestamp.
    insert_rows(pg_jobs.schema, range(1, 21), T0)
    first = await run_job(pg_jobs)
    assert first.counts.added == 20
    insert_rows(pg_jobs.schema, range(21, 30), T0, "late")
    second = await run_job(pg_jobs)
    assert second.counts.added == 9
    assert second.counts.unchanged == 20

    changes, _ = await read_feed(pg_jobs)
    assert sorted(int(c.id) for c in changes) == list(range(1, 30))


async def test_a_full_sync_detects_deletions_and_an_incremental_one_does_not(pg_jobs: PgJobs) -> None:
    insert_rows(pg_jobs.schema, range(1, 31), T0)
    await run_job(pg_jobs)
    _, cursor = await read_feed(pg_jobs)
    pg_execute(f'DELETE FROM "{pg_jobs.schema}".tickets WHERE id IN (4, 5, 30)')

    incremental = await run_job(pg_jobs)
    assert incremental.counts.deleted == 0
    full = await run_job(pg_jobs, full=True)
    assert counts(full) == {"added": 0, "updated": 0, "deleted": 3, "unchanged": 27}

    changes, _ = await read_feed(pg_jobs, cursor)
    assert sorted((c.id, c.action) for c in changes) == [("30", "deleted"), ("4", "deleted"), ("5", "deleted")]
    assert json.loads(changes[0].record_json)["title"].startswith("ticket")

    insert_rows(pg_jobs.schema, range(4, 5), T0 + dt.timedelta(hours=2), "back")
    again = await run_job(pg_jobs)
    assert again.counts.added == 1


async def test_following_the_feed_in_small_pages_reads_every_change_exactly_once(pg_jobs: PgJobs) -> None:
    insert_rows(pg_jobs.schema, range(1, 41), T0)
    await run_job(pg_jobs)
    first_half, cursor = await read_feed(pg_jobs, limit=6)
    assert [c.action for c in first_half] == ["added"] * 40

    pg_execute(
        f"UPDATE \"{pg_jobs.schema}\".tickets SET title = 'changed', updated_at = %s WHERE id <= 10",
        [T0 + dt.timedelta(minutes=5)],
    )
    await run_job(pg_jobs)
    caught_up = await pg_jobs.stack.jobs.ListRecords(
        pb.ListRecordsRequest(connection_id=pg_jobs.connection_id, stream="items", cursor=cursor, limit=3),
        metadata=pg_jobs.auth(),
    )
    second_half, end = await read_feed(pg_jobs, cursor, limit=3)
    assert len(caught_up.items) == 3
    assert sorted(int(c.id) for c in second_half) == list(range(1, 11))
    assert {c.action for c in second_half} == {"updated"}
    assert all(json.loads(c.record_json)["title"] == "changed" for c in second_half)
    assert [c.id for c in first_half] == [str(n) for n in range(1, 41)]

    nothing, same = await read_feed(pg_jobs, end)
    assert nothing == [] and same == end


async def test_a_foreign_cursor_is_refused(pg_jobs: PgJobs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await pg_jobs.stack.jobs.ListRecords(
            pb.ListRecordsRequest(
                connection_id=pg_jobs.connection_id, stream="items", cursor="eyJwIjp7Iml0ZW1zIjotMX19"
            ),
            metadata=pg_jobs.auth(),
        )
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_another_tenant_sees_neither_jobs_nor_records(pg_jobs: PgJobs) -> None:
    insert_rows(pg_jobs.schema, range(1, 4), T0)
    job = await run_job(pg_jobs)
    other = auth(await pg_jobs.stack.key("globex"))
    calls = [
        pg_jobs.stack.jobs.GetJob(pb.GetJobRequest(job_id=job.id), metadata=other),
        pg_jobs.stack.jobs.CancelJob(pb.CancelJobRequest(job_id=job.id), metadata=other),
        pg_jobs.stack.jobs.ListRecords(pb.ListRecordsRequest(connection_id=pg_jobs.connection_id), metadata=other),
        pg_jobs.stack.jobs.CreateJob(
            pb.CreateJobRequest(connector_id="postgres", connection_id=pg_jobs.connection_id, type="sync"),
            metadata=other,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    listed = await pg_jobs.stack.jobs.ListJobs(pb.ListJobsRequest(), metadata=other)
    assert list(listed.items) == []

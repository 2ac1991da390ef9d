"""Sync schedules against a real PostgreSQL table: runs start by themselves,
pause/resume/delete take effect before the next tick, a busy connection's
tick is skipped and recorded, `fullEvery` finds deletions, and deleting the
connection removes its schedule."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from ucf.connector.v1 import connections_pb2 as conn_pb
from ucf.connector.v1 import jobs_pb2 as pb
from ucf.connector.v1 import schedules_pb2 as spb
from ucf.connector.v1 import schedules_pb2_grpc

from tests.connector_service.jobs._flow import counts, wait_job
from tests.connector_service.jobs.conftest import T0, PgJobs, insert_rows, pg_execute


@pytest.fixture
def job_settings() -> dict:
    return {"ucf_schedule_min_interval_seconds": 1, "ucf_scheduler_poll_seconds": 0.1}


def stub(env: PgJobs) -> schedules_pb2_grpc.ScheduleServiceStub:
    return schedules_pb2_grpc.ScheduleServiceStub(env.stack.channel)


async def put(env: PgJobs, **fields) -> spb.Schedule:
    request = spb.PutScheduleRequest(connection_id=env.connection_id, containers=[env.table], streams=["items"])
    for name, value in fields.items():
        setattr(request, name, value)
    return (await stub(env).PutSchedule(request, metadata=env.auth())).schedule


async def jobs_of(env: PgJobs) -> list[pb.Job]:
    page = await env.stack.jobs.ListJobs(
        pb.ListJobsRequest(connection_id=env.connection_id, limit=200), metadata=env.auth()
    )
    return list(page.items)


async def until_jobs(env: PgJobs, n: int) -> list[pb.Job]:
    while len(found := await jobs_of(env)) < n:
        await asyncio.sleep(0.05)
    return found


async def test_a_schedule_starts_syncs_by_itself_and_pause_resume_delete_apply_before_the_next_tick(
    pg_jobs: PgJobs,
) -> None:
    insert_rows(pg_jobs.schema, range(1, 11), T0)
    created = await put(pg_jobs, every="2s")
    assert created.every_seconds == 2 and created.next_run_at.seconds > 0
    first = (await until_jobs(pg_jobs, 1))[0]
    assert first.scheduled and first.params.streams == ["items"]
    done = await wait_job(pg_jobs, first.id)
    assert counts(done)["added"] == 10
    got = (
        await stub(pg_jobs).GetSchedule(
            spb.GetScheduleRequest(connection_id=pg_jobs.connection_id), metadata=pg_jobs.auth()
        )
    ).schedule
    assert got.last_job_id == first.id and got.runs == 1

    paused = await put(pg_jobs, every="2s", paused=True)
    assert paused.paused
    before = len(await jobs_of(pg_jobs))
    await asyncio.sleep(4.5)  # two ticks would have come
    assert len(await jobs_of(pg_jobs)) == before

    await put(pg_jobs, every="2s", paused=False)
    await until_jobs(pg_jobs, before + 1)

    await stub(pg_jobs).DeleteSchedule(
        spb.DeleteScheduleRequest(connection_id=pg_jobs.connection_id), metadata=pg_jobs.auth()
    )
    await asyncio.sleep(0.3)
    after = len(await jobs_of(pg_jobs))
    await asyncio.sleep(4.5)
    assert len(await jobs_of(pg_jobs)) == after
    assert await pg_jobs.stack.audited(pg_jobs.connection_id, "schedule.updated") == 3
    assert await pg_jobs.stack.audited(pg_jobs.connection_id, "schedule.deleted") == 1


async def test_full_every_makes_a_run_a_full_sync_that_detects_three_deleted_rows(pg_jobs: PgJobs) -> None:
    insert_rows(pg_jobs.schema, range(1, 21), T0)
    await put(pg_jobs, every="1s", full_every="3s")
    first = await wait_job(pg_jobs, (await until_jobs(pg_jobs, 1))[0].id)
    assert first.params.full and counts(first)["added"] == 20
    pg_execute(f'DELETE FROM "{pg_jobs.schema}".tickets WHERE id IN (3, 7, 11)')
    while True:
        fulls = [j for j in await jobs_of(pg_jobs) if j.params.full and j.id != first.id]
        if fulls:
            break
        await asyncio.sleep(0.1)
    full = await wait_job(pg_jobs, fulls[0].id)
    assert counts(full) == {"added": 0, "updated": 0, "deleted": 3, "unchanged": 17}
    incrementals = [j for j in await jobs_of(pg_jobs) if not j.params.full]
    assert incrementals and all(j.counts.deleted == 0 for j in incrementals)


async def test_deleting_the_connection_removes_its_schedule(pg_jobs: PgJobs) -> None:
    await put(pg_jobs, every="1h")
    await pg_jobs.stack.connections.DeleteConnection(
        conn_pb.DeleteConnectionRequest(connection_id=pg_jobs.connection_id), metadata=pg_jobs.auth()
    )
    assert await pg_jobs.stack.db["sync_schedules"].count_documents({}) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"every": "soon"}, "every", id="not-a-duration"),
        pytest.param({"every": "0s"}, "every", id="below-minimum"),
        pytest.param({"every": "10m", "full_every": "5m"}, "fullEvery", id="full-shorter-than-every"),
        pytest.param({"every": "10m", "streams": ["everything"]}, "streams", id="unknown-stream"),
    ],
)
async def test_bad_schedules_are_refused_naming_the_field(pg_jobs: PgJobs, fields: dict, field: str) -> None:
    request = spb.PutScheduleRequest(connection_id=pg_jobs.connection_id, **fields)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub(pg_jobs).PutSchedule(request, metadata=pg_jobs.auth())
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in dict(caught.value.trailing_metadata()).get("ucf-error-details", "")


async def test_another_tenant_cannot_see_or_set_the_schedule(pg_jobs: PgJobs) -> None:
    await put(pg_jobs, every="1h")
    other = [("authorization", f"Bearer {await pg_jobs.stack.key('globex')}")]
    for call, request in (
        (stub(pg_jobs).GetSchedule, spb.GetScheduleRequest(connection_id=pg_jobs.connection_id)),
        (stub(pg_jobs).PutSchedule, spb.PutScheduleRequest(connection_id=pg_jobs.connection_id, every="1h")),
        (stub(pg_jobs).DeleteSchedule, spb.DeleteScheduleRequest(connection_id=pg_jobs.connection_id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=other)
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND

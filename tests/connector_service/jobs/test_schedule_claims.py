"""A replica that dies between claiming a tick and queuing its job loses nothing:
another replica starts that tick after the claim deadline, exactly once, with the
tick's own job id; the dead claimant coming back (or two replicas settling the
same tick) queues no second job and counts the tick once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from connector_service.connections.model import CONNECTED, Connection
from connector_service.jobs.scheduler import Scheduler
from connector_service.jobs.schedules import ScheduleStore, tick_job_id
from connector_service.jobs.store import JobStore
from connector_service.platform import wire
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

TENANT = "acme"
DEADLINE = 0.5


class Audit:
    def __init__(self) -> None:
        self.actions: list[str] = []

    async def record(self, tenant: str, action: str, *args: Any, **fields: Any) -> None:
        self.actions.append(action)


@pytest.fixture
async def db(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client[f"sch_{db_suffix}"]
    await client.drop_database(f"sch_{db_suffix}")
    await client.close()


@pytest.fixture
async def stores(db: AsyncDatabase) -> tuple[ScheduleStore, JobStore]:
    schedules, jobs = ScheduleStore(db), JobStore(db)
    await schedules.create_indexes()
    await jobs.create_indexes()
    return schedules, jobs


def replica(schedules: ScheduleStore, jobs: JobStore, audit: Audit) -> Scheduler:
    async def enqueue(tenant, connector, connection, containers, streams, full, job_id) -> dict[str, Any]:
        params = {"containers": containers, "streams": streams, "full": full}
        return await jobs.create(tenant, connector, connection, "sync", params, scheduled=True, job_id=job_id)

    return Scheduler(schedules, jobs, enqueue, audit, poll_seconds=0.1, claim_seconds=DEADLINE)  # type: ignore[arg-type]


async def a_schedule(schedules: ScheduleStore, every: int = 3600) -> dict[str, Any]:
    connection = Connection(id="con_1", tenant_id=TENANT, connector_id="postgres", workspace_id="ws", status=CONNECTED)
    doc, _ = await schedules.put(
        TENANT, connection, every_seconds=every, streams=["items"], containers=[], full_every_seconds=0, paused=False
    )
    return doc


async def crash_after_claim(schedules: ScheduleStore) -> dict[str, Any]:
    """What a replica does before it dies: it wins the claim, and never inserts the job."""
    (due,) = await schedules.due(wire.now(), 10)
    claimed = await schedules.claim(due, wire.now(), "dead-replica", timedelta(seconds=DEADLINE))
    assert claimed is not None
    return claimed


async def scheduled_jobs(db: AsyncDatabase) -> list[dict[str, Any]]:
    return await db["jobs"].find({"tenant_id": TENANT}).to_list(100)


async def test_a_tick_whose_claimant_died_before_the_insert_is_started_once_by_another_replica(
    db: AsyncDatabase, stores: tuple[ScheduleStore, JobStore]
) -> None:
    schedules, jobs = stores
    created = await a_schedule(schedules)
    claimed = await crash_after_claim(schedules)
    audit = Audit()
    survivor = replica(schedules, jobs, audit)

    await survivor.run_due()  # the claim is still within its deadline: not taken over, not claimed again
    assert await scheduled_jobs(db) == []
    # The scheduler sleeps until the claim's deadline rather than spinning on the blocked tick.
    assert await schedules.earliest() == claimed["pending_tick"]["until"]

    await asyncio.sleep(DEADLINE + 0.1)
    await survivor.run_due()
    await survivor.run_due()
    (job,) = await scheduled_jobs(db)
    assert job["_id"] == tick_job_id(created["_id"], created["anchor"]) == claimed["pending_tick"]["job_id"]
    after = await schedules.get(TENANT, "con_1")
    assert after["pending_tick"] is None
    assert (after["runs"], after["skipped"], after["last_job_id"]) == (1, 0, job["_id"])
    assert audit.actions.count("job.created") == 1

    # The dead claimant was only stalled: it inserts its job and settles late. Still one job, one run.
    stalled = replica(schedules, jobs, Audit())
    late = await stalled._enqueue(TENANT, "postgres", "con_1", [], ["items"], False, job["_id"])
    assert late["_id"] == job["_id"]
    assert not await schedules.settle_started(claimed, job["_id"])
    assert len(await scheduled_jobs(db)) == 1
    assert (await schedules.get(TENANT, "con_1"))["runs"] == 1


async def test_a_tick_whose_claimant_died_after_the_insert_is_settled_without_a_second_job(
    db: AsyncDatabase, stores: tuple[ScheduleStore, JobStore]
) -> None:
    schedules, jobs = stores
    await a_schedule(schedules)
    claimed = await crash_after_claim(schedules)
    tick = claimed["pending_tick"]
    await jobs.create(
        TENANT, "postgres", "con_1", "sync", {"streams": ["items"]}, scheduled=True, job_id=tick["job_id"]
    )

    await asyncio.sleep(DEADLINE + 0.1)
    audit = Audit()
    await replica(schedules, jobs, audit).run_due()
    (job,) = await scheduled_jobs(db)
    after = await schedules.get(TENANT, "con_1")
    # Its own queued job is not a "busy" sync that would make the tick count as skipped.
    assert (after["runs"], after["skipped"], after["last_job_id"], after["pending_tick"]) == (1, 0, job["_id"], None)


async def test_two_replicas_racing_for_expired_ticks_start_each_once(
    db: AsyncDatabase, stores: tuple[ScheduleStore, JobStore]
) -> None:
    schedules, jobs = stores
    await a_schedule(schedules)
    await crash_after_claim(schedules)
    await asyncio.sleep(DEADLINE + 0.1)
    audits = [Audit(), Audit(), Audit()]
    await asyncio.gather(*(replica(schedules, jobs, a).run_due() for a in audits))
    assert len(await scheduled_jobs(db)) == 1
    assert sum(a.actions.count("job.created") for a in audits) == 1
    after = await schedules.get(TENANT, "con_1")
    assert (after["runs"], after["skipped"], after["pending_tick"]) == (1, 0, None)


async def test_ticks_passed_over_while_a_tick_was_pending_are_counted_as_missed(
    stores: tuple[ScheduleStore, JobStore],
) -> None:
    schedules, jobs = stores
    await a_schedule(schedules, every=1)
    await crash_after_claim(schedules)
    await asyncio.sleep(2.2)  # the next ticks come while the dead replica's claim blocks them
    await replica(schedules, jobs, Audit()).run_due()  # takes the pending tick over, then claims the next
    after = await schedules.get(TENANT, "con_1")
    assert after["runs"] + after["skipped"] == 2
    assert after["missed"] >= 1

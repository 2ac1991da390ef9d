"""Cancel stops the work: a running sync over 2,000 PostgreSQL rows in pages of 50 notices the
cancel between pages and ends `canceled` within one page of work; what it wrote matches its
checkpoint, and the next sync resumes from there and ends with every row exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import start_stack
from tests.connector_service.jobs._flow import counts, read_feed, run_job, wait_job
from tests.connector_service.jobs.conftest import PgJobs, insert_rows, onboard_postgres

ROWS, PAGE, HOLD_AT = 2000, 50, 6


class GatedPostgres(PostgresConnector):
    """The real connector, holding its `HOLD_AT`th page until the test lets it go."""

    calls = 0
    reached: asyncio.Event
    proceed: asyncio.Event

    async def stream_items(self, ctx: Any, container_id: str, **kwargs: Any) -> AsyncIterator[Any]:
        async for page in super().stream_items(ctx, container_id, **kwargs):
            type(self).calls += 1
            if type(self).calls == HOLD_AT:
                self.reached.set()
                await self.proceed.wait()
            yield page


@pytest.fixture
async def gated(mongo_url: str, db_suffix: str, pg_schema: str) -> AsyncIterator[PgJobs]:
    GatedPostgres.calls = 0
    GatedPostgres.reached, GatedPostgres.proceed = asyncio.Event(), asyncio.Event()
    # A lease of 10 minutes: the heartbeat (every third of it) cannot be what notices the cancel.
    settings = {"ucf_job_poll_seconds": 0.1, "ucf_sync_page_size": PAGE, "ucf_job_lease_seconds": 600.0}
    registry = ConnectorRegistry([GatedPostgres])
    try:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, registry=registry, **settings) as stack,
        ):
            key = await stack.key()
            yield PgJobs(stack, pg_schema, key, await onboard_postgres(stack, key, pg_schema))
    finally:
        await registry.aclose()


async def test_a_running_sync_ends_canceled_within_a_page_and_the_next_one_resumes(gated: PgJobs) -> None:
    insert_rows(gated.schema, range(1, ROWS + 1))
    created = await gated.stack.jobs.CreateJob(
        pb.CreateJobRequest(
            connector_id="postgres",
            connection_id=gated.connection_id,
            type="sync",
            params=pb.JobParams(containers=[gated.table], streams=["items"]),
        ),
        metadata=gated.auth(),
    )
    await asyncio.wait_for(GatedPostgres.reached.wait(), 30)
    answer = await gated.stack.jobs.CancelJob(pb.CancelJobRequest(job_id=created.job.id), metadata=gated.auth())
    assert answer.job.status == "running"  # asked; the worker stops it at the next page boundary
    GatedPostgres.proceed.set()
    job = await asyncio.wait_for(wait_job(gated, created.job.id), 30)

    assert job.status == "canceled"
    # The held page plus at most the one read ahead: within one page of work, not all 40.
    assert GatedPostgres.calls <= HOLD_AT + 1
    written, _ = await read_feed(gated)
    assert (
        len(written) == job.counts.added == PAGE * (HOLD_AT - 1) or len(written) == job.counts.added == PAGE * HOLD_AT
    )
    assert len({r.id for r in written}) == len(written)

    resumed = await asyncio.wait_for(run_job(gated), 60)
    assert resumed.status == "succeeded"
    assert counts(resumed)["added"] == ROWS - job.counts.added
    everything, _ = await read_feed(gated)
    assert sorted(int(r.id) for r in everything) == list(range(1, ROWS + 1))

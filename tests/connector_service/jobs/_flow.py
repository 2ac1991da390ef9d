"""Helpers shared by the job tests: run a job to its end, read the whole feed."""

from __future__ import annotations

import asyncio
from typing import Any

from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.jobs.conftest import PgJobs

FINISHED = ("succeeded", "failed", "canceled")


async def wait_job(env: PgJobs, job_id: str, until: tuple[str, ...] = FINISHED) -> pb.Job:
    """Polls GetJob until the job reaches one of `until` (the test's own timeout bounds it)."""
    while True:
        job = (await env.stack.jobs.GetJob(pb.GetJobRequest(job_id=job_id), metadata=env.auth())).job
        if job.status in until:
            return job
        await asyncio.sleep(0.05)


async def run_job(
    env: PgJobs,
    job_type: str = "sync",
    *,
    full: bool = False,
    streams: tuple[str, ...] = ("items",),
    containers: tuple[str, ...] | None = None,
) -> pb.Job:
    created = await env.stack.jobs.CreateJob(
        pb.CreateJobRequest(
            connector_id="postgres",
            connection_id=env.connection_id,
            type=job_type,
            params=pb.JobParams(containers=list(containers or [env.table]), streams=list(streams), full=full),
        ),
        metadata=env.auth(),
    )
    return await wait_job(env, created.job.id)


async def read_feed(
    env: PgJobs, cursor: str = "", limit: int = 200, stream: str = "items"
) -> tuple[list[pb.Record], str]:
    """Every change after `cursor`, following `next` until a page comes back empty."""
    changes: list[pb.Record] = []
    while True:
        page = await env.stack.jobs.ListRecords(
            pb.ListRecordsRequest(connection_id=env.connection_id, stream=stream, cursor=cursor, limit=limit),
            metadata=env.auth(),
        )
        changes.extend(page.items)
        if not page.items:
            return changes, page.next
        cursor = page.next


def counts(job: pb.Job) -> dict[str, Any]:
    return {
        "added": job.counts.added,
        "updated": job.counts.updated,
        "deleted": job.counts.deleted,
        "unchanged": job.counts.unchanged,
    }

"""The scheduler every connector-service replica runs.

Each pass first takes over ticks that another replica claimed but did not
settle in time (`pending_tick.until` passed: it died or stalled between the
claim and the job insert), then reads the due schedules (any tenant,
earliest first) and tries to claim each one's tick (`ScheduleStore.claim`, a
compare-and-set on `next_run_at` that also writes the `pending_tick`): of
all replicas that read the same tick one wins, the others move on.

Starting a claimed tick is idempotent, so the claimant and a replica that
took the tick over may both try it: the tick's job has a deterministic id
(`tick_job_id`); if it exists the tick was started; else, if a sync or
import of the same connection and stream is still queued or running, the
tick is skipped (counted as `skipped`, `lastSkippedAt`, audited); else the
job is inserted (a duplicate key answers the existing job). Settling the
tick matches the pending tick and its current claimant, so it is counted
once. A crash therefore neither loses nor doubles a tick; the one case left
is a claimant stalled past the deadline *between* its busy check and its
insert while the replica that took over decided to skip (then both a job
and a skip exist) — the same assumption every lease here makes. A schedule
whose connection is gone or revoked is deleted.

Between passes the loop sleeps until the earliest `next_run_at` it knows,
at most `poll_seconds` (schedules written by other replicas are seen within
that).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.jobs.schedules import ScheduleStore
from connector_service.jobs.store import JobStore
from connector_service.platform import wire
from connector_service.platform.loops import Loop

log = logging.getLogger("connector_service.scheduler")

#: Schedules handled per pass; more due ones are taken by the next pass at once.
_BATCH = 200
ACTOR = "scheduler"

#: (tenant, connector, connection, containers, streams, full, job id) -> the queued job (JobServicer.enqueue;
#: the same job id twice answers the existing job).
Enqueue = Callable[[str, str, str, list[str], list[str], bool, str], Awaitable[dict[str, Any]]]


class Scheduler:
    def __init__(
        self,
        schedules: ScheduleStore,
        jobs: JobStore,
        enqueue: Enqueue,
        audit_log: AuditLog,
        *,
        poll_seconds: float,
        claim_seconds: float = 30.0,
    ):
        self._schedules, self._jobs, self._enqueue, self._audit = schedules, jobs, enqueue, audit_log
        self._poll = poll_seconds
        self._deadline = timedelta(seconds=claim_seconds)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._loop = Loop("scheduler", self._pass, retry_seconds=poll_seconds, log=log, graceful=True)

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """A schedule written by this process may be due sooner than the loop's sleep."""
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> float:
        if await self.run_due() >= _BATCH:
            return 0.0
        return await self._sleep_seconds()

    async def _sleep_seconds(self) -> float:
        earliest = await self._schedules.earliest()
        if earliest is None:
            return self._poll
        return min(self._poll, max(0.0, (earliest - wire.now()).total_seconds()))

    async def run_due(self) -> int:
        """One pass: expired pending ticks, then the due schedules; answers how many were read."""
        now = wire.now()
        stale = await self._schedules.expired_ticks(now, _BATCH)
        for schedule in stale:
            taken = await self._schedules.take_over(schedule, now, self.owner, self._deadline)
            if taken is not None:
                log.info(
                    "taking over a tick its claimant did not settle",
                    extra=log_fields(connection_id=taken["connection_id"], schedule_id=taken["_id"]),
                )
                await self._settle(taken)
        due = await self._schedules.due(now, _BATCH)
        for schedule in due:
            claimed = await self._schedules.claim(schedule, now, self.owner, self._deadline)
            if claimed is not None:
                metrics.schedule_late(schedule.get("next_run_at"), now)
                await self._settle(claimed)
        return len(stale) + len(due)

    async def _settle(self, schedule: dict[str, Any]) -> None:
        """Starts or skips the schedule's pending tick; a failure leaves it pending, for any replica
        to take over after the deadline."""
        try:
            await self._start(schedule)
        except Exception:
            log.warning(
                "scheduled tick not settled; another pass takes it over after the deadline",
                exc_info=True,
                extra=log_fields(connection_id=schedule["connection_id"], schedule_id=schedule["_id"]),
            )

    async def _start(self, schedule: dict[str, Any]) -> None:
        tenant, cid = schedule["tenant_id"], schedule["connection_id"]
        tick = schedule["pending_tick"]
        job_id, full = tick["job_id"], bool(tick.get("full"))
        fields = log_fields(connection_id=cid, schedule_id=schedule["_id"], job_id=job_id)
        if await self._jobs.exists(tenant, job_id):
            # The claimant inserted the job and died before settling.
            await self._schedules.settle_started(schedule, job_id)
            return
        busy = await self._jobs.active_sync(tenant, cid, schedule["streams"], other_than=job_id)
        if busy is not None:
            if await self._schedules.settle_skipped(schedule, wire.now()):
                await self._audit.record(
                    tenant,
                    audit.SCHEDULE_SKIPPED,
                    audit.SUCCESS,
                    connection_id=cid,
                    connector_id=schedule["connector_id"],
                    actor=ACTOR,
                    busy_job_id=busy["_id"],
                )
                log.info("scheduled sync skipped: a sync is still %s", busy["status"], extra=fields)
            return
        try:
            job = await self._enqueue(
                tenant, schedule["connector_id"], cid, schedule["containers"], schedule["streams"], full, job_id
            )
        except UcfError as err:
            if err.code is ErrorCode.NOT_FOUND:
                await self._schedules.delete(tenant, cid)
                log.info("schedule of a deleted connection removed", extra=fields)
                return
            await self._schedules.settle_skipped(schedule, wire.now())
            log.warning("scheduled sync not queued: %s", err.code.wire, extra=fields)
            return
        if await self._schedules.settle_started(schedule, job["_id"]):
            await self._audit.record(
                tenant,
                audit.JOB_CREATED,
                audit.SUCCESS,
                connection_id=cid,
                connector_id=job["connector_id"],
                actor=ACTOR,
                job_id=job["_id"],
                type=job["type"],
                scheduled=True,
                full=full,
            )

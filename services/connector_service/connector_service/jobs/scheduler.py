"""The scheduler every connector-service replica runs.

Each pass reads the due schedules (any tenant, earliest first) and tries to
claim each one's tick (`ScheduleStore.claim`, a compare-and-set on
`next_run_at`): of all replicas that read the same tick one wins, the others
move on. The winner queues a sync job unless a sync or import of the same
connection and stream is still queued or running; then the tick is skipped,
counted on the schedule (`skipped`, `lastSkippedAt`) and audited. A schedule
whose connection is gone or revoked is deleted.

Between passes the loop sleeps until the earliest `next_run_at` it knows,
at most `poll_seconds` (schedules written by other replicas are seen within
that). A replica that dies between a claim and the job insert loses that one
tick; the next tick runs as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.jobs.schedules import ScheduleStore
from connector_service.jobs.store import JobStore
from connector_service.platform import wire

log = logging.getLogger("connector_service.scheduler")

#: Schedules handled per pass; more due ones are taken by the next pass at once.
_BATCH = 200
ACTOR = "scheduler"

#: (tenant, connector, connection, containers, streams, full) -> the queued job (JobServicer.enqueue).
Enqueue = Callable[[str, str, str, list[str], list[str], bool], Awaitable[dict[str, Any]]]


class Scheduler:
    def __init__(
        self,
        schedules: ScheduleStore,
        jobs: JobStore,
        enqueue: Enqueue,
        audit_log: AuditLog,
        *,
        poll_seconds: float,
    ):
        self._schedules, self._jobs, self._enqueue, self._audit = schedules, jobs, enqueue, audit_log
        self._poll = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """A schedule written by this process may be due sooner than the loop's sleep."""
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                handled = await self.run_due()
                if handled >= _BATCH:
                    continue
                sleep = await self._sleep_seconds()
            except Exception:
                log.warning("scheduler pass failed; retrying", exc_info=True)
                sleep = self._poll
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sleep)

    async def _sleep_seconds(self) -> float:
        earliest = await self._schedules.earliest()
        if earliest is None:
            return self._poll
        return min(self._poll, max(0.0, (earliest - wire.now()).total_seconds()))

    async def run_due(self) -> int:
        """One pass over the due schedules; answers how many were read."""
        now = wire.now()
        due = await self._schedules.due(now, _BATCH)
        for schedule in due:
            claimed = await self._schedules.claim(schedule, now, self.owner)
            if claimed is not None:
                metrics.schedule_late(schedule.get("next_run_at"), now)
                await self._start(claimed)
        return len(due)

    async def _start(self, schedule: dict[str, Any]) -> None:
        tenant, cid = schedule["tenant_id"], schedule["connection_id"]
        fields = log_fields(connection_id=cid, schedule_id=schedule["_id"])
        busy = await self._jobs.active_sync(tenant, cid, schedule["streams"])
        if busy is not None:
            await self._schedules.skipped(schedule, wire.now())
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
                tenant,
                schedule["connector_id"],
                cid,
                schedule["containers"],
                schedule["streams"],
                schedule["full_run"],
            )
        except UcfError as err:
            if err.code is ErrorCode.NOT_FOUND:
                await self._schedules.delete(tenant, cid)
                log.info("schedule of a deleted connection removed", extra=fields)
                return
            log.warning("scheduled sync not queued: %s", err.code.wire, extra=fields)
            return
        await self._schedules.started(schedule, job["_id"])
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
            full=schedule["full_run"],
        )
